// One `ultra` class's Low-Latency HLS output: reads each rung's fragmented MP4 from ffmpeg, cuts it into parts
// and segments, keeps the recent ones in memory for the origin, and writes init and segments to the class's
// folder (with an append-only playlist when the class is recorded, a sliding set of files otherwise). Lives as
// long as the class: an ffmpeg restart or a new publisher continues the same playlists after a discontinuity.

import { appendFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { RUNG_PLAYLIST } from '../../domain/media-layout.js';
import type { Logger } from '../../log.js';
import { BoxSplitter, parseInit, type TrackInfo } from '../../media/fmp4.js';
import { PartAssembler, type AssemblerEvent } from './assembler.js';
import { RECORDING_END, recordingEntry, recordingHead } from './playlist.js';
import { LlRendition } from './rendition.js';

export interface LlStreamOptions {
  /** The class's folder (one subfolder per rung). */
  dir: string;
  prefix: string;
  rungs: string[];
  partSeconds: number;
  segmentSeconds: number;
  record: boolean;
  window: number;
  log: Logger;
  /** A write to the media folder failed (a full disk): told once per failure. */
  onWriteError?(err: unknown): void;
  now?(): number;
}

/** What the master playlist needs of a rung once its first segment exists. */
export interface RungReady {
  name: string;
  tracks: TrackInfo[];
  firstSegmentBytes: number;
  firstSegmentSeconds: number;
}

interface RungIo {
  rendition: LlRendition;
  tracks?: TrackInfo[];
  assembler?: PartAssembler;
  /** Disk writes of this rung, in order. */
  writes: Promise<void>;
  recordedMap?: string;
  recordedAny: boolean;
  onDisk: string[];
  first?: RungReady;
  /** Complete segments stored so far. */
  segments: number;
}

/**
 * Complete segments every rung has before the master playlist appears. RFC 8216 §6.3.3: a client should not
 * start less than three target durations from the end of a playlist, so a shorter one is no place to start; and
 * Shaka Player 5.2 fails to load an LL-HLS playlist whose only segments are one or two complete ones and the open
 * one with parts (docs/upstream/shaka-player.md). About 3 s at the start of an `ultra` class.
 */
export const MASTER_AFTER_SEGMENTS = 3;

export class LlStream {
  private readonly rungs: RungIo[];
  private epoch = -1;
  private version = 0;
  /** Wall-clock ms of the newest complete segment (any rung), for /metrics. */
  lastSegmentAt?: number;
  /** Wall-clock ms at media time zero of the current epoch. */
  private anchor?: number;
  /** The anchor stops moving once every rendition has the segments the master playlist waits for
   * (MASTER_AFTER_SEGMENTS: no player has read a program date before); until then it follows the part that arrived
   * soonest after its media time. */
  private settled = false;
  private readyWaiters: (() => void)[] = [];
  private finished = false;
  private readonly now: () => number;

  constructor(private readonly o: LlStreamOptions) {
    this.now = o.now ?? Date.now;
    this.rungs = o.rungs.map((name) => ({
      rendition: new LlRendition({ name, prefix: o.prefix, partTarget: o.partSeconds, segmentTarget: o.segmentSeconds, window: o.window }),
      writes: mkdir(join(o.dir, name), { recursive: true }).then(() => undefined),
      recordedAny: false, segments: 0,
      onDisk: [],
    }));
  }

  get partTarget(): number {
    return this.o.partSeconds;
  }

  /** Requests held for this class's parts and playlists, all rungs. */
  get waiting(): number {
    return this.rungs.reduce((n, r) => n + r.rendition.waiting, 0);
  }

  rendition(name: string): LlRendition | undefined {
    return this.rungs.find((r) => r.rendition.name === name)?.rendition;
  }

  /** A cache key for rendered playlists: changes when any rung changes (rendition reports follow siblings). */
  get key(): string {
    return String(this.version);
  }

  /** EXT-X-RENDITION-REPORT lines for every rung but `name`. */
  reports(name: string): { uri: string; lastMsn: number; lastPart: number }[] {
    return this.rungs.filter((r) => r.rendition.name !== name).flatMap((r) => {
      const last = r.rendition.lastPart();
      return last ? [{ uri: `../${r.rendition.name}/${RUNG_PLAYLIST}`, lastMsn: last.msn, lastPart: last.part }] : [];
    });
  }

  /** Connects one ffmpeg run's outputs (one readable per rung, in rung order). */
  attach(outputs: readonly Readable[]): void {
    this.epoch += 1;
    this.anchor = undefined;
    this.settled = false;
    const epoch = this.epoch;
    outputs.forEach((out, i) => {
      const io = this.rungs[i];
      if (!io) return;
      const splitter = new BoxSplitter();
      let init: Buffer[] = [];
      let moof: Buffer | undefined;
      let assembler: PartAssembler | undefined;
      // This run's output ended (ffmpeg exited or was stopped): its open part and segment close with what they hold.
      const closeRun = (): void => {
        if (assembler && !this.finished) this.apply(io, assembler.flush());
        if (io.assembler === assembler) io.assembler = undefined;
        assembler = undefined;
      };
      out.on('data', (chunk: Buffer) => {
        if (this.finished) return;
        let boxes;
        try {
          boxes = splitter.push(chunk);
        } catch (err) {
          this.o.log.error('unreadable LL-HLS output from ffmpeg', { rung: io.rendition.name, err });
          out.destroy();
          return;
        }
        for (const box of boxes) {
          if (box.type === 'ftyp') init = [box.bytes];
          else if (box.type === 'moov') {
            const bytes = Buffer.concat([...init, box.bytes]);
            assembler = this.startRun(io, bytes, epoch);
          } else if (box.type === 'moof') moof = box.bytes;
          else if (box.type === 'mdat' && moof && assembler) {
            this.apply(io, assembler.push(moof, box.bytes));
            moof = undefined;
          }
        }
      });
      out.once('end', closeRun);
      out.once('error', closeRun);
    });
  }

  /**
   * Resolves with every rung's first segment (for the master playlist) once every rung has `minSegments` complete
   * segments (or at the end of the class, once every rung has one); undefined if the class ends before that.
   */
  ready(minSegments = 1): Promise<RungReady[] | undefined> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        if (this.rungs.every((r) => r.first && r.segments >= minSegments)) {
          resolve(this.rungs.map((r) => r.first!));
          return true;
        }
        if (this.finished) {
          // A class shorter than minSegments still gets its master (the replay needs it), if every rung has a segment.
          resolve(this.rungs.every((r) => r.first) ? this.rungs.map((r) => r.first!) : undefined);
          return true;
        }
        return false;
      };
      const wait = (): void => {
        if (!check()) this.readyWaiters.push(wait);
      };
      wait();
    });
  }

  /** The class ended: closes what is open, ends the playlists, and waits for the disk. */
  async finish(): Promise<void> {
    if (this.finished) return;
    for (const io of this.rungs) {
      if (io.assembler) this.apply(io, io.assembler.flush());
      io.assembler = undefined;
    }
    this.finished = true;
    for (const io of this.rungs) {
      io.rendition.end();
      if (this.o.record && io.recordedAny) this.queue(io, () => appendFile(join(this.o.dir, io.rendition.name, RUNG_PLAYLIST), RECORDING_END));
    }
    this.version += 1;
    for (const w of this.readyWaiters.splice(0)) w();
    await Promise.all(this.rungs.map((r) => r.writes));
  }

  private startRun(io: RungIo, init: Buffer, epoch: number): PartAssembler | undefined {
    let tracks: TrackInfo[];
    try {
      tracks = parseInit(init);
    } catch (err) {
      this.o.log.error('unreadable LL-HLS init segment from ffmpeg', { rung: io.rendition.name, err });
      return undefined;
    }
    const timing = tracks.find((t) => t.kind === 'video') ?? tracks[0];
    if (!timing) return undefined;
    // A run that starts while the previous one still had a segment open: close that one first.
    if (io.assembler) this.apply(io, io.assembler.flush());
    io.tracks = tracks;
    io.rendition.setInit(epoch, init);
    const uri = io.rendition.initUri;
    this.queue(io, () => writeFile(join(this.o.dir, io.rendition.name, uri), init));
    io.assembler = new PartAssembler({
      timingTrack: timing.id, timescale: timing.timescale, partTarget: this.o.partSeconds, segmentTarget: this.o.segmentSeconds,
      maxSegment: Math.max(1, Math.round(this.o.segmentSeconds)) + 0.5, firstMsn: io.rendition.lastMsn + 1,
    });
    return io.assembler;
  }

  private apply(io: RungIo, events: AssemblerEvent[]): void {
    for (const e of events) {
      if (e.kind === 'part') {
        const now = this.now();
        // Media time zero in wall-clock: the first part's arrival less its media end, lowered while the class starts
        // by any part that arrived sooner (a busy box delays the first parts, then catches up: an anchor from the
        // first alone would date the media later than it was made, and a player would seem ahead of real time).
        const candidate = now - (e.part.start + e.part.duration) * 1000;
        if (this.anchor === undefined) this.anchor = candidate;
        else if (!this.settled && candidate < this.anchor) {
          const shift = candidate - this.anchor;
          this.anchor = candidate;
          for (const r of this.rungs) r.rendition.shiftProgramDates(shift);
        }
        io.rendition.addPart(e.part, this.anchor + e.part.start * 1000);
      } else {
        const seg = io.rendition.addSegment(e.segment);
        if (seg) this.store(io, seg);
        if (seg) this.lastSegmentAt = this.now();
      }
      this.version += 1;
    }
  }

  private store(io: RungIo, seg: { msn: number; uri: string; bytes: Buffer; duration: number; programDateTime: number; discontinuity: boolean; mapUri: string }): void {
    const dir = join(this.o.dir, io.rendition.name);
    io.segments += 1;
    if (!this.settled && this.rungs.every((r) => r.segments >= MASTER_AFTER_SEGMENTS)) this.settled = true;
    if (!io.first && io.tracks) io.first = { name: io.rendition.name, tracks: io.tracks, firstSegmentBytes: seg.bytes.length, firstSegmentSeconds: seg.duration };
    for (const w of this.readyWaiters.splice(0)) w();
    this.queue(io, () => writeFile(join(dir, seg.uri), seg.bytes));
    if (this.o.record) {
      const head = io.recordedAny ? '' : recordingHead(io.rendition.targetDuration);
      const entry = recordingEntry(seg, io.recordedMap, !io.recordedAny);
      io.recordedMap = seg.mapUri;
      io.recordedAny = true;
      this.queue(io, () => appendFile(join(dir, RUNG_PLAYLIST), head + entry));
    } else {
      // A sliding window on disk: the files the playlist no longer lists (with a margin) go.
      io.onDisk.push(seg.uri);
      while (io.onDisk.length > this.o.window + 4) {
        const old = io.onDisk.shift()!;
        this.queue(io, () => rm(join(dir, old), { force: true }));
      }
    }
  }

  private queue(io: RungIo, write: () => Promise<unknown>): void {
    io.writes = io.writes.then(write).then(() => undefined, (err: unknown) => {
      this.o.log.error('could not write LL-HLS media', { rung: io.rendition.name, err });
      this.o.onWriteError?.(err);
    });
  }
}
