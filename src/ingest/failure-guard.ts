// Counts failed publish attempts per remote address and refuses an address that fails too often. Pure state,
// bounded in size; the clock is passed in.

export interface GuardOptions {
  maxFailuresPerMinute: number;
  /** How long an address stays refused once over the limit. */
  blockMs: number;
  /** Most addresses tracked at once (oldest forgotten first). */
  maxAddresses?: number;
}

interface Entry {
  failures: number[];
  blockedUntil: number;
}

export class FailureGuard {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly opts: GuardOptions) {}

  isBlocked(address: string, now: number): boolean {
    const e = this.entries.get(address);
    return e !== undefined && e.blockedUntil > now;
  }

  /** Records a failure; returns true when this failure puts the address over the limit. */
  recordFailure(address: string, now: number): boolean {
    let e = this.entries.get(address);
    if (!e) {
      const max = this.opts.maxAddresses ?? 10000;
      if (this.entries.size >= max) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
      }
      e = { failures: [], blockedUntil: 0 };
      this.entries.set(address, e);
    }
    e.failures = e.failures.filter((t) => t > now - 60000);
    e.failures.push(now);
    if (e.failures.length > this.opts.maxFailuresPerMinute) {
      const wasBlocked = e.blockedUntil > now;
      e.blockedUntil = now + this.opts.blockMs;
      return !wasBlocked;
    }
    return false;
  }

  get size(): number {
    return this.entries.size;
  }
}
