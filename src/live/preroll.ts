// Holds a new class's media from its first packet while the source is probed, so the ladder starts at the
// very beginning of the class rather than at the next keyframe. Bounded: beyond maxBytes it keeps only the
// headers and the newest GOP.

import { classifyTag } from '../media/flv-pipe.js';
import type { MediaSink as Sink } from '../media/sink.js';

export class Preroll implements Sink {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private target?: Sink;
  private profile?: number;
  private readonly essentials: Buffer[] = [];
  readonly keyframeTimes: number[] = [];
  private keyWaiters: (() => void)[] = [];

  constructor(private readonly maxBytes: number) {}

  write(buf: Buffer): void {
    if (this.target) return this.target.write(buf);
    const kind = classifyTag(buf);
    if (kind === 'video-key') {
      this.keyframeTimes.push(flvTimestamp(buf));
      for (const w of this.keyWaiters.splice(0)) w();
    }
    if (kind === 'video-config' && buf.length > 17) this.profile = buf[17]; // AVCDecoderConfigurationRecord.AVCProfileIndication
    if (kind === 'header' || kind === 'script' || kind === 'video-config' || kind === 'audio-config') {
      this.essentials.push(buf);
      return;
    }
    if (this.heldBytes + buf.length > this.maxBytes && kind === 'video-key') {
      this.held = [];
      this.heldBytes = 0;
    }
    if (this.heldBytes + buf.length > this.maxBytes) return;
    this.held.push(buf);
    this.heldBytes += buf.length;
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

export function flvTimestamp(buf: Buffer): number {
  return ((buf[7]! << 24) | (buf[4]! << 16) | (buf[5]! << 8) | buf[6]!) >>> 0;
}
