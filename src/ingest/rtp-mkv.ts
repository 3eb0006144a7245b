// One WebRTC publisher's media, from RTP packets to the Matroska units the ladder reads: a jitter buffer and a frame
// assembler per track, the two tracks' RTP clocks put on one millisecond timeline (each from its first packet's
// arrival), and the header written once the video's first keyframe says what the picture is. Keeps the header and
// the newest GOP for subscribers that join late (the ladder after a restart, the relay). Pure: time comes in.

import type { MediaUnit } from '../media/sink.js';
import { mkvFrame, mkvHeader, type MkvTrack, type MkvVideoCodec } from '../media/mkv.js';
import { avcC, parseSps } from '../media/h264.js';
import { JitterBuffer, type JitterOut, type RtpIn } from './jitter.js';
import { H264Frames, OpusFrames, Vp8Frames, vp8Size, type Frame, type FrameAssembler } from './rtp-frames.js';

export const VIDEO_TRACK = 1;
export const AUDIO_TRACK = 2;
/** How long a missing packet is waited for: a NACK and its retransmission on a school network fit in it. */
export const JITTER_WAIT_MS = 150;
/** Bytes of the newest GOP kept for late subscribers. */
export const GOP_CACHE_BYTES = 16 * 1024 * 1024;

export interface TrackStats {
  packets: number;
  bytes: number;
  lost: number;
  frames: number;
  keyframes: number;
}

interface Clock {
  rate: number;
  /** Unwrapped RTP timestamp and arrival of the track's first frame. */
  first?: { ts: number; at: number };
  last: number;
}

export class RtpToMkv {
  private readonly jitter = { video: new JitterBuffer(JITTER_WAIT_MS), audio: new JitterBuffer(JITTER_WAIT_MS) };
  private readonly frames: { video: FrameAssembler; audio: FrameAssembler };
  private readonly clocks: { video: Clock; audio: Clock } = { video: { rate: 90000, last: -1 }, audio: { rate: 48000, last: -1 } };
  private header?: MediaUnit;
  private gop: MediaUnit[] = [];
  private gopBytes = 0;
  private readonly start: number;
  readonly stats = { video: blank(), audio: blank() };
  size?: { width: number; height: number };
  profile?: number;
  /** Video frames dropped while waiting for a keyframe (after loss). */
  dropped = 0;
  /** The longest time between two video frames handed on (ms, by arrival): how long the picture stood still. */
  longestStallMs = 0;
  private lastVideoAt?: number;
  /** Times (ms) of the newest video frames, for the frame rate. */
  private readonly recent: number[] = [];

  /**
   * @param video the negotiated video codec
   * @param hasAudio whether an Opus track was negotiated
   * @param emit where units go, in order
   * @param wantKeyframe asked when video needs a keyframe (start, after loss)
   */
  constructor(
    readonly video: MkvVideoCodec,
    private readonly hasAudio: boolean,
    private readonly emit: (u: MediaUnit) => void,
    private readonly wantKeyframe: () => void,
    now: number,
  ) {
    this.start = now;
    this.frames = { video: video === 'h264' ? new H264Frames() : new Vp8Frames(), audio: new OpusFrames() };
  }

  push(kind: 'video' | 'audio', p: RtpIn, now: number): void {
    if (kind === 'video') this.firsts.packet ??= now - this.start;
    const s = this.stats[kind];
    s.packets += 1;
    s.bytes += p.payload.length + 12;
    this.handle(kind, this.jitter[kind].push(p, now), now);
  }

  tick(now: number): void {
    this.handle('video', this.jitter.video.tick(now), now);
    this.handle('audio', this.jitter.audio.tick(now), now);
  }

  /** Frames per second over the newest two seconds of video (by the RTP clock), 0 until a few frames came. */
  fps(): number {
    const r = this.recent;
    if (r.length < 5) return 0;
    const span = (r[r.length - 1]! - r[0]!) / 1000;
    return span > 0 ? Math.min(60, Math.max(1, Math.round((r.length - 1) / span))) : 0;
  }

  /** The header and the newest GOP, for a subscriber that joins now. */
  snapshot(): MediaUnit[] {
    return this.header ? [this.header, ...this.gop] : [];
  }

