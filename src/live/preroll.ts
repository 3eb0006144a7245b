// Holds a new class's media from its first packet while the source is probed, so the ladder starts at the
// very beginning of the class rather than at the next keyframe. Bounded: beyond maxBytes it keeps only the
// headers and the newest GOP.

import { isEssential, type MediaSink as Sink, type MediaUnit } from '../media/sink.js';

export class Preroll implements Sink {
  private held: MediaUnit[] = [];
  private heldBytes = 0;
  private target?: Sink;
  private profile?: number;
  private readonly essentials: MediaUnit[] = [];
  readonly keyframeTimes: number[] = [];
  private keyWaiters: (() => void)[] = [];

  constructor(private readonly maxBytes: number) {}

  write(unit: MediaUnit): void {
    if (this.target) return this.target.write(unit);
    const { kind, data } = unit;
    if (kind === 'video-key') {
      this.keyframeTimes.push(unit.ts);
      for (const w of this.keyWaiters.splice(0)) w();
    }
    if (unit.profile !== undefined) this.profile = unit.profile;
    if (isEssential(kind)) {
      this.essentials.push(unit);
      return;
    }
    if (this.heldBytes + data.length > this.maxBytes && kind === 'video-key') {
      this.held = [];
      this.heldBytes = 0;
    }
    if (this.heldBytes + data.length > this.maxBytes) return;
    this.held.push(unit);
    this.heldBytes += data.length;
  }

  /** Replays what was held into `target` and forwards everything after it. */
  drainInto(target: Sink): void {
    for (const b of this.essentials) target.write(b);
    for (const b of this.held) target.write(b);
    this.held = [];
    this.heldBytes = 0;
    this.target = target;
  }

  /** Resolves when n keyframes have been seen or after ms. */
  waitForKeyframes(n: number, ms: number): Promise<void> {
    if (this.keyframeTimes.length >= n) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      const check = (): void => {
        if (this.keyframeTimes.length >= n) {
          clearTimeout(timer);
          resolve();
        } else this.keyWaiters.push(check);
      };
      this.keyWaiters.push(check);
    });
  }

  /** The H.264 profile_idc of the source, once its decoder configuration arrived. */
  videoProfile(): number | undefined {
    return this.profile;
  }

  /** Seconds between the first two keyframes, if seen. */
  keyframeInterval(): number | undefined {
    const [a, b] = this.keyframeTimes;
    return a !== undefined && b !== undefined && b > a ? (b - a) / 1000 : undefined;
  }
}
