// Turns in-order RTP payloads into whole frames: VP8 (RFC 7741), H.264 (RFC 6184: single NAL, STAP-A, FU-A) and
// Opus (RFC 7587, one frame per packet). A frame is complete at the packet with the marker bit; a gap (a packet the
// jitter buffer gave up on) drops the frame being built, and video then waits for the next keyframe, so the ladder
// never decodes a frame with a hole in it. Pure.

import type { RtpIn } from './jitter.js';

export interface Frame {
  /** RTP timestamp of the frame. */
  ts: number;
  key: boolean;
  /** VP8/Opus: the frame as it is; H.264: the access unit's NAL units, each behind a 4-byte length. */
  data: Buffer;
}

export interface FrameAssembler {
  push(p: RtpIn): Frame | undefined;
  /** Packets were lost: drop what is being built. */
  gap(): void;
  /** True while video waits for a keyframe (after a gap or at the start). */
  readonly waitingForKey: boolean;
}

export class OpusFrames implements FrameAssembler {
  readonly waitingForKey = false;
  push(p: RtpIn): Frame | undefined {
    return p.payload.length > 0 ? { ts: p.ts, key: true, data: p.payload } : undefined;
  }
  gap(): void {}
}

/** Length of the VP8 payload descriptor at the start of a packet, and whether it starts a frame. */
export function vp8Descriptor(b: Buffer): { length: number; start: boolean } | undefined {
  if (b.length < 1) return undefined;
  let i = 1;
  const x = (b[0]! & 0x80) !== 0;
  const start = (b[0]! & 0x10) !== 0 && (b[0]! & 0x0f) === 0;
  if (x) {
    if (b.length < 2) return undefined;
    const ext = b[1]!;
    i = 2;
    if (ext & 0x80) i += b.length > i && (b[i]! & 0x80) ? 2 : 1; // PictureID, 7 or 15 bits
    if (ext & 0x40) i += 1; // TL0PICIDX
    if (ext & 0x30) i += 1; // TID / KEYIDX
  }
  return i <= b.length ? { length: i, start } : undefined;
}

/** Width and height of a VP8 keyframe (RFC 6386 9.1), or undefined for an interframe. */
export function vp8Size(frame: Buffer): { width: number; height: number } | undefined {
  if (frame.length < 10 || (frame[0]! & 1) !== 0 || frame[3] !== 0x9d || frame[4] !== 0x01 || frame[5] !== 0x2a) return undefined;
  return { width: frame.readUInt16LE(6) & 0x3fff, height: frame.readUInt16LE(8) & 0x3fff };
}

export class Vp8Frames implements FrameAssembler {
  private parts: Buffer[] = [];
  private building = false;
  waitingForKey = true;

  push(p: RtpIn): Frame | undefined {
    // Padding only (a browser probing for bandwidth sends these on the video stream): nothing to assemble.
    if (p.payload.length === 0) return undefined;
    const d = vp8Descriptor(p.payload);
    if (!d) return this.drop();
    if (d.start) {
      this.parts = [];
      this.building = true;
    }
    if (!this.building) return undefined;
    this.parts.push(p.payload.subarray(d.length));
    if (!p.marker) return undefined;
    const data = Buffer.concat(this.parts);
    this.parts = [];
    this.building = false;
    const key = data.length > 0 && (data[0]! & 1) === 0;
    if (key) this.waitingForKey = false;
    if (this.waitingForKey || data.length === 0) return undefined;
    return { ts: p.ts, key, data };
  }

  gap(): void {
    this.drop();
  }

  private drop(): undefined {
    this.parts = [];
    this.building = false;
    this.waitingForKey = true;
    return undefined;
  }
}

export class H264Frames implements FrameAssembler {
  private nals: Buffer[] = [];
  private fu: Buffer[] | undefined;
  private broken = false;
  waitingForKey = true;
  /** The newest SPS and PPS seen (they make the track's avcC). */
  sps?: Buffer;
  pps?: Buffer;

  push(p: RtpIn): Frame | undefined {
    const b = p.payload;
    if (b.length < 1) return undefined;
    const type = b[0]! & 0x1f;
    if (type >= 1 && type <= 23) this.nal(b);
    else if (type === 24) {
      for (let i = 1; i + 2 <= b.length;) {
        const n = b.readUInt16BE(i);
        if (n === 0 || i + 2 + n > b.length) {
          this.broken = true;
          break;
        }
        this.nal(b.subarray(i + 2, i + 2 + n));
        i += 2 + n;
      }
    } else if (type === 28 && b.length > 2) {
      const s = (b[1]! & 0x80) !== 0;
      const e = (b[1]! & 0x40) !== 0;
      if (s) this.fu = [Buffer.from([(b[0]! & 0xe0) | (b[1]! & 0x1f)])];
      if (!this.fu) this.broken = true;
      else {
        this.fu.push(b.subarray(2));
        if (e) {
          this.nal(Buffer.concat(this.fu));
          this.fu = undefined;
        }
      }
    } else this.broken = true; // STAP-B, MTAP, FU-B: not sent by browsers or OBS
    if (!p.marker) return undefined;
    const nals = this.nals;
    const broken = this.broken || this.fu !== undefined;
    this.nals = [];
    this.fu = undefined;
    this.broken = false;
    if (broken || nals.length === 0) {
      this.waitingForKey = true;
      return undefined;
    }
    const key = nals.some((n) => (n[0]! & 0x1f) === 5);
    if (key && this.sps && this.pps) this.waitingForKey = false;
    if (this.waitingForKey) return undefined;
    const data = Buffer.concat(nals.flatMap((n) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(n.length);
      return [len, n];
    }));
    return { ts: p.ts, key, data };
  }

  private nal(n: Buffer): void {
    const type = n[0]! & 0x1f;
    if (type === 7) this.sps = Buffer.from(n);
    if (type === 8) this.pps = Buffer.from(n);
    this.nals.push(n);
  }

  gap(): void {
    this.nals = [];
    this.fu = undefined;
    this.broken = false;
    this.waitingForKey = true;
  }
}
