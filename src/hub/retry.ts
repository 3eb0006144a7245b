// The one backoff of the hub's durable writes (the in-process write queue and the Redis drain): after a failed
// write, wait twice as long as last time (at least `minMs`, at most `maxMs`); a success resets it. Pure.

export class Backoff {
  private delay = 0;
  private until = 0;

  constructor(private readonly minMs: number, private readonly maxMs = 5000) {}

  /** Whether a write may be tried at `now`. */
  ready(now: number): boolean {
    return now >= this.until;
  }

  /** A write failed at `now`: the delay before the next try. */
  failed(now: number): number {
    this.delay = Math.min(Math.max(this.delay * 2, this.minMs), this.maxMs);
    this.until = now + this.delay;
    return this.delay;
  }

  /** A write succeeded: true when it had been failing. */
  succeeded(): boolean {
    const was = this.delay > 0;
    this.delay = 0;
    this.until = 0;
    return was;
  }

  /** Try at once next time (a stop that drains what is left). */
  now(): void {
    this.until = 0;
  }
}
