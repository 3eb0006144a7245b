// Which rung a player shows at most: the smallest whose picture is at least as wide as the player's box in
// device pixels (the pixel ratio counted up to 2: a phone's 3x screen gains nothing visible from more), else the
// largest. Pure; the watch page caps its player with it, and bench/bitrate.mjs uses it to price a learner mix.

export interface RungSize {
  width: number;
  height: number;
}

/** Pixel ratios above this buy bytes, not sharpness, at the sizes a class is watched. */
export const MAX_PIXEL_RATIO = 2;

/** The index (in `rungs`, any order) of the largest rung the player needs; -1 when there are none. */
export function rungCap(rungs: readonly RungSize[], player: { width: number; dpr: number }): number {
  if (rungs.length === 0) return -1;
  const need = Math.max(1, player.width) * Math.min(Math.max(player.dpr, 1), MAX_PIXEL_RATIO);
  const order = rungs.map((r, i) => ({ r, i })).sort((a, b) => a.r.width - b.r.width);
  return (order.find(({ r }) => r.width >= need) ?? order[order.length - 1]!).i;
}

export function pickRung<T extends RungSize>(rungs: readonly T[], player: { width: number; dpr: number }): T {
  return rungs[rungCap(rungs, player)]!;
}
