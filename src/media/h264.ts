// What a WebRTC H.264 publisher's parameter sets say: the picture size (from the SPS, H.264 7.3.2.1.1) and the
// avcC record Matroska carries as the track's codec private data (ISO/IEC 14496-15). Pure.

class Bits {
  private pos = 0;
  constructor(private readonly b: Buffer) {}
  bit(): number {
    const byte = this.b[this.pos >> 3];
    if (byte === undefined) throw new RangeError('SPS ended early');
    const v = (byte >> (7 - (this.pos & 7))) & 1;
    this.pos += 1;
    return v;
  }
  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i += 1) v = v * 2 + this.bit();
    return v;
  }
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) {
      zeros += 1;
      if (zeros > 31) throw new RangeError('bad exp-Golomb code in SPS');
    }
    return 2 ** zeros - 1 + this.bits(zeros);
  }
  se(): number {
    const k = this.ue();
    return k % 2 ? (k + 1) / 2 : -k / 2;
  }
}

/** Removes emulation-prevention bytes (00 00 03 → 00 00). */
function rbsp(nal: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < nal.length; i += 1) {
    if (i >= 2 && nal[i] === 3 && nal[i - 1] === 0 && nal[i - 2] === 0) continue;
    out.push(nal[i]!);
  }
  return Buffer.from(out);
}

export interface SpsInfo {
  profile: number;
  width: number;
  height: number;
}

/** Parses an SPS NAL unit (with its one-byte header); throws on a malformed one. */
export function parseSps(nal: Buffer): SpsInfo {
  const r = new Bits(rbsp(nal.subarray(1)));
  const profile = r.bits(8);
  r.bits(16); // constraint flags, level
  r.ue(); // seq_parameter_set_id
  let chroma = 1;
  if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profile)) {
    chroma = r.ue();
    if (chroma === 3) r.bit();
    r.ue(); // bit depth luma
    r.ue(); // bit depth chroma
    r.bit();
    if (r.bit()) {
      for (let i = 0; i < (chroma !== 3 ? 8 : 12); i += 1) {
        if (!r.bit()) continue;
        let last = 8;
        let next = 8;
        for (let j = 0; j < (i < 6 ? 16 : 64) && next !== 0; j += 1) {
          next = (last + r.se() + 256) % 256;
          if (next !== 0) last = next;
        }
      }
    }
  }
  r.ue(); // log2_max_frame_num
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.bit();
    r.se();
    r.se();
    const n = r.ue();
    for (let i = 0; i < n; i += 1) r.se();
  }
  r.ue(); // max_num_ref_frames
  r.bit();
  const wMbs = r.ue() + 1;
  const hMapUnits = r.ue() + 1;
  const frameMbsOnly = r.bit();
  if (!frameMbsOnly) r.bit();
  r.bit(); // direct_8x8_inference
  let crop = { l: 0, r: 0, t: 0, b: 0 };
  if (r.bit()) crop = { l: r.ue(), r: r.ue(), t: r.ue(), b: r.ue() };
  const cropX = chroma === 1 || chroma === 2 ? 2 : 1;
  const cropY = (chroma === 1 ? 2 : 1) * (2 - frameMbsOnly);
  return {
    profile,
    width: wMbs * 16 - cropX * (crop.l + crop.r),
    height: (2 - frameMbsOnly) * hMapUnits * 16 - cropY * (crop.t + crop.b),
  };
}

/** AVCDecoderConfigurationRecord for one SPS and one PPS. */
export function avcC(sps: Buffer, pps: Buffer): Buffer {
  const len = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
  return Buffer.concat([
    Buffer.from([1, sps[1] ?? 66, sps[2] ?? 0, sps[3] ?? 31, 0xff, 0xe1]), len(sps.length), sps,
    Buffer.from([1]), len(pps.length), pps,
  ]);
}
