// The live `ultra` classes the origin serves from memory, by channel. A class's stream stays listed a little
// after it ends, so players still polling get the playlist with EXT-X-ENDLIST instead of a 404.

import type { LlStream } from './stream.js';

export class LlRegistry {
  private readonly streams = new Map<string, { session: string; stream: LlStream }>();

  /** The channel's stream for this session: the one already open (a new ffmpeg run or publisher), or a new one. */
  open(channel: string, session: string, make: () => LlStream): LlStream {
    const have = this.streams.get(channel);
    if (have?.session === session) return have.stream;
    const stream = make();
    this.streams.set(channel, { session, stream });
    return stream;
  }

  get(channel: string): LlStream | undefined {
    return this.streams.get(channel)?.stream;
  }

  /** Drops the channel's stream after `afterMs`, unless a newer class replaced it meanwhile. */
  retire(channel: string, stream: LlStream, afterMs: number): void {
    const t = setTimeout(() => {
      if (this.streams.get(channel)?.stream === stream) this.streams.delete(channel);
    }, afterMs);
    t.unref();
  }

  get size(): number {
    return this.streams.size;
  }
}