  private handle(kind: 'video' | 'audio', out: JitterOut[], now: number): void {
    const asm = this.frames[kind];
    for (const o of out) {
      if (o.t === 'gap') {
        this.stats[kind].lost += o.lost;
        const was = asm.waitingForKey;
        asm.gap();
        if (kind === 'video' && !was) this.wantKeyframe();
        continue;
      }
      const wasWaiting = asm.waitingForKey;
      const f = asm.push(o.p);
      if (kind === 'video' && asm.waitingForKey && !wasWaiting) this.wantKeyframe();
      if (kind === 'video' && o.p.marker && !f && asm.waitingForKey) this.dropped += 1;
      if (f) this.frame(kind, f, now);
    }
  }

  private frame(kind: 'video' | 'audio', f: Frame, now: number): void {
    if (kind === 'video' && f.key && !this.header) this.writeHeader(f, now);
    if (!this.header) return; // audio before the first keyframe has nothing to play with
    const ms = this.time(kind, f.ts, now);
    this.stats[kind].frames += 1;
    if (kind === 'video') {
      this.recent.push(ms);
      if (this.recent.length > 61) this.recent.shift();
      if (this.lastVideoAt !== undefined) this.longestStallMs = Math.max(this.longestStallMs, now - this.lastVideoAt);
      this.lastVideoAt = now;
    }
    if (f.key && kind === 'video') this.stats.video.keyframes += 1;
    const unit: MediaUnit = {
      format: 'mkv',
      kind: kind === 'audio' ? 'audio' : f.key ? 'video-key' : 'video',
      ts: ms,
      data: mkvFrame(kind === 'video' ? VIDEO_TRACK : AUDIO_TRACK, ms, f.key, f.data),
    };
    this.keep(unit);
    this.emit(unit);
  }

  /** Milliseconds from the publish to its first video packet and to the header (its first keyframe). */
  readonly firsts: { packet?: number; header?: number } = {};

  private writeHeader(f: Frame, now: number): void {
    this.firsts.header = now - this.start;
    const tracks: MkvTrack[] = [];
    if (this.video === 'h264') {
      const h = this.frames.video as H264Frames;
      const sps = parseSps(h.sps!);
      this.size = { width: sps.width, height: sps.height };
      this.profile = sps.profile;
      tracks.push({ number: VIDEO_TRACK, kind: 'video', codec: 'h264', priv: avcC(h.sps!, h.pps!), ...this.size });
    } else {
      this.size = vp8Size(f.data) ?? { width: 0, height: 0 };
      tracks.push({ number: VIDEO_TRACK, kind: 'video', codec: this.video, ...this.size });
    }
    if (this.hasAudio) tracks.push({ number: AUDIO_TRACK, kind: 'audio', codec: 'opus', channels: 2, sampleRate: 48000 });
    this.header = { format: 'mkv', kind: 'header', ts: 0, data: mkvHeader(tracks), ...(this.profile ? { profile: this.profile } : {}) };
    this.emit(this.header);
  }

  /** Milliseconds since the publish began, from the track's RTP clock; never going backwards. */
  private time(kind: 'video' | 'audio', ts: number, now: number): number {
    const c = this.clocks[kind];
    if (!c.first) c.first = { ts, at: now - this.start };
    let d = ts - c.first.ts;
    if (d < -(2 ** 31)) d += 2 ** 32;
    else if (d > 2 ** 31) d -= 2 ** 32;
    // A 32-bit RTP clock wraps after 13 h at 90 kHz: move the base along so long classes keep going.
    if (d > 2 ** 30) {
      c.first = { ts, at: c.first.at + Math.round((d * 1000) / c.rate) };
      d = 0;
    }
    const ms = Math.max(c.last, Math.round(c.first.at + (d * 1000) / c.rate));
    c.last = ms;
    return ms;
  }

  private keep(u: MediaUnit): void {
    if (u.kind === 'video-key') {
      this.gop = [u];
      this.gopBytes = u.data.length;
      return;
    }
    if (this.gop.length === 0) return; // no keyframe to start from (yet, or the GOP outgrew the cache)
    if (this.gopBytes + u.data.length > GOP_CACHE_BYTES) {
      this.gop = [];
      this.gopBytes = 0;
      return;
    }
    this.gop.push(u);
    this.gopBytes += u.data.length;
  }
}

function blank(): TrackStats {
  return { packets: 0, bytes: 0, lost: 0, frames: 0, keyframes: 0 };
}
