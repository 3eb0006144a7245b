// Reads the fragmented MP4 that ffmpeg writes for Low-Latency HLS: splits a byte stream into top-level boxes,
// reads the init segment (tracks, timescales, codecs) and each fragment (track, start time, duration, whether
// it starts on a sync sample). Pure functions and one small streaming splitter; nothing here touches a socket.

export interface Box {
  type: string;
  /** The whole box, header included. */
  bytes: Buffer;
}

/** Splits a byte stream into complete top-level boxes; keeps the unfinished tail for the next chunk. */
export class BoxSplitter {
  private tail: Buffer = Buffer.alloc(0);
  /** Most bytes one box may have (a corrupt size must not make us buffer without end). */
  constructor(private readonly maxBoxBytes = 64 * 1024 * 1024) {}

  push(chunk: Buffer): Box[] {
    const buf = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk;
    const out: Box[] = [];
    let p = 0;
    while (buf.length - p >= 8) {
      let size = buf.readUInt32BE(p);
      let header = 8;
      if (size === 1) {
        if (buf.length - p < 16) break;
        size = Number(buf.readBigUInt64BE(p + 8));
        header = 16;
      }
      if (size < header || size > this.maxBoxBytes) throw new Error(`corrupt MP4 stream: box of ${size} bytes`);
      if (buf.length - p < size) break;
      out.push({ type: buf.toString('latin1', p + 4, p + 8), bytes: buf.subarray(p, p + size) });
      p += size;
    }
    this.tail = p < buf.length ? Buffer.from(buf.subarray(p)) : Buffer.alloc(0);
    return out;
  }

  get pendingBytes(): number {
    return this.tail.length;
  }
}

interface Child {
  type: string;
  start: number;
  end: number;
}

/** The child boxes between start and end of buf. */
function children(buf: Buffer, start: number, end: number): Child[] {
  const out: Child[] = [];
  let p = start;
  while (p + 8 <= end) {
    const size = buf.readUInt32BE(p);
    if (size < 8 || p + size > end) break;
    out.push({ type: buf.toString('latin1', p + 4, p + 8), start: p, end: p + size });
    p += size;
  }
  return out;
}

const find = (buf: Buffer, start: number, end: number, type: string): Child | undefined =>
  children(buf, start, end).find((c) => c.type === type);

