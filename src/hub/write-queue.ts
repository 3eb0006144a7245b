// The hub's durable write queue: engagement records (chat, questions, votes, attendance, reaction counters) wait
// here until they are written, in order, off the message path. Two sinks, one queue:
// - `local`: this process writes the store itself, in batches (a timer calls flush); a locked or failing database
//   keeps the batch and retries after a backoff (hub/retry.ts), bounded at MAX_PENDING_OPS, oldest dropped first;
// - `shared` (hub.backplane): the records reach Redis before the frames that acknowledge them are sent
//   (`beforeSend`), and one writer drains Redis into the store (hub/drain.ts).

import type { Logger } from '../log.js';
import type { EngagementOp } from '../domain/records.js';
import { Backoff } from './retry.js';

export type WriteSink =
  /** A store that writes at once (returns nothing) or promises the write (the next flush waits for it). */
  | { kind: 'local'; write(ops: EngagementOp[]): void | Promise<void> }
  | { kind: 'shared'; write(ops: EngagementOp[]): Promise<void> };

export interface WriteCounters {
  persisted: number;
  persistFailures: number;
  persistRetries: number;
  persistDropped: number;
}

/** Engagement records kept for a database that keeps failing, before the oldest are dropped. */
export const MAX_PENDING_OPS = 200_000;

export class WriteQueue {
  private queue: EngagementOp[] = [];
  private readonly tallies = new Map<string, Extract<EngagementOp, { op: 'tally' }>>();
  private readonly retry: Backoff;
  private failingSince?: number;
  private writing = false;
  private localWrite?: Promise<void>;
  readonly counters: WriteCounters = { persisted: 0, persistFailures: 0, persistRetries: 0, persistDropped: 0 };

  constructor(
    private readonly sink: WriteSink,
    private readonly o: { flushMs: number; maxQueue: number },
    private readonly d: { log: Logger; observeBatch?(s: number): void },
  ) {
    this.retry = new Backoff(o.flushMs);
  }

  /** Whether a timer should call `flush` (the local sink); the shared sink writes with each tick. */
  get flushes(): boolean {
    return this.sink.kind === 'local';
  }

  /** A shared write is under way: the tick waits so frames stay behind their records. */
  get busy(): boolean {
    return this.writing;
  }

  get length(): number {
    return this.queue.length;
  }

  add(op: EngagementOp): void {
    if (op.op === 'tally') {
      // Reactions come by the hundred a second: one counter update per learner per write, not one per reaction.
      const key = `${op.sessionId} ${op.userId} ${op.kind}`;
      const same = this.tallies.get(key);
      if (same) {
        same.n += op.n;
        return;
      }
      this.tallies.set(key, op);
    }
    this.queue.push(op);
    if (this.sink.kind === 'local' && this.queue.length >= this.o.maxQueue) this.flush();
  }

  /** Local sink: writes the queued records unless a failed write's backoff is still running. */
  flush(now = Date.now()): void | Promise<void> {
    if (this.sink.kind !== 'local' || this.localWrite || this.queue.length === 0 || !this.retry.ready(now)) return this.localWrite;
    const batch = this.take();
    const t0 = performance.now();
    let pending: void | Promise<void>;
    try {
      pending = this.sink.write(batch);
    } catch (err) {
      return this.writeFailed(batch, now, err);
    }
    if (!(pending instanceof Promise)) return this.written(batch, now, t0);
    this.localWrite = pending.then(() => this.written(batch, now, t0), (err: unknown) => this.writeFailed(batch, now, err))
      .finally(() => { this.localWrite = undefined; });
    return this.localWrite;
  }

  private written(batch: EngagementOp[], now: number, t0: number): void {
    this.d.observeBatch?.((performance.now() - t0) / 1000);
    this.counters.persisted += batch.length;
    if (this.failingSince !== undefined) this.d.log.info('engagement writes recovered', { ops: batch.length, afterMs: now - this.failingSince });
    this.failingSince = undefined;
    this.retry.succeeded();
  }

  /** Locked or slow database: keep the batch (it was acknowledged to its senders) and try again later, in order. */
  private writeFailed(batch: EngagementOp[], now: number, err: unknown): void {
    this.counters.persistFailures += 1;
    this.queue = batch.concat(this.queue);
    this.retry.failed(now);
    this.counters.persistRetries += 1;
    if (this.failingSince === undefined) {
      this.failingSince = now;
      this.d.log.warn('engagement write failed; will retry', { ops: batch.length, err });
    }
    this.bound(err);
  }

  /**
   * Runs `send` once the records queued so far are safe: at once for the local sink (its timer writes them), after
   * Redis has them for the shared sink, so whatever a learner saw acknowledged is not lost if this process dies now.
   * A failed shared write puts the records back in front and sends anyway (they go with the next tick).
   */
  beforeSend(send: () => void): void {
    if (this.sink.kind === 'local' || this.queue.length === 0) return send();
    const ops = this.take();
    this.writing = true;
    this.sink.write(ops).then(() => {
      this.counters.persisted += ops.length;
    }, (err: unknown) => {
      this.counters.persistFailures += 1;
      this.queue = ops.concat(this.queue);
      this.bound(err);
      this.d.log.warn('hub backplane: engagement records not queued; will retry', { ops: ops.length, err });
    }).finally(() => {
      this.writing = false;
      send();
    });
  }

  /** At shutdown: writes what is left (a locked database is tried three times), and says what could not be. */
  async finish(): Promise<void> {
    if (this.sink.kind === 'shared') {
      for (let i = 0; i < 50 && this.writing; i++) await new Promise((r) => setTimeout(r, 20));
      if (!this.queue.length) return;
      try {
        await this.sink.write(this.take());
      } catch (err) {
        this.d.log.error('engagement records not queued at shutdown', { err });
      }
      return;
    }
    for (let attempt = 0; attempt < 3 && this.queue.length > 0; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 200 * attempt));
      await this.localWrite;
      await this.flush(Infinity);
    }
    if (this.queue.length) this.d.log.error('engagement records not written at shutdown', { ops: this.queue.length });
  }

  private take(): EngagementOp[] {
    const batch = this.queue;
    this.queue = [];
    this.tallies.clear();
    return batch;
  }

  /** The store has been gone for a long time: bound memory, oldest first, and say so. */
  private bound(err: unknown): void {
    const over = this.queue.length - MAX_PENDING_OPS;
    if (over <= 0) return;
    this.queue.splice(0, over);
    this.counters.persistDropped += over;
    this.d.log.error('engagement writes failing for too long; oldest dropped', { dropped: over, err });
  }
}
