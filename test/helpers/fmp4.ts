// Builds tiny fMP4 boxes for unit tests: one-sample fragments as ffmpeg writes them with frag_every_frame.

const box = (type: string, ...payload: Buffer[]): Buffer => {
  const body = Buffer.concat(payload);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, body]);
};

const u32 = (...n: number[]): Buffer => {
  const b = Buffer.alloc(4 * n.length);
  n.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4));
  return b;
};

/** A moof with one track run of one sample (tfhd defaults, tfdt v1, trun with first-sample flags when sync). */
export function moof(trackId: number, baseTime: number, duration: number, sync: boolean): Buffer {
  const tfhd = box('tfhd', u32(0x020038, trackId, duration, 100, 0x01010000)); // default flags: non-sync
  const t = Buffer.alloc(12);
  t.writeUInt32BE(0x01000000, 0);
  t.writeBigUInt64BE(BigInt(baseTime), 4);
  const tfdt = box('tfdt', t);
  const trun = sync ? box('trun', u32(0x000005, 1, 0, 0x02000000)) : box('trun', u32(0x000001, 1, 0));
  return box('moof', box('mfhd', u32(0, 1)), box('traf', tfhd, tfdt, trun));
}

export const mdat = (n = 16): Buffer => box('mdat', Buffer.alloc(n, 7));

export { box, u32 };
