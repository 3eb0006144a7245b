// A jitter buffer for one RTP stream: puts packets back in sequence order, waits a bounded time for a missing one
// (long enough for a NACK's retransmission to arrive), then gives up on it and says so, so the frame assembler
// can drop the broken frame and ask for a keyframe. Bounded in packets held. Pure: time comes in as arguments.

export interface RtpIn {
  seq: number;
  /** RTP timestamp (32-bit). */
  ts: number;
  marker: boolean;
  payload: Buffer;
}

export type JitterOut = { t: 'packet'; p: RtpIn } | { t: 'gap'; lost: number };

export interface JitterStats {
  received: number;
  lost: number;
  duplicates: number;
  late: number;
}

export class JitterBuffer {
  private readonly held = new Map<number, { p: RtpIn; at: number }>();
  /** Extended sequence number expected next; undefined before the first packet. */
  private next?: number;
  private highest = -1;
  readonly stats: JitterStats = { received: 0, lost: 0, duplicates: 0, late: 0 };

  /**
   * @param maxWaitMs how long a missing packet is waited for once a later one arrived
   * @param maxHeld packets held at most; beyond it the oldest gap is given up at once
   */
  constructor(private readonly maxWaitMs: number, private readonly maxHeld = 2000) {}

  /** Extends a 16-bit sequence number to the one nearest the highest seen. */
  private extend(seq: number): number {
    if (this.highest < 0) return seq;
    const base = this.highest - (this.highest % 65536);
    let best = base + seq;
    for (const c of [best - 65536, best + 65536]) if (Math.abs(c - this.highest) < Math.abs(best - this.highest)) best = c;
    return best;
  }

  push(p: RtpIn, now: number): JitterOut[] {
    const ext = this.extend(p.seq);
    if (this.next !== undefined && ext < this.next) {
      this.stats.late += 1; // already given up on, or a duplicate of one released
      return [];
    }
    if (this.held.has(ext)) {
      this.stats.duplicates += 1;
      return [];
    }
    this.stats.received += 1;
    this.next ??= ext;
    this.highest = Math.max(this.highest, ext);
    this.held.set(ext, { p, at: now });
    return this.release(now);
  }

  /** Releases what the passing of time allows (call it every few tens of milliseconds). */
  tick(now: number): JitterOut[] {
    return this.release(now);
  }

  private release(now: number): JitterOut[] {
    const out: JitterOut[] = [];
    while (this.next !== undefined && this.held.size > 0) {
      const here = this.held.get(this.next);
      if (here) {
        this.held.delete(this.next);
        this.next += 1;
        out.push({ t: 'packet', p: here.p });
        continue;
      }
      // A hole: give up on it once the oldest packet after it has waited long enough, or when too much is held.
      let first = Infinity;
      let oldest = Infinity;
      for (const [seq, h] of this.held) {
        first = Math.min(first, seq);
        oldest = Math.min(oldest, h.at);
      }
      if (now - oldest < this.maxWaitMs && this.held.size < this.maxHeld) break;
      const lost = first - this.next;
      this.stats.lost += lost;
      out.push({ t: 'gap', lost });
      this.next = first;
    }
    return out;
  }
}
