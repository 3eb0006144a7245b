// The presentation time of the first video frame in an MPEG-TS segment, read from its first PES header. Pure.
// The WebVTT segments of a class map their cue times to it (X-TIMESTAMP-MAP), so a player puts a caption on the
// picture it belongs to without decoding anything.

const PACKET = 188;

/** The 90 kHz PTS of the first video PES in `ts`, or undefined when none is in these bytes. */
export function firstVideoPts(ts: Uint8Array): number | undefined {
  let off = ts.indexOf(0x47);
  while (off >= 0 && off + PACKET <= ts.length) {
    if (ts[off] !== 0x47) {
      off = ts.indexOf(0x47, off + 1); // lost sync: find the next packet start
      continue;
    }
    const pusi = (ts[off + 1]! & 0x40) !== 0;
    const afc = (ts[off + 3]! >> 4) & 3;
    let p = off + 4;
    if (afc === 3) p += 1 + ts[off + 4]!;
    if (pusi && (afc === 1 || afc === 3) && p + 14 <= off + PACKET
      && ts[p] === 0 && ts[p + 1] === 0 && ts[p + 2] === 1 && ts[p + 3]! >= 0xe0 && ts[p + 3]! <= 0xef && (ts[p + 7]! & 0x80)) {
      const b = (i: number): number => ts[p + 9 + i]!;
      return ((b(0) >> 1) & 0x07) * 2 ** 30 + b(1) * 2 ** 22 + (b(2) >> 1) * 2 ** 15 + b(3) * 2 ** 7 + (b(4) >> 1);
    }
    off += PACKET;
  }
  return undefined;
}
