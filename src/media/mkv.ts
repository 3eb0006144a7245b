// A minimal live Matroska writer: the container a WebRTC publisher's frames reach ffmpeg in (VP8/VP9/H.264 video,
// Opus audio, which FLV cannot carry). The header is EBML + a Segment of unknown size + Info + Tracks; every frame
// after it is a Cluster of its own (absolute time code, one SimpleBlock), so any run of frames that follows the
// header — a late subscriber's, or one a bounded pipe thinned — is still a valid stream. Pure.

export type MkvVideoCodec = 'vp8' | 'vp9' | 'h264';

export interface MkvTrack {
  number: number;
  kind: 'video' | 'audio';
  codec: MkvVideoCodec | 'opus';
  /** Codec private data (avcC for H.264); Opus gets its OpusHead from `channels`. */
  priv?: Buffer;
  width?: number;
  height?: number;
  channels?: number;
  sampleRate?: number;
}

const CODEC_IDS: Record<MkvTrack['codec'], string> = { vp8: 'V_VP8', vp9: 'V_VP9', h264: 'V_MPEG4/ISO/AVC', opus: 'A_OPUS' };

/** EBML variable-length size: the shortest form that holds n. */
export function vint(n: number): Buffer {
  for (let len = 1; len <= 8; len += 1) {
    // The all-ones value of each length is reserved for "unknown size".
    if (n < 2 ** (7 * len) - 1) {
      const b = Buffer.alloc(len);
      let v = n;
      for (let i = len - 1; i >= 0; i -= 1) {
        b[i] = v % 256;
        v = Math.floor(v / 256);
      }
      b[0]! |= 1 << (8 - len);
      return b;
    }
  }
  throw new RangeError(`EBML size ${n} is too large`);
}

const idBytes = (id: number): Buffer => Buffer.from(id.toString(16).padStart(id > 0xffffff ? 8 : id > 0xffff ? 6 : id > 0xff ? 4 : 2, '0'), 'hex');

export function element(id: number, data: Buffer): Buffer {
  return Buffer.concat([idBytes(id), vint(data.length), data]);
}

function uint(id: number, n: number): Buffer {
  let hex = Math.max(0, Math.floor(n)).toString(16);
  if (hex.length % 2) hex = '0' + hex;
  return element(id, Buffer.from(hex, 'hex'));
}

const str = (id: number, s: string): Buffer => element(id, Buffer.from(s, 'ascii'));

function float(id: number, f: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(f);
  return element(id, b);
}

/** RFC 7845's identification header, which Matroska carries as the Opus track's codec private data. */
export function opusHead(channels: number, sampleRate = 48000, preSkip = 312): Buffer {
  const b = Buffer.alloc(19);
  b.write('OpusHead', 0, 'ascii');
  b[8] = 1;
  b[9] = channels;
  b.writeUInt16LE(preSkip, 10);
  b.writeUInt32LE(sampleRate, 12);
  return b;
}

function trackEntry(t: MkvTrack): Buffer {
  const parts = [uint(0xd7, t.number), uint(0x73c5, t.number), uint(0x83, t.kind === 'video' ? 1 : 2), str(0x86, CODEC_IDS[t.codec])];
  const priv = t.codec === 'opus' ? opusHead(t.channels ?? 2, t.sampleRate ?? 48000) : t.priv;
  if (priv) parts.push(element(0x63a2, priv));
  if (t.kind === 'video' && t.width && t.height) parts.push(element(0xe0, Buffer.concat([uint(0xb0, t.width), uint(0xba, t.height)])));
  if (t.kind === 'audio') {
    parts.push(element(0xe1, Buffer.concat([float(0xb5, t.sampleRate ?? 48000), uint(0x9f, t.channels ?? 2)])));
    if (t.codec === 'opus') parts.push(uint(0x56aa, 6_500_000), uint(0x56bb, 80_000_000)); // CodecDelay, SeekPreRoll (ns)
  }
  return element(0xae, Buffer.concat(parts));
}

/** EBML header, the start of a live Segment (unknown size), Info (1 ms time codes) and Tracks. */
export function mkvHeader(tracks: readonly MkvTrack[]): Buffer {
  const ebml = element(0x1a45dfa3, Buffer.concat([
    uint(0x4286, 1), uint(0x42f7, 1), uint(0x42f2, 4), uint(0x42f3, 8), str(0x4282, 'matroska'), uint(0x4287, 4), uint(0x4285, 2),
  ]));
  const segmentStart = Buffer.from([0x18, 0x53, 0x80, 0x67, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  const info = element(0x1549a966, Buffer.concat([uint(0x2ad7b1, 1_000_000), str(0x4d80, 'kmk-live'), str(0x5741, 'kmk-live')]));
  return Buffer.concat([ebml, segmentStart, info, element(0x1654ae6b, Buffer.concat(tracks.map(trackEntry)))]);
}

/** One frame as a Cluster of its own: time code `ms`, one SimpleBlock on track `track`. */
export function mkvFrame(track: number, ms: number, keyframe: boolean, data: Buffer): Buffer {
  const head = Buffer.from([0x80 | track, 0, 0, keyframe ? 0x80 : 0]);
  return element(0x1f43b675, Buffer.concat([uint(0xe7, ms), element(0xa3, Buffer.concat([head, data]))]));
}
