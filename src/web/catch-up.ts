// Live-edge catch-up for Low-Latency HLS: play a little faster when the player fell behind its target latency,
// jump when it is far behind. Pure: the player feeds it what hls.js measures every half second.

export interface CatchUpInput {
  /** Seconds behind the live edge now, and the target the playlist asks for (PART-HOLD-BACK). */
  latency: number;
  target: number;
  /** Seconds buffered ahead of the playhead. */
  buffered: number;
  rate: number;
}

export type CatchUp = { kind: 'rate'; rate: number } | { kind: 'seek' } | { kind: 'none' };

/** 1.1x once more than 0.75 s behind the target, back to 1x within 0.25 s of it; a seek beyond 6 s. */
export function catchUp(i: CatchUpInput): CatchUp {
  const behind = i.latency - i.target;
  if (behind > 6) return { kind: 'seek' };
  if (behind > 0.75 && i.buffered > 0.3) return i.rate === 1.1 ? { kind: 'none' } : { kind: 'rate', rate: 1.1 };
  // Keep catching up until close to the target, or stop when the buffer runs thin (never stall for speed).
  if (i.rate !== 1 && (behind < 0.25 || i.buffered <= 0.3)) return { kind: 'rate', rate: 1 };
  return { kind: 'none' };
}