export interface TrackInfo {
  id: number;
  kind: 'video' | 'audio' | 'other';
  timescale: number;
  /** RFC 6381 codec string (avc1.PPCCLL, mp4a.40.N), when known. */
  codec?: string;
  width?: number;
  height?: number;
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** The sample entry's codec string: avc1 from its avcC, mp4a from its esds audio object type. */
function codecOf(buf: Buffer, stsd: Child): string | undefined {
  const entry = children(buf, stsd.start + 16, stsd.end)[0];
  if (!entry) return undefined;
  if (entry.type === 'avc1' || entry.type === 'avc3') {
    // VisualSampleEntry: 8 bytes of SampleEntry + 70 bytes of visual fields before the child boxes.
    const avcC = find(buf, entry.start + 8 + 78, entry.end, 'avcC');
    if (!avcC || avcC.end - avcC.start < 12) return entry.type;
    const p = avcC.start + 8;
    return `${entry.type}.${hex2(buf[p + 1]!)}${hex2(buf[p + 2]!)}${hex2(buf[p + 3]!)}`;
  }
  if (entry.type === 'mp4a') {
    // AudioSampleEntry: 8 + 20 bytes before esds. Audio object type = first 5 bits of the DecoderSpecificInfo.
    const esds = find(buf, entry.start + 8 + 28, entry.end, 'esds');
    if (!esds) return 'mp4a.40.2';
    const dsi = buf.subarray(esds.start + 12, esds.end).indexOf(0x05);
    if (dsi < 0) return 'mp4a.40.2';
    let p = esds.start + 12 + dsi + 1;
    while (p < esds.end && (buf[p]! & 0x80)) p += 1; // the descriptor's size bytes
    p += 1;
    const aot = p < esds.end ? buf[p]! >> 3 : 2;
    return `mp4a.40.${aot || 2}`;
  }
  return entry.type;
}

/** Reads the tracks of an init segment (ftyp + moov, or moov alone). */
export function parseInit(init: Buffer): TrackInfo[] {
  const moov = children(init, 0, init.length).find((c) => c.type === 'moov');
  if (!moov) throw new Error('init segment without moov');
  const tracks: TrackInfo[] = [];
  for (const trak of children(init, moov.start + 8, moov.end).filter((c) => c.type === 'trak')) {
    const tkhd = find(init, trak.start + 8, trak.end, 'tkhd');
    const mdia = find(init, trak.start + 8, trak.end, 'mdia');
    if (!tkhd || !mdia) continue;
    const v1 = init[tkhd.start + 8] === 1;
    const id = init.readUInt32BE(tkhd.start + 8 + 4 + (v1 ? 16 : 8));
    const mdhd = find(init, mdia.start + 8, mdia.end, 'mdhd');
    const hdlr = find(init, mdia.start + 8, mdia.end, 'hdlr');
    if (!mdhd || !hdlr) continue;
    const timescale = init.readUInt32BE(mdhd.start + 8 + 4 + (init[mdhd.start + 8] === 1 ? 16 : 8));
    const handler = init.toString('latin1', hdlr.start + 16, hdlr.start + 20);
    const kind = handler === 'vide' ? 'video' : handler === 'soun' ? 'audio' : 'other';
    const track: TrackInfo = { id, kind, timescale };
    const minf = find(init, mdia.start + 8, mdia.end, 'minf');
    const stbl = minf && find(init, minf.start + 8, minf.end, 'stbl');
    const stsd = stbl && find(init, stbl.start + 8, stbl.end, 'stsd');
    if (stsd) track.codec = codecOf(init, stsd);
    if (kind === 'video') {
      // tkhd ends with width and height as 16.16 fixed point.
      track.width = init.readUInt32BE(tkhd.end - 8) >>> 16;
      track.height = init.readUInt32BE(tkhd.end - 4) >>> 16;
    }
    tracks.push(track);
  }
  return tracks;
}

export interface TrackRun {
  trackId: number;
  /** Decode time of the first sample, in the track's timescale. */
  baseTime: number;
  /** Sum of the sample durations, in the track's timescale. */
  duration: number;
  samples: number;
  /** The first sample is a sync sample (a keyframe for video). */
  startsWithSync: boolean;
}

const NON_SYNC = 0x10000;

/** Reads every track run of one moof. `defaults` are the trex defaults per track (ffmpeg writes them in tfhd). */
export function parseMoof(moof: Buffer): TrackRun[] {
  const runs: TrackRun[] = [];
  for (const traf of children(moof, 8, moof.length).filter((c) => c.type === 'traf')) {
    const kids = children(moof, traf.start + 8, traf.end);
    const tfhd = kids.find((k) => k.type === 'tfhd');
    if (!tfhd) continue;
    const tfFlags = moof.readUInt32BE(tfhd.start + 8) & 0xffffff;
    const trackId = moof.readUInt32BE(tfhd.start + 12);
    let p = tfhd.start + 16;
    if (tfFlags & 0x1) p += 8; // base data offset
    if (tfFlags & 0x2) p += 4; // sample description index
    let defaultDuration = 0;
    if (tfFlags & 0x8) {
      defaultDuration = moof.readUInt32BE(p);
      p += 4;
    }
    if (tfFlags & 0x10) p += 4; // default sample size
    let defaultFlags = 0;
    if (tfFlags & 0x20) defaultFlags = moof.readUInt32BE(p);
    const tfdt = kids.find((k) => k.type === 'tfdt');
    const baseTime = !tfdt ? 0 : moof[tfdt.start + 8] === 1 ? Number(moof.readBigUInt64BE(tfdt.start + 12)) : moof.readUInt32BE(tfdt.start + 12);
    let duration = 0;
    let samples = 0;
    let startsWithSync = !(defaultFlags & NON_SYNC);
    for (const trun of kids.filter((k) => k.type === 'trun')) {
      const flags = moof.readUInt32BE(trun.start + 8) & 0xffffff;
      const count = moof.readUInt32BE(trun.start + 12);
      let q = trun.start + 16;
      if (flags & 0x1) q += 4; // data offset
      let firstFlags: number | undefined;
      if (flags & 0x4) {
        firstFlags = moof.readUInt32BE(q);
        q += 4;
      }
      const per = ((flags & 0x100) ? 4 : 0) + ((flags & 0x200) ? 4 : 0) + ((flags & 0x400) ? 4 : 0) + ((flags & 0x800) ? 4 : 0);
      for (let i = 0; i < count && q + per <= trun.end; i += 1) {
        let r = q;
        let d = defaultDuration;
        if (flags & 0x100) {
          d = moof.readUInt32BE(r);
          r += 4;
        }
        if (flags & 0x200) r += 4;
        let f = i === 0 && firstFlags !== undefined ? firstFlags : defaultFlags;
        if (flags & 0x400) f = moof.readUInt32BE(r);
        if (samples === 0) startsWithSync = !(f & NON_SYNC);
        duration += d;
        samples += 1;
        q += per;
      }
    }
    runs.push({ trackId, baseTime, duration, samples, startsWithSync });
  }
  return runs;
}
