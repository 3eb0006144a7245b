// The stage's picture into the ladder: a third ffmpeg input (raw yuva420p strips of tiles, PICTURE_FPS a second, on
// its own pipe) laid over the class's video before the rungs are scaled. Written on the class's own clock, like the
// stage's sound (stage-audio.ts), PICTURE_LEAD_MS ahead, so the overlay never waits for it; nobody on stage is a
// transparent strip, written all the same: joining and leaving change the strip, never the ladder.

import type { Writable } from 'node:stream';
import type { PictureSource } from '../media/stage-picture.js';
import { emptyStrip } from '../media/tiles.js';
import type { StageFiller } from './stage-audio.js';

export const PICTURE_FPS = 10;
/** How far ahead of the class's media the strips are written (ms): two strips, so a frame never waits for one. */
export const PICTURE_LEAD_MS = 200;
/** Bytes allowed to wait in the pipe (about 8 strips); past it, strips are owed (written once ffmpeg reads again), never skipped. */
const MAX_BUFFERED = 4 * 1024 * 1024;

/** No stage picture on this box: always transparent. */
export const NO_PICTURE: PictureSource = { strip: (() => { const s = emptyStrip(); return () => s; })() };

export class StagePictureFeed implements StageFiller {
  /** Strips written so far: strip n is shown from n / PICTURE_FPS seconds of the class's media. */
  written = 0;

  constructor(private readonly target: Writable, private readonly source: PictureSource, private readonly now: () => number = Date.now) {
    target.on('error', () => undefined); // ffmpeg went away: the supervisor restarts it with a new feed
  }

  fill(elapsedMs: number): void {
    if (isNaN(elapsedMs) || this.target.destroyed) return;
    const want = Math.floor(((elapsedMs + PICTURE_LEAD_MS) * PICTURE_FPS) / 1000) + 1;
    if (want <= this.written) return;
    const strip = this.source.strip(this.now());
    // A strip's time is its index: one skipped would put every later strip early and hold the overlay back, so
    // while ffmpeg is not reading, strips are owed and written (the newest picture) once it reads again.
    while (this.written < want && this.target.writableLength <= MAX_BUFFERED) {
      this.target.write(strip);
      this.written += 1;
    }
  }
}
