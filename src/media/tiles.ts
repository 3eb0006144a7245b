// The stage's strip of tiles for the broadcast picture (issue 27): members' cameras (or their names) side by side,
// right-aligned, on a transparent canvas the ladder lays over the instructor's video. Raw planar YUV throughout:
// a tile is yuv420p of TILE_W × TILE_H, the strip yuva420p of STRIP_W × STRIP_H (alpha 0 where there is no tile).
// Pure: the same tiles always give the same bytes.

export const TILE_W = 256;
export const TILE_H = 144;
/** Pixels between two tiles (transparent). */
export const GAP = 8;
/** Tiles the broadcast shows at most; members past this are on stage (heard, forwarded) but not in the picture. */
export const MAX_TILES = 5;
export const STRIP_W = MAX_TILES * TILE_W + (MAX_TILES - 1) * GAP;
export const STRIP_H = TILE_H;
/** The name band at the foot of a camera tile (rows). */
export const LABEL_H = 24;

/** Bytes of a yuv420p picture of w × h (even sizes). */
export const yuv420Bytes = (w: number, h: number): number => w * h * 1.5;
export const TILE_BYTES = yuv420Bytes(TILE_W, TILE_H);
export const LABEL_BYTES = yuv420Bytes(TILE_W, LABEL_H);
export const STRIP_BYTES = STRIP_W * STRIP_H * 2.5;

/** Where the i-th of n tiles starts (x, in strip pixels): the last one ends at the strip's right edge. */
export function tileX(i: number, n: number): number {
  return STRIP_W - (n - i) * TILE_W - (n - 1 - i) * GAP;
}

/** A fully transparent strip (black, alpha 0). */
export function emptyStrip(): Buffer {
  const b = Buffer.alloc(STRIP_BYTES);
  const y = STRIP_W * STRIP_H;
  const c = (STRIP_W / 2) * (STRIP_H / 2);
  b.fill(128, y, y + 2 * c); // neutral chroma
  return b;
}

/** Copies a w × h plane into a wider plane at (x, y). */
function blit(src: Buffer, srcOff: number, w: number, h: number, dst: Buffer, dstOff: number, dstW: number, x: number, y: number): void {
  for (let row = 0; row < h; row += 1) {
    const from = srcOff + row * w;
    src.copy(dst, dstOff + (y + row) * dstW + x, from, from + w);
  }
}

/** The strip with these tiles (yuv420p, TILE_W × TILE_H each; at most MAX_TILES are drawn), right-aligned. */
export function composeStrip(tiles: readonly Buffer[]): Buffer {
  const out = emptyStrip();
  const shown = tiles.slice(0, MAX_TILES);
  const ySize = STRIP_W * STRIP_H;
  const cW = STRIP_W / 2;
  const cSize = cW * (STRIP_H / 2);
  const tY = TILE_W * TILE_H;
  const tC = (TILE_W / 2) * (TILE_H / 2);
  shown.forEach((tile, i) => {
    if (tile.length < TILE_BYTES) return;
    const x = tileX(i, shown.length);
    blit(tile, 0, TILE_W, TILE_H, out, 0, STRIP_W, x, 0);
    blit(tile, tY, TILE_W / 2, TILE_H / 2, out, ySize, cW, x / 2, 0);
    blit(tile, tY + tC, TILE_W / 2, TILE_H / 2, out, ySize + cSize, cW, x / 2, 0);
    for (let row = 0; row < TILE_H; row += 1) out.fill(255, ySize + 2 * cSize + row * STRIP_W + x, ySize + 2 * cSize + row * STRIP_W + x + TILE_W);
  });
  return out;
}

/** A camera tile with the member's name band over its last LABEL_H rows (both yuv420p). */
export function withLabel(frame: Buffer, label: Buffer): Buffer {
  if (frame.length < TILE_BYTES || label.length < LABEL_BYTES) return frame;
  const out = Buffer.from(frame.subarray(0, TILE_BYTES));
  const tY = TILE_W * TILE_H;
  const tC = (TILE_W / 2) * (TILE_H / 2);
  const lY = TILE_W * LABEL_H;
  const lC = (TILE_W / 2) * (LABEL_H / 2);
  const top = TILE_H - LABEL_H;
  label.copy(out, top * TILE_W, 0, lY);
  label.copy(out, tY + (top / 2) * (TILE_W / 2), lY, lY + lC);
  label.copy(out, tY + tC + (top / 2) * (TILE_W / 2), lY + lC, lY + 2 * lC);
  return out;
}
