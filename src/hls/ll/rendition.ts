// One LL-HLS rendition held in memory: its init segments, the recent segments and their parts, the segment
// being written, and the requests waiting for a part that does not exist yet. A blocking playlist request or a
// preload-hinted part waits on a position (msn, part); every waiter of the same position is released by the
// same wake-up, so a thousand held requests cost one check per new part, not a thousand.

import type { ClosedPart, ClosedSegment } from './assembler.js';
import { livePlaylist, type PartView, type RenditionReport, type SegmentView } from './playlist.js';

export interface StoredPart extends PartView {
  bytes: Buffer;
}

export interface StoredSegment extends Omit<SegmentView, 'parts'> {
  parts: StoredPart[];
  bytes: Buffer;
  /** Media time of its first video frame (seconds, the fMP4's decode time): what a caption segment maps to. */
  start: number;
}

interface OpenSegment {
  msn: number;
  programDateTime: number;
  discontinuity: boolean;
  mapUri: string;
  parts: StoredPart[];
}

export interface RenditionOptions {
  name: string;
  /** Unique per class (the session id): URIs never repeat, so parts and segments may be cached for a year. */
  prefix: string;
  partTarget: number;
  segmentTarget: number;
  /** Segments listed in the playlist. */
  window: number;
}

/** What a blocking request for (msn, part) gets now. */
export type Readiness = 'ready' | 'wait' | 'too-far';

/** A request for a part: its bytes, a wait (it is the next one), or nothing. */
export type PartLookup = { kind: 'bytes'; bytes: Buffer } | { kind: 'wait' } | { kind: 'none' };

interface WaitGroup {
  msn: number;
  part: number | undefined;
  release: Set<() => void>;
}

/** Segments that keep their parts (listed and served): RFC 8216bis drops parts older than 3 target durations. */
const PART_SEGMENTS = 3;

export class LlRendition {
  readonly targetDuration: number;
  private readonly segments: StoredSegment[] = [];
  private open?: OpenSegment;
  private readonly inits = new Map<string, Buffer>();
  private mapUri = '';
  private nextDiscontinuity = false;
  /** Discontinuities that scrolled out of the window. */
  private discontinuitySeq = 0;
  private ended = false;
  private readonly waits = new Map<string, WaitGroup>();
  private rendered?: { key: string; text: string };
  /** The msn the next segment will have (one past the last finished one). */
  private nextMsn = 0;

  constructor(readonly o: RenditionOptions) {
    this.targetDuration = Math.max(1, Math.round(o.segmentTarget));
  }

  get name(): string {
    return this.o.name;
  }

  /** Sequence number of the last finished segment (-1 before the first). */
  get lastMsn(): number {
    return this.nextMsn - 1;
  }

  get waiting(): number {
    let n = 0;
    for (const g of this.waits.values()) n += g.release.size;
    return n;
  }

  /** A new init segment (each ffmpeg run writes one); the next segment uses it, after a discontinuity if not the first. */
  setInit(epoch: number, bytes: Buffer): void {
    const uri = `${this.o.prefix}_init${epoch}.mp4`;
    this.inits.set(uri, bytes);
    while (this.inits.size > 4) this.inits.delete(this.inits.keys().next().value!);
    if (this.mapUri !== '') this.nextDiscontinuity = true;
    this.mapUri = uri;
  }

  init(uri: string): Buffer | undefined {
    return this.inits.get(uri);
  }

  get initUri(): string {
    return this.mapUri;
  }

  partUri(msn: number, index: number): string {
    return `${this.o.prefix}_${msn}.${index}.m4s`;
  }

  segmentUri(msn: number): string {
    return `${this.o.prefix}_${msn}.m4s`;
  }

  addPart(p: ClosedPart, programDateTime: number): void {
    if (!this.open || this.open.msn !== p.msn) {
      this.open = { msn: p.msn, programDateTime, discontinuity: this.nextDiscontinuity, mapUri: this.mapUri, parts: [] };
      this.nextDiscontinuity = false;
    }
    this.open.parts.push({ index: p.index, duration: p.duration, independent: p.independent, uri: this.partUri(p.msn, p.index), bytes: p.bytes });
    this.changed();
  }

  /** Moves every program date held by `ms` (the stream's clock anchor was corrected before the class went live). */
  shiftProgramDates(ms: number): void {
    for (const seg of this.segments) seg.programDateTime += ms;
    if (this.open) this.open.programDateTime += ms;
    this.rendered = undefined;
  }

  /** Closes the open segment; returns it (the caller writes it to disk). */
  addSegment(s: ClosedSegment): StoredSegment | undefined {
    const open = this.open;
    if (!open || open.msn !== s.msn) return undefined;
    const seg: StoredSegment = {
      msn: s.msn, duration: s.duration, uri: this.segmentUri(s.msn), programDateTime: open.programDateTime,
      discontinuity: open.discontinuity, mapUri: open.mapUri, parts: open.parts, bytes: Buffer.concat(open.parts.map((p) => p.bytes)), start: s.start,
    };
    this.segments.push(seg);
    this.open = undefined;
    this.nextMsn = s.msn + 1;
    // Keep two segments beyond the window for players a little behind; parts only for the recent ones.
    while (this.segments.length > this.o.window + 2) {
      const gone = this.segments.shift()!;
      if (gone.discontinuity) this.discontinuitySeq += 1;
    }
    for (let i = 0; i < this.segments.length - PART_SEGMENTS - 1; i += 1) this.segments[i]!.parts = [];
    this.changed();
    return seg;
  }

  /** No more media: the playlist gets EXT-X-ENDLIST and every waiter is answered. */
  end(): void {
    this.ended = true;
    this.changed();
  }

