// Live-edge catch-up for Low-Latency HLS. Players start on the last keyframe (up to a segment behind the target)
// and fall back after a stall; this brings them back to the playlist's PART-HOLD-BACK. Within the buffer a short
// jump does it at once (Chromium keeps a live MSE stream at 1x whatever playbackRate says: measured); without
// enough buffer, 1.1x where the browser honours it. Pure: the player feeds it what hls.js measures twice a second.

export interface CatchUpInput {
  /** Seconds behind the live edge now, and the target the playlist asks for (PART-HOLD-BACK). */
  latency: number;
  target: number;
  /** Seconds buffered ahead of the playhead. */
  buffered: number;
  rate: number;
}

export type CatchUp = { kind: 'rate'; rate: number } | { kind: 'jump'; by: number } | { kind: 'live' } | { kind: 'none' };

/** Keep at least this much buffered after a jump (one part, with room). */
const KEEP = 0.3;

export function catchUp(i: CatchUpInput): CatchUp {
  const behind = i.latency - i.target;
  if (behind > 6) return { kind: 'live' };
  if (behind > 0.5) {
    // Jump to the target if the buffer holds it, else as far as the buffer allows (at least a quarter second).
    const by = Math.min(behind, i.buffered - KEEP);
    if (by >= 0.25) return { kind: 'jump', by: Math.round(by * 1000) / 1000 };
    if (i.buffered > KEEP && i.rate !== 1.1) return { kind: 'rate', rate: 1.1 };
    return { kind: 'none' };
  }
  // Close to the target, or the buffer runs thin: normal speed (never stall for speed).
  if (i.rate !== 1 && (behind < 0.25 || i.buffered <= KEEP)) return { kind: 'rate', rate: 1 };
  return { kind: 'none' };
}
