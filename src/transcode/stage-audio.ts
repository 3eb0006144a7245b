// The stage's voices into the ladder: a second ffmpeg input (raw 48 kHz mono PCM on its own pipe) that the ladder
// mixes with the class's sound. Its clock is the class's own: every time the class's media advances (a unit handed
// to the ladder), the mix is written up to that point plus LEAD_MS. ffmpeg starts every input at zero, so the two
// stay in step whatever the source's timestamps, and the ladder never waits for the stage: nobody on stage is
// silence, written all the same. A member's voice is mixed with the class's media that arrived at the same moment.

import type { Writable } from 'node:stream';
import { isEssential, type MediaSink, type MediaUnit } from '../media/sink.js';
import { MIX_RATE } from '../media/pcm-mix.js';

/** How far ahead of the class's media the stage's sound is written (ms). */
export const LEAD_MS = 100;
/** A jump in the class's timestamps larger than this is a new publisher, not time passing (ms). */
export const MAX_STEP_MS = 2000;
/** Bytes allowed to wait in the pipe before the stage's sound is dropped (ffmpeg stalled). */
const MAX_BUFFERED = 4 * 1024 * 1024;

export interface MixSource {
  take(samples: number): Int16Array;
}

/** How far the class's media has advanced, from its units' timestamps (ms). Pure. */
export class MediaClock {
  private top?: number;
  elapsed = 0;

  /** Returns the elapsed media time after this unit. */
  advance(unit: Pick<MediaUnit, 'kind' | 'ts'>): number {
    if (isEssential(unit.kind) || unit.kind === 'unknown') return this.elapsed;
    if (this.top === undefined) this.top = unit.ts;
    else if (unit.ts > this.top) {
      const step = unit.ts - this.top;
      if (step <= MAX_STEP_MS) this.elapsed += step;
      this.top = unit.ts;
    } else if (this.top - unit.ts > MAX_STEP_MS) this.top = unit.ts; // timestamps began again (a new publisher)
    return this.elapsed;
  }
}

/** Something written to the ladder in step with the class's media (the stage's sound, its picture). */
export interface StageFiller {
  /** The class's media has advanced to this elapsed time (ms): write up to it plus the filler's lead. */
  fill(elapsedMs: number): void;
}

/** The ladder's sink, passing each unit on and moving every filler to the class's media time (one clock for all). */
export function stageClocked(sink: MediaSink, fillers: readonly StageFiller[]): MediaSink {
  const clock = new MediaClock();
  let started = false;
  return {
    write: (u) => {
      sink.write(u);
      const before = clock.elapsed;
      const now = clock.advance(u);
      if (now === before && started) return;
      started = true;
      for (const f of fillers) f.fill(now);
    },
  };
}

export class StageAudioFeed implements StageFiller {
  private written = 0;
  droppedBytes = 0;

  constructor(private readonly target: Writable, private readonly mix: MixSource) {
    target.on('error', () => undefined); // ffmpeg went away: the supervisor restarts it with a new feed
  }

  /** The ladder's sink, passing each unit on and keeping the stage's sound ahead of it. */
  wrap(sink: MediaSink): MediaSink {
    return stageClocked(sink, [this]);
  }

  fill(elapsedMs: number): void {
    if (isNaN(elapsedMs)) return;
    const want = Math.floor(((elapsedMs + LEAD_MS) * MIX_RATE) / 1000) - this.written;
    if (want <= 0) return;
    const pcm = this.mix.take(want);
    this.written += want;
    if (this.target.destroyed || this.target.writableLength > MAX_BUFFERED) {
      this.droppedBytes += want * 2;
      return;
    }
    this.target.write(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
  }
}
