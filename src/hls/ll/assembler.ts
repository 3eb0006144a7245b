// Groups one rendition's fMP4 fragments (ffmpeg flushes one per part target, and at keyframes) into LL-HLS partial
// segments and whole segments. Cuts only by the video track's decode times: a part ends before a fragment that
// would make it longer than the part target, a segment ends at the first keyframe once it reached its target.
// Pure: fragments in, closed parts and segments out; no clock, no I/O.

import { parseMoof } from '../../media/fmp4.js';

/** The part target for a frame rate: partSeconds rounded to whole frames (so every part is the same length). Pure. */
export function partTargetFor(partSeconds: number, fps: number): number {
  const f = fps > 0 ? fps : 30;
  return Math.round((Math.max(1, Math.round(partSeconds * f)) / f) * 100000) / 100000;
}

export interface ClosedPart {
  msn: number;
  index: number;
  /** Media time of the part's first video frame (seconds). */
  start: number;
  /** Seconds of video in the part. */
  duration: number;
  /** Starts with a video keyframe: a player may start decoding here. */
  independent: boolean;
  bytes: Buffer;
}

export interface ClosedSegment {
  msn: number;
  duration: number;
  /** Media time of the segment's first video frame, seconds since the stream's time zero. */
  start: number;
  parts: number;
}

export type AssemblerEvent = { kind: 'part'; part: ClosedPart } | { kind: 'segment'; segment: ClosedSegment };

export interface AssemblerOptions {
  /** The track whose frames decide the cuts, and its timescale. */
  timingTrack: number;
  timescale: number;
  /** Seconds; a part is never longer than this (frames permitting). */
  partTarget: number;
  /** Seconds; segments end at the first keyframe at or after this. */
  segmentTarget: number;
  /** Segments are forced to end by this length even without a keyframe (a source that stopped sending them). */
  maxSegment: number;
  /** The first segment's media sequence number. */
  firstMsn: number;
}

interface OpenPart {
  chunks: Buffer[];
  start?: number;
  independent: boolean;
}

export class PartAssembler {
  private msn: number;
  private segStart?: number;
  private partsInSeg = 0;
  private part: OpenPart = { chunks: [], independent: false };
  /** Duration of the last video frame seen (seconds), for "would the next frame overshoot". */
  private frame = 1 / 30;
  private lastEnd?: number;

  constructor(private readonly o: AssemblerOptions) {
    this.msn = o.firstMsn;
  }

  /** The sequence number of the segment being built. */
  get currentMsn(): number {
    return this.msn;
  }

  /** Adds one fragment (its moof and mdat); returns what it closed. */
  push(moof: Buffer, mdat: Buffer): AssemblerEvent[] {
    const out: AssemblerEvent[] = [];
    const run = parseMoof(moof).find((r) => r.trackId === this.o.timingTrack);
    if (run) {
      const t = run.baseTime / this.o.timescale;
      if (run.samples > 0 && run.duration > 0) this.frame = run.duration / run.samples / this.o.timescale;
      this.lastEnd = t + run.duration / this.o.timescale;
      const half = this.frame / 2;
      if (this.segStart === undefined) {
        this.segStart = t;
      } else if (this.part.start !== undefined) {
        const inSeg = t - this.segStart;
        const withThis = t + run.duration / this.o.timescale - this.part.start;
        if ((run.startsWithSync && inSeg >= this.o.segmentTarget - half) || inSeg >= this.o.maxSegment - half) {
          this.closePart(t, out);
          this.closeSegment(t, out);
          this.segStart = t;
        } else if (withThis > this.o.partTarget + half / 2) {
          this.closePart(t, out);
        }
      }
      if (this.part.start === undefined) {
        this.part.start = t;
        this.part.independent = run.startsWithSync;
      }
    }
    this.part.chunks.push(moof, mdat);
    return out;
  }

  /** The stream ended (or ffmpeg exited): closes the open part and segment with what they hold. */
  flush(): AssemblerEvent[] {
    const out: AssemblerEvent[] = [];
    if (this.part.start === undefined || this.lastEnd === undefined || this.segStart === undefined) return out;
    this.closePart(this.lastEnd, out);
    this.closeSegment(this.lastEnd, out);
    this.segStart = undefined;
    return out;
  }

  private closePart(end: number, out: AssemblerEvent[]): void {
    const p = this.part;
    if (p.start === undefined) return;
    out.push({
      kind: 'part',
      part: { msn: this.msn, index: this.partsInSeg, start: p.start, duration: Math.max(0, end - p.start), independent: p.independent, bytes: Buffer.concat(p.chunks) },
    });
    this.partsInSeg += 1;
    this.part = { chunks: [], independent: false };
  }

  private closeSegment(end: number, out: AssemblerEvent[]): void {
    const start = this.segStart!;
    out.push({ kind: 'segment', segment: { msn: this.msn, duration: Math.max(0, end - start), start, parts: this.partsInSeg } });
    this.msn += 1;
    this.partsInSeg = 0;
  }
}
