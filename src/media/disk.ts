// Watches the media disk: free space against the configured floor (checked every few seconds with statfs), and
// the write failures the rest of the server reports (a 0-byte playlist, ffmpeg's "No space left on device").
// Below the floor new classes are refused; the state shows in status, the studio, /metrics and the log.

import { statfs } from 'node:fs/promises';
import type { Logger } from '../log.js';

export interface DiskState {
  freeBytes: number | null;
  floorBytes: number;
  low: boolean;
  writeErrors: number;
  /** What the studio and status say; null when all is well. */
  message: string | null;
}

export type FreeSpace = (dir: string) => Promise<number>;

export const statfsFree: FreeSpace = async (dir) => {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
};

export class DiskMonitor {
  private freeBytes: number | null = null;
  private writeErrors = 0;
  private lastError?: { at: number; what: string };
  private timer?: NodeJS.Timeout;
  private low = false;

  constructor(
    private readonly dir: string,
    private readonly floorBytes: number,
    private readonly log: Logger,
    private readonly free: FreeSpace = statfsFree,
  ) {}

  async start(everyMs = 5000): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.check(), everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
  }

  async check(): Promise<void> {
    try {
      this.freeBytes = await this.free(this.dir);
    } catch (err) {
      this.log.warn('cannot read the free space of the media disk', { dir: this.dir, err });
      return;
    }
    const low = this.floorBytes > 0 && this.freeBytes < this.floorBytes;
    if (low && !this.low) this.log.error('media disk below its free-space floor: new classes are refused', { freeMb: mb(this.freeBytes), floorMb: mb(this.floorBytes) });
    if (!low && this.low) this.log.info('media disk back above its free-space floor', { freeMb: mb(this.freeBytes) });
    this.low = low;
  }

  /** A write to the media disk failed (what: which file or process saw it). */
  writeFailed(what: string, now = Date.now()): void {
    this.writeErrors += 1;
    if (!this.lastError || now - this.lastError.at > 10000) this.log.error('a write to the media disk failed', { what, errors: this.writeErrors });
    this.lastError = { at: now, what };
    void this.check();
  }

  /** Why a new class may not start now, or undefined. */
  refusal(): string | undefined {
    return this.low ? `the media disk is almost full (${mb(this.freeBytes ?? 0)} MB free, floor ${mb(this.floorBytes)} MB): free space under paths.media` : undefined;
  }

  state(now = Date.now()): DiskState {
    const recentError = this.lastError && now - this.lastError.at < 60000 ? this.lastError : undefined;
    const message = this.low
      ? this.refusal()!
      : recentError ? `writes to the media disk are failing (${recentError.what})` : null;
    return { freeBytes: this.freeBytes, floorBytes: this.floorBytes, low: this.low, writeErrors: this.writeErrors, message };
  }
}

const mb = (bytes: number): number => Math.floor(bytes / (1024 * 1024));
