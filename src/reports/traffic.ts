// Counts what the HLS origin serves, per session, kind (live or replay) and rendition, in memory, and writes it
// to the store every few seconds in one transaction. Bounded: past maxKeys distinct keys between flushes, new keys
// are dropped and counted (the origin never waits for this).

import type { TrafficRow } from '../domain/records.js';

export interface TrafficDeps {
  /** The session live on a channel now. */
  liveSession(slug: string): string | undefined;
  save(rows: TrafficRow[]): void | Promise<void>;
  onError(err: unknown): void;
}

/** "720p/seg_12.ts" → "720p"; "master.m3u8" → "master". */
export const renditionOf = (rel: string): string => (rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : 'master');

export class TrafficCounter {
  private pending = new Map<string, TrafficRow>();
  private timer?: NodeJS.Timeout;
  dropped = 0;

  constructor(private readonly d: TrafficDeps, private readonly o: { flushMs: number; maxKeys: number }) {}

  served(kind: 'hls' | 'vod', owner: string, rel: string, bytes: number): void {
    const sessionId = kind === 'hls' ? this.d.liveSession(owner) : owner;
    if (!sessionId) return;
    const row: TrafficRow = { sessionId, kind: kind === 'hls' ? 'live' : 'replay', rendition: renditionOf(rel), bytes: 0, requests: 0 };
    const key = `${row.sessionId} ${row.kind} ${row.rendition}`;
    let cur = this.pending.get(key);
    if (!cur) {
      if (this.pending.size >= this.o.maxKeys) {
        this.dropped += 1;
        return;
      }
      cur = row;
      this.pending.set(key, cur);
    }
    cur.bytes += bytes;
    cur.requests += 1;
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => void this.flush(), this.o.flushMs);
    this.timer.unref();
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const rows = [...this.pending.values()];
    this.pending = new Map();
    try {
      await this.d.save(rows);
    } catch (err) {
      this.d.onError(err);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
