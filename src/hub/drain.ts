// The one SQLite writer of a hub spread over processes: takes the engagement records the room owners queued in
// Redis, oldest first, and writes them in batches. A record leaves Redis only after its batch is committed, so a
// writer (or a box) that dies loses nothing; a locked database is retried with backoff. One writer at a time
// holds a lease, so a second box configured as writer by mistake waits instead of writing twice.

import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import type { EngagementOp } from '../domain/records.js';
import { closeRedis, connectRedis, KEYS } from './redis-backplane.js';
import { Backoff } from './retry.js';

export interface DrainOptions {
  url: string;
  log: Logger;
  everyMs: number;
  batch: number;
  /** Tells writers apart in the lease (node of the hub, or pid). */
  id: string;
}

export interface DrainDeps {
  persist(ops: EngagementOp[]): void | Promise<void>;
  observe?(seconds: number): void;
}

const WRITER_LEASE_MS = 10_000;

export class PersistDrain {
  private redis?: Redis;
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private writer = false;
  private readonly retry: Backoff;
  readonly counters = { written: 0, failures: 0, malformed: 0, backlog: 0 };

  constructor(private readonly o: DrainOptions, private readonly d: DrainDeps) {
    this.retry = new Backoff(o.everyMs);
  }

  async start(): Promise<void> {
    this.redis = await connectRedis(this.o.url, 'kmk-hub-writer', 5000, this.o.log);
    this.timer = setInterval(() => {
      this.running ??= this.round().finally(() => {
        this.running = undefined;
      });
    }, this.o.everyMs);
  }

  /** Writes what is left (a few rounds), then lets the lease go. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    const bounded = (p: Promise<unknown> | undefined): Promise<unknown> => Promise.race([p, new Promise((r) => setTimeout(r, 3000).unref())]);
    await bounded(this.running);
    if (this.redis?.status !== 'ready') return closeRedis(this.redis);
    for (let i = 0; i < 5 && this.writer; i++) {
      this.retry.now();
      if ((await this.round()) === 0) break;
    }
    if (this.writer) await this.redis?.eval(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`, 1, KEYS.writer, this.o.id).catch(() => {});
    await closeRedis(this.redis);
  }

  get isWriter(): boolean {
    return this.writer;
  }

  /** One pass; returns how many records it wrote. Public for tests. */
  async round(now = Date.now()): Promise<number> {
    const r = this.redis!;
    try {
      const lease = await r.eval(`local v = redis.call('GET', KEYS[1])
if v == ARGV[1] or not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end return 0`, 1, KEYS.writer, this.o.id, String(WRITER_LEASE_MS));
      if ((lease === 1) !== this.writer) this.o.log.info(lease === 1 ? 'hub writer: this process writes engagement records' : 'hub writer: another process writes engagement records', { id: this.o.id });
      this.writer = lease === 1;
      if (!this.writer || !this.retry.ready(now)) return 0;
      const lines = await r.lrange(KEYS.persist, 0, this.o.batch - 1);
      this.counters.backlog = lines.length < this.o.batch ? lines.length : await r.llen(KEYS.persist);
      if (lines.length === 0) return 0;
      const ops: EngagementOp[] = [];
      for (const line of lines) {
        try {
          ops.push(JSON.parse(line) as EngagementOp);
        } catch {
          this.counters.malformed += 1;
        }
      }
      try {
        const t0 = performance.now();
        await this.d.persist(ops);
        this.d.observe?.((performance.now() - t0) / 1000);
      } catch (err) {
        this.counters.failures += 1;
        const retryInMs = this.retry.failed(now);
        this.o.log.warn('hub writer: engagement write failed; kept in Redis, will retry', { ops: ops.length, retryInMs, err });
        return 0;
      }
      if (this.retry.succeeded()) this.o.log.info('hub writer: engagement writes recovered', { ops: ops.length });
      await r.ltrim(KEYS.persist, lines.length, -1);
      this.counters.written += ops.length;
      this.counters.backlog = Math.max(0, this.counters.backlog - lines.length);
      return ops.length;
    } catch (err) {
      this.o.log.warn('hub writer: Redis unavailable; will retry', { err: err instanceof Error ? err.message : String(err) });
      return 0;
    }
  }
}
