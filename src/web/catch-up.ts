// Live-edge catch-up for Low-Latency HLS. Players start on the last keyframe (up to a segment behind the target)
// and fall back after a stall; this brings them back towards the playlist's PART-HOLD-BACK. A second or more
// behind, a short jump within the buffer does it at once (Chromium keeps a live MSE stream at 1x whatever
// playbackRate says: measured), at most once every 10 s (a jump re-decodes from the last keyframe: a brief wait);
// half a second behind, 1.1x where the browser honours it. Pure: the player feeds it what hls.js measures.

export interface CatchUpInput {
  /** Seconds behind the live edge now, and the target the playlist asks for (PART-HOLD-BACK). */
  latency: number;
  target: number;
  /** Seconds buffered ahead of the playhead. */
  buffered: number;
  rate: number;
  /** Milliseconds since the last jump (Infinity before the first). */
  sinceJumpMs: number;
}

export type CatchUp = { kind: 'rate'; rate: number } | { kind: 'jump'; by: number } | { kind: 'live' } | { kind: 'none' };

/** Buffer to keep after a jump, and the room left above the target (a jump never lands right on the edge). */
const KEEP = 0.5;
const ROOM = 0.25;
const JUMP_EVERY_MS = 10000;

export function catchUp(i: CatchUpInput): CatchUp {
  const behind = i.latency - i.target;
  if (behind > 6) return { kind: 'live' };
  if (behind > 1 && i.sinceJumpMs >= JUMP_EVERY_MS) {
    const by = Math.min(behind - ROOM, i.buffered - KEEP);
    if (by >= 0.25) return { kind: 'jump', by: Math.round(by * 1000) / 1000 };
  }
  if (behind > 0.5 && i.buffered > 0.3) return i.rate === 1.1 ? { kind: 'none' } : { kind: 'rate', rate: 1.1 };
  // Close to the target, or the buffer runs thin: normal speed (never stall for speed).
  if (i.rate !== 1 && (behind < 0.25 || i.buffered <= 0.3)) return { kind: 'rate', rate: 1 };
  return { kind: 'none' };
}
