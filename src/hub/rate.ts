// Token buckets keyed by user: `burst` actions at once, refilled at burst per windowMs. Pure; clock passed in.

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly burst: number, private readonly windowMs: number, private readonly maxKeys = 100000) {}

  /** Takes one token; false when the user is over the limit. */
  take(key: string, now: number): boolean {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.buckets.clear(); // bounded; worst case everyone gets a fresh burst
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.burst) / this.windowMs);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
