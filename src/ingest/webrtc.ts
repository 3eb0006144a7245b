// WebRTC ingest (WHIP, RFC 9725) on werift (pure TypeScript, the only module that imports it). Answers a publisher's
// SDP offer, admits it like an RTMP publish (same handlers, same refusals), and turns its RTP into Matroska units
// (rtp-mkv.ts) for the class. Asks for keyframes (PLI) at the start and after loss; werift sends the NACKs. A
// connection that drops is reported as a disconnect (the class waits its reconnect grace); DELETE ends the publish.

import { randomBytes } from 'node:crypto';
import {
  ReceiverEstimatedMaxBitrate, RTCPeerConnection, RTCRtpCodecParameters, RtcpPayloadSpecificFeedback, useNACK, usePLI, useREMB,
  useSdesMid, useTransportWideCC, useTWCC,
  type MediaStreamTrack, type RTCRtpTransceiver,
} from 'werift';
import type { Logger } from '../log.js';
import type { MediaSink, MediaUnit } from '../media/sink.js';
import type { Admission, Ingest, IngestHandlers, RefusalCode, SourceMeta } from '../live/ports.js';
import { advertise, answeredCodecs, checkOffer, fragmentCandidates } from './sdp.js';
import { RtpToMkv } from './rtp-mkv.js';
import { FailureGuard } from './failure-guard.js';
import type { IceServer } from '../config/webrtc.js';

export type { IceServer };

export interface WebRtcOptions {
  /** Address added to the answer's candidates (a box behind NAT); none: the box's own addresses only. */
  publicIp?: string;
  /** UDP ports ICE binds in, [first, last]; none: any. */
  udpPorts?: [number, number];
  iceServers: IceServer[];
  /** Publishers (connections) at most, admitted or negotiating. */
  maxPublishers: number;
  /** How long a dropped connection's publish stays open for it to come back. */
  graceMs: number;
  maxFailuresPerMinute: number;
  log: Logger;
  now?: () => number;
}

/** Who publishes: the key or instructor token the HTTP layer checked, and a hash of the bearer for later requests. */
export interface WhipWho {
  key: string;
  channelId?: number;
  byInstructor?: boolean;
  address: string;
  owner: string;
}

export type WhipAnswer =
  | { ok: true; id: string; answer: string }
  | { ok: false; status: number; code: RefusalCode | 'bad_offer' | 'too_many' | 'throttled'; reason: string };

/** HTTP status of each refusal (RFC 9725 leaves them to the server; these match what the reason means). */
export const REFUSAL_STATUS: Record<RefusalCode, number> = { unknown_key: 401, channel_busy: 409, disk_low: 503, over_budget: 503, shutting_down: 503 };

/** The connection must reach "connected" this soon after the answer. */
export const CONNECT_TIMEOUT_MS = 15_000;
/** A throttled address may try once this often. */
export const THROTTLED_EVERY_MS = 1000;
/** Keyframe requests at most this often. */
export const PLI_INTERVAL_MS = 500;
/**
 * The bitrate each publisher is told it may send (REMB, every second). Without it a browser's estimate stays where
 * it starts (a few hundred kbit/s: 640×360); with it the browser climbs to this cap and still backs off on loss.
 */
export const REMB_BPS = 3_000_000;

/** REMB's bitrate as exponent and 18-bit mantissa. Pure. */
export function rembFields(bps: number): { brExp: number; brMantissa: number } {
  let brExp = 0;
  while (bps / 2 ** brExp > 0x3ffff) brExp += 1;
  return { brExp, brMantissa: Math.floor(bps / 2 ** brExp) };
}

/** A connection "disconnected" this long (not back to "connected") counts as dropped. */
export const DISCONNECTED_MS = 3000;
/** How often the jitter buffers release what waited long enough. */
const TICK_MS = 20;