  /** The complete segments held (the window and two more), oldest first, and the discontinuities before them. */
  timeline(): { segments: readonly Omit<StoredSegment, 'parts' | 'bytes'>[]; discontinuitySequence: number; targetDuration: number } {
    return { segments: this.segments, discontinuitySequence: this.discontinuitySeq, targetDuration: this.targetDuration };
  }

  /** The last part in the playlist (for other renditions' EXT-X-RENDITION-REPORT). */
  lastPart(): { msn: number; part: number } | undefined {
    if (this.open && this.open.parts.length > 0) return { msn: this.open.msn, part: this.open.parts.length - 1 };
    const last = this.segments[this.segments.length - 1];
    return last ? { msn: last.msn, part: Math.max(0, last.parts.length - 1) } : undefined;
  }

  /** The playlist text; `key` changes whenever anything it shows changed (this rendition or a sibling). */
  playlist(key: string, reports: () => RenditionReport[]): string {
    if (this.rendered?.key === key) return this.rendered.text;
    const listed = this.segments.slice(-this.o.window);
    const dropped = this.segments.length - listed.length;
    const discontinuitySequence = this.discontinuitySeq + this.segments.slice(0, dropped).filter((s) => s.discontinuity).length;
    const withParts = listed.length - PART_SEGMENTS;
    const text = livePlaylist({
      targetDuration: this.targetDuration,
      partTarget: this.o.partTarget,
      discontinuitySequence,
      segments: listed.map((s, i) => ({ ...s, parts: i >= withParts ? s.parts : undefined })),
      open: this.open,
      preloadHint: this.hintUri(),
      reports: reports(),
      ended: this.ended,
    });
    this.rendered = { key, text };
    return text;
  }

  /** Where a blocking playlist request for (msn, part) stands (RFC 8216bis 6.2.5.2). */
  readiness(msn: number, part: number | undefined): Readiness {
    if (this.ended || msn <= this.lastMsn) return 'ready';
    const openParts = this.open?.msn === msn ? this.open.parts.length : 0;
    if (part !== undefined && msn === this.nextMsn && part < openParts) return 'ready';
    // "The last Media Segment in the Playlist": the one being written counts once it has a part.
    const last = this.open && this.open.parts.length > 0 ? this.open.msn : this.lastMsn;
    if (msn > last + 2) return 'too-far';
    // The Advance Part Limit: 3 / part target (parts under a second), else 3.
    const limit = this.o.partTarget < 1 ? Math.floor(3 / this.o.partTarget) : 3;
    const have = this.open?.parts.length ?? 0;
    const ahead = part === undefined ? 0 : msn === this.nextMsn ? part - have + 1 : part + 1 + Math.max(0, this.expectedParts() - have);
    return ahead > limit ? 'too-far' : 'wait';
  }

  /** A part's bytes; a wait when it is the hinted next part (or just beyond it); nothing otherwise. */
  lookupPart(msn: number, index: number): PartLookup {
    const open = this.open?.msn === msn ? this.open : undefined;
    const stored = open?.parts[index] ?? this.segments.find((s) => s.msn === msn)?.parts[index];
    if (stored) return { kind: 'bytes', bytes: stored.bytes };
    if (this.ended || msn <= this.lastMsn) return { kind: 'none' };
    const have = open?.parts.length ?? 0;
    if ((msn === this.nextMsn && index === have) || (msn === this.nextMsn + 1 && index === 0)) return { kind: 'wait' };
    return { kind: 'none' };
  }

  segment(msn: number): Buffer | undefined {
    return this.segments.find((s) => s.msn === msn)?.bytes;
  }

  /**
   * Resolves when `ready()` holds or the rendition changed in a way that can make it hold: callers re-check.
   * Waiters of one position share one entry; `signal` removes the waiter when the client goes away.
   */
  waitFor(msn: number, part: number | undefined, timeoutMs: number, signal?: AbortSignal): Promise<'changed' | 'timeout' | 'aborted'> {
    return new Promise((resolve) => {
      const key = `${msn}:${part ?? ''}`;
      let group = this.waits.get(key);
      if (!group) {
        group = { msn, part, release: new Set() };
        this.waits.set(key, group);
      }
      const g = group;
      const done = (how: 'changed' | 'timeout' | 'aborted'): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        g.release.delete(release);
        if (g.release.size === 0 && this.waits.get(key) === g) this.waits.delete(key);
        resolve(how);
      };
      const release = (): void => done('changed');
      const onAbort = (): void => done('aborted');
      const timer = setTimeout(() => done('timeout'), timeoutMs);
      g.release.add(release);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Segments a segment usually has (for the advance limit of a request one segment ahead). */
  private expectedParts(): number {
    return Math.max(1, Math.round(this.o.segmentTarget / this.o.partTarget));
  }

  private hintUri(): string | undefined {
    if (this.ended) return undefined;
    if (this.open) {
      // A segment that already holds its target duration ends at the next keyframe: the next part starts the next one.
      const held = this.open.parts.reduce((s, p) => s + p.duration, 0);
      if (held >= this.o.segmentTarget - 0.01) return this.partUri(this.open.msn + 1, 0);
      return this.partUri(this.open.msn, this.open.parts.length);
    }
    return this.mapUri ? this.partUri(this.nextMsn, 0) : undefined;
  }

  /** Something new: release every waiting position that may now be served (one pass over positions, not waiters). */
  private changed(): void {
    for (const [key, g] of this.waits) {
      const partReady = g.part !== undefined && this.lookupPart(g.msn, g.part).kind !== 'wait';
      if (this.readiness(g.msn, g.part) === 'ready' || partReady) {
        this.waits.delete(key);
        for (const release of [...g.release]) release();
      }
    }
  }
}
