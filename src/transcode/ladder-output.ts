// The ladder as a class output: one Transcoder per run of the class's publisher (a new publisher brings new
// timestamps and codec headers, so its ladder starts afresh and continues the playlists after a discontinuity).
// The class run decides when; this file only maps start / stop / close onto a Transcoder.

import type { TranscoderStatus } from './supervisor.js';

/** What the ladder output needs of a transcoder (a Transcoder, or a fake in tests). */
export interface TranscoderLike {
  start(resume?: boolean): Promise<void>;
  stop(timeoutMs?: number): Promise<void>;
  /** The class is over (after stop): finish what outlives one ffmpeg run. */
  close?(): Promise<void>;
  status(): TranscoderStatus;
}

/** A restart waits this long for the old ffmpeg to close its segments before killing it. */
const RESTART_STOP_MS = 5000;

export class LadderOutput {
  readonly kind = 'ladder';
  private current?: TranscoderLike;

  constructor(private readonly make: () => TranscoderLike) {}

  async start(resume: boolean): Promise<void> {
    this.current = this.make();
    await this.current.start(resume);
  }

  async stop(why: 'restart' | 'end'): Promise<void> {
    await this.current?.stop(why === 'restart' ? RESTART_STOP_MS : undefined);
  }

  async close(): Promise<{ published?: boolean }> {
    await this.current?.close?.();
    return {};
  }

  transcoder(): TranscoderStatus | undefined {
    return this.current?.status();
  }
}