interface Publisher {
  id: string;
  pc: RTCPeerConnection;
  media?: RtpToMkv;
  subscribers: Set<MediaSink>;
  state: 'negotiating' | 'admitted' | 'dropped' | 'ended';
  address: string;
  lastPli: number;
  startedAt: number;
  grace?: NodeJS.Timeout;
  connectTimer?: NodeJS.Timeout;
  rttMs?: number;
  /** Hash of the bearer token that created it: PATCH and DELETE must carry the same. */
  owner: string;
  /** Sends a keyframe request for the video track, once it is known. */
  pli?: () => void;
  /** Tells the publisher how much it may send. */
  remb?: () => void;
  blip?: NodeJS.Timeout;
}

export interface WhipStats {
  bytes: number;
  packets: number;
  /** Packets given up on after waiting for their retransmission. */
  lost: number;
  /** Video frames dropped while waiting for a keyframe after a loss. */
  framesDropped: number;
  /** The longest time the picture stood still (no video frame handed on), ms. */
  longestStallMs: number;
  rttMs?: number;
  keyframes: number;
  startedAt: number;
}

export class WebRtcIngest implements Ingest {
  private readonly pubs = new Map<string, Publisher>();
  /** Last attempt of each throttled address. */
  private readonly throttled = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private statsTimer?: NodeJS.Timeout;
  readonly guard: FailureGuard;
  readonly counters = { rejectedPublishes: 0, badOffers: 0, connectTimeouts: 0 };
  private readonly now: () => number;

  constructor(private readonly o: WebRtcOptions, private readonly handlers: IngestHandlers) {
    this.now = o.now ?? Date.now;
    this.guard = new FailureGuard({ maxFailuresPerMinute: o.maxFailuresPerMinute, blockMs: 5 * 60000 });
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => {
      const now = this.now();
      for (const p of this.pubs.values()) p.media?.tick(now);
    }, TICK_MS);
    this.timer.unref();
    this.statsTimer = setInterval(() => {
      for (const p of this.pubs.values()) if (p.state === 'admitted') p.remb?.();
      void this.readRtts();
    }, 1000);
    this.statsTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.statsTimer);
    await Promise.all([...this.pubs.keys()].map((id) => this.close(id, true)));
  }

  /** Answers a WHIP POST: the offer checked and answered, then the publish admitted (a refusal closes the peer). */
  async publish(offer: string, who: WhipWho): Promise<WhipAnswer> {
    const { address } = who;
    // An address over the bad-key limit is slowed, never locked out (as over RTMP): a school's NAT hides the teacher
    // behind the same address as the pupil guessing keys. One attempt a second from it, so the work stays bounded.
    const now = this.now();
    if (this.guard.isBlocked(address, now)) {
      const last = this.throttled.get(address) ?? 0;
      if (now - last < THROTTLED_EVERY_MS) {
        return { ok: false, status: 429, code: 'throttled', reason: 'this address is throttled after too many bad keys: one attempt a second' };
      }
      this.throttled.set(address, now);
      if (this.throttled.size > 10_000) this.throttled.clear();
    }
    const check = checkOffer(offer);
    if (!check.ok) {
      this.counters.badOffers += 1;
      return { ok: false, status: 400, code: 'bad_offer', reason: check.reason };
    }
    if (this.pubs.size >= this.o.maxPublishers) return { ok: false, status: 503, code: 'too_many', reason: `this box takes ${this.o.maxPublishers} WebRTC publishers at most` };
    const id = 'whip-' + randomBytes(16).toString('hex'); // the session URL's secret part
    const pc = new RTCPeerConnection({
      codecs: {
        video: [
          new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, rtcpFeedback: [useNACK(), usePLI(), useREMB(), useTWCC()] }),
          new RTCRtpCodecParameters({
            mimeType: 'video/H264', clockRate: 90000, rtcpFeedback: [useNACK(), usePLI(), useREMB(), useTWCC()],
            parameters: 'profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1',
          }),
        ],
        audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })],
      },
      // Transport-wide congestion control: the browser's send-side estimate needs this box's feedback, or it
      // stays at its start (tens of kbit/s: a frozen picture).
      headerExtensions: { video: [useSdesMid(), useTransportWideCC()], audio: [useSdesMid(), useTransportWideCC()] },
      iceServers: this.o.iceServers,
      ...(this.o.udpPorts ? { icePortRange: this.o.udpPorts } : {}),
      iceUseIpv6: false,
    });
    const p: Publisher = { id, pc, subscribers: new Set(), state: 'negotiating', address, lastPli: 0, startedAt: this.now(), owner: who.owner };
    this.pubs.set(id, p);
    let answer: string;
    let codecs: ReturnType<typeof answeredCodecs>;
    // Tracks appear while the offer is applied: followed from then, their media used once the publish is admitted.
    pc.onTrack.subscribe((track) => this.follow(p, track));
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: offer });
      await pc.setLocalDescription(await pc.createAnswer());
      answer = advertise(pc.localDescription?.sdp ?? '', this.o.publicIp);
      codecs = answeredCodecs(answer);
      if (!codecs.video) throw new Error('no video codec in common (this server takes VP8, VP9 or H.264)');
    } catch (err) {
      this.counters.badOffers += 1;
      await this.close(id, false);
      return { ok: false, status: 400, code: 'bad_offer', reason: `the offer could not be answered: ${(err as Error).message}` };
    }
    let verdict: Admission;
    try {
      verdict = this.handlers.admit({
        id, key: who.key, address, via: 'whip', ...(who.channelId !== undefined ? { channelId: who.channelId } : {}), ...(who.byInstructor ? { byInstructor: true } : {}),
      });
    } catch (err) {
      this.o.log.error('publish check failed', { err });
      verdict = { ok: false, code: 'shutting_down', reason: 'internal error' };
    }
    if (!verdict.ok) {
      this.counters.rejectedPublishes += 1;
      if (verdict.code === 'unknown_key') this.guard.recordFailure(address, this.now());
      this.o.log.warn('publish refused', { from: address, via: 'whip', reason: verdict.reason });
      await this.close(id, false);
      return { ok: false, status: REFUSAL_STATUS[verdict.code], code: verdict.code, reason: verdict.reason };
    }
    if (verdict.replaces && this.pubs.has(verdict.replaces)) void this.close(verdict.replaces, false);
    p.state = 'admitted';
    p.media = new RtpToMkv(codecs.video!, codecs.audio === 'opus', (u) => this.deliver(p, u), () => this.askKeyframe(p), this.now());
    pc.connectionStateChange.subscribe((state) => {
      this.o.log.debug('webrtc connection state', { from: address, state });
      clearTimeout(p.blip);
      if (state === 'connected') clearTimeout(p.connectTimer);
      if (state === 'failed' || state === 'closed') this.dropped(p, state);
      // "disconnected" is often a blip of a second (a Wi-Fi roam): a drop only if it lasts.
      if (state === 'disconnected') p.blip = setTimeout(() => this.dropped(p, 'disconnected'), DISCONNECTED_MS);
    });
    p.connectTimer = setTimeout(() => {
      if (pc.connectionState === 'connected') return;
      this.counters.connectTimeouts += 1;
      this.o.log.warn('webrtc publisher never connected: UDP to this box may be blocked', { from: address });
      this.dropped(p, 'no connection');
    }, CONNECT_TIMEOUT_MS);
    p.connectTimer.unref();
    return { ok: true, id, answer };
  }

  /** True when `id` is a session made with this bearer (its hash). */
  ownedBy(id: string, owner: string): boolean {
    return this.pubs.get(id)?.owner === owner;
  }

  /** Trickled candidates (PATCH). An ICE restart is not supported: the publisher POSTs again (a reconnect). */
  async patch(id: string, fragment: string): Promise<{ status: number; reason?: string }> {
    const p = this.pubs.get(id);
    if (!p || p.state === 'ended') return { status: 404, reason: 'no such WHIP session' };
    const { candidates, ufrag } = fragmentCandidates(fragment);
    const current = /^a=ice-ufrag:(\S+)/m.exec(p.pc.remoteDescription?.sdp ?? '')?.[1];
    if (ufrag && current && ufrag !== current) return { status: 405, reason: 'ICE restart is not supported here: POST a new offer with the same key (the class continues)' };
    for (const c of candidates) {
      try {
        await p.pc.addIceCandidate({ candidate: c, sdpMLineIndex: 0 });
      } catch (err) {
        return { status: 400, reason: `bad candidate: ${(err as Error).message}` };
      }
    }
    return { status: 204 };
  }

  /** DELETE: the publisher ends the class. */
  async end(id: string): Promise<boolean> {
    const p = this.pubs.get(id);
    if (!p) return false;
    await this.close(id, true);
    return true;
  }

  owns(id: string): boolean {
    const p = this.pubs.get(id);
    return !!p && p.state !== 'negotiating' && p.state !== 'ended';
  }

  meta(id: string): SourceMeta | undefined {
    const p = this.pubs.get(id);
    const m = p?.media;
    if (!p || !m) return undefined;
    const seconds = Math.max(1, (this.now() - p.startedAt) / 1000);
    const bytes = m.stats.video.bytes + m.stats.audio.bytes;
    return {
      // The nominal rate the ladder encodes at: a browser's varies with load; 60 only when it really sends 60.
      videoCodec: m.video, width: m.size?.width ?? 0, height: m.size?.height ?? 0, fps: m.fps() >= 45 ? 60 : m.fps() > 0 ? 30 : 0,
      videoKbps: Math.round((m.stats.video.bytes * 8) / 1000 / seconds), audioCodec: 'opus', inBytes: bytes, container: 'mkv', via: 'whip',
    };
  }

  /** Bitrate, loss and round trip of a publisher (metrics). */
  stats(id: string): WhipStats | undefined {
    const p = this.pubs.get(id);
    const m = p?.media;
    if (!p || !m) return undefined;
    return {
      bytes: m.stats.video.bytes + m.stats.audio.bytes, packets: m.stats.video.packets + m.stats.audio.packets,
      lost: m.stats.video.lost + m.stats.audio.lost, keyframes: m.stats.video.keyframes, startedAt: p.startedAt,
      framesDropped: m.dropped, longestStallMs: m.longestStallMs,
      ...(p.rttMs !== undefined ? { rttMs: p.rttMs } : {}),
    };
  }

  /** Publishers now, by id (for /metrics). */
  ids(): string[] {
    return [...this.pubs.values()].filter((p) => p.state === 'admitted').map((p) => p.id);
  }

  subscribe(id: string, sink: MediaSink): () => void {
    const p = this.pubs.get(id);
    if (!p?.media || p.state === 'ended') throw new Error(`publish ${id} is not live`);
    for (const u of p.media.snapshot()) sink.write(u);
    p.subscribers.add(sink);
    if (p.media.snapshot().length === 0) this.askKeyframe(p);
    return () => p.subscribers.delete(sink);
  }

  kick(id: string): void {
    void this.close(id, true);
  }

  private follow(p: Publisher, track: MediaStreamTrack): void {
    const kind = track.kind === 'video' ? 'video' : 'audio';
    const transceiver = p.pc.getTransceivers().find((t: RTCRtpTransceiver) => t.receiver.tracks.includes(track));
    const pt = transceiver?.codecs[0]?.payloadType;
    this.o.log.debug('webrtc track', { kind, payloadType: pt, ssrc: track.ssrc });
    track.onReceiveRtp.subscribe((rtp) => {
      if (p.state === 'ended' || !p.media) return;
      if (pt !== undefined && rtp.header.payloadType !== pt) return; // only the negotiated codec (no RTX, RED, FEC)
      p.media.push(kind, { seq: rtp.header.sequenceNumber, ts: rtp.header.timestamp, marker: rtp.header.marker, payload: rtp.payload }, this.now());
    });
    if (kind === 'video') {
      p.pli = (): void => {
        if (track.ssrc) void transceiver?.receiver.sendRtcpPLI(track.ssrc);
      };
      const receiver = transceiver?.receiver as unknown as { rtcpSsrc: number; dtlsTransport: { sendRtcp(p: unknown[]): Promise<void> } } | undefined;
      p.remb = (): void => {
        if (!track.ssrc || !receiver) return;
        const feedback = new ReceiverEstimatedMaxBitrate({ senderSsrc: receiver.rtcpSsrc, mediaSsrc: 0, ssrcNum: 1, ssrcFeedbacks: [track.ssrc], ...rembFields(REMB_BPS) });
        void receiver.dtlsTransport.sendRtcp([new RtcpPayloadSpecificFeedback({ feedback })]).catch(() => undefined);
      };
      p.remb();
      this.askKeyframe(p);
    }
  }

  private askKeyframe(p: Publisher): void {
    const now = this.now();
    if (now - p.lastPli < PLI_INTERVAL_MS || !p.pli) return;
    p.lastPli = now;
    p.pli();
  }

  private deliver(p: Publisher, u: MediaUnit): void {
    for (const s of p.subscribers) s.write(u);
  }

  /** The connection went away: the class waits the reconnect grace, then the publish ends. */
  private dropped(p: Publisher, why: string): void {
    if (p.state !== 'admitted') return;
    p.state = 'dropped';
    clearTimeout(p.connectTimer);
    this.o.log.info('webrtc publisher dropped', { from: p.address, why });
    try {
      this.handlers.disconnected(p.id);
    } catch (err) {
      this.o.log.error('disconnect handling failed', { err });
    }
    p.grace = setTimeout(() => void this.close(p.id, true), this.o.graceMs);
    p.grace.unref();
  }

  private async close(id: string, tell: boolean): Promise<void> {
    const p = this.pubs.get(id);
    if (!p) return;
    const wasLive = p.state === 'admitted' || p.state === 'dropped';
    p.state = 'ended';
    this.pubs.delete(id);
    clearTimeout(p.grace);
    clearTimeout(p.connectTimer);
    clearTimeout(p.blip);
    p.subscribers.clear();
    if (wasLive && p.media) {
      const { video, audio } = p.media.stats;
      this.o.log.info('webrtc publisher closed', {
        from: p.address, seconds: Math.round((this.now() - p.startedAt) / 1000), videoPackets: video.packets, videoLost: video.lost,
        frames: video.frames, intraFrames: video.keyframes, framesDropped: p.media.dropped, longestStallMs: p.media.longestStallMs,
        audioPackets: audio.packets, audioLost: audio.lost, firstPacketMs: p.media.firsts.packet, firstPictureMs: p.media.firsts.header,
      });
    }
    if (tell && wasLive) {
      try {
        this.handlers.ended(id);
      } catch (err) {
        this.o.log.error('unpublish handling failed', { err });
      }
    }
    await p.pc.close().catch(() => undefined);
  }

  private async readRtts(): Promise<void> {
    for (const p of this.pubs.values()) {
      if (p.state !== 'admitted') continue;
      try {
        const report = await p.pc.getStats();
        for (const s of report.values() as Iterable<{ type: string; currentRoundTripTime?: number; nominated?: boolean }>) {
          if (s.type === 'candidate-pair' && s.currentRoundTripTime !== undefined) p.rttMs = Math.round(s.currentRoundTripTime * 1000);
        }
      } catch {
        // stats are best effort
      }
    }
  }
}
