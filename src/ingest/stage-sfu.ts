// The stage's media (issue 27): a selective forwarding unit on werift. Each member's page sends its microphone (and
// camera) and receives the others on a fixed number of receive slots it offered, so nobody renegotiates when
// someone joins or leaves: the server only says, on a data channel, which slot carries whom. Packets are forwarded
// as they come (no mixing, no decoding for the members); each member's voice is also decoded and queued in the
// class's mix for the broadcast (transcode/stage-audio.ts), except the host's: the instructor's voice is in the
// broadcast already, from OBS or the browser.
// Who may publish is the hub's word (Room.mayPublish), asked on join and every POLL_MS after: a member taken off the
// stage is cut within that time, a muted one is not forwarded nor mixed.

import { randomBytes } from 'node:crypto';
import {
  PictureLossIndication, RTCPeerConnection, RTCRtpCodecParameters, RtcpPayloadSpecificFeedback, RtpPacket, useNACK, usePLI, useSdesMid,
  type MediaStreamTrack, type RTCDataChannel, type RTCRtpSender, type RTCRtpTransceiver,
} from 'werift';
import type { Logger } from '../log.js';
import { OpusDecoder } from '../media/opus.js';
import { PcmMix } from '../media/pcm-mix.js';
import { advertise, checkStageOffer } from './sdp.js';
import type { IceServer } from '../config/webrtc.js';
import { slotPlan, type SlotView } from './stage-slots.js';
import { StagePicture } from '../media/stage-picture.js';
import { CameraDecoder, drawName, type Pids } from './stage-video.js';

/** How often the hub is asked whether each member may still publish (ms). */
export const POLL_MS = 250;
/** Receive slots a page may offer, at most (pairs of audio and video). */
export const MAX_SLOTS = 19;
/** Keyframe requests forwarded to a member at most this often (ms). */
const PLI_MS = 500;
const CONNECT_TIMEOUT_MS = 15_000;

export interface StageSfuOptions {
  publicIp?: string;
  udpPorts?: [number, number];
  iceServers: IceServer[];
  /** Connections on this box at most (all classes). */
  maxConnections: number;
  log: Logger;
  /** Compose the stage's picture for the broadcast (stage.picture): members' cameras decoded by ffmpeg into tiles. */
  picture?: { ffmpegPath: string; pids?: Pids };
}

export interface StageSfuDeps {
  /** What the hub lets this user publish in this class now; undefined when the class's room is not on this box. */
  mayPublish(slug: string, userId: string): { video: boolean; audio: boolean } | undefined;
}

export interface StageWho {
  slug: string;
  userId: string;
  name: string;
  /** The class's instructor at their studio: heard by the stage, not mixed (their voice is in the broadcast). */
  host: boolean;
  /** Hash of the bearer: DELETE must carry the same. */
  owner: string;
}

export type StageJoin = { ok: true; id: string; answer: string } | { ok: false; status: number; reason: string };

interface Slot {
  audio: RTCRtpSender;
  video: RTCRtpSender;
  audioMid: string;
  videoMid: string;
  source?: string;
  rebase: { audio: boolean; video: boolean };
}

interface Member {
  id: string;
  who: StageWho;
  pc: RTCPeerConnection;
  slots: Slot[];
  channel?: RTCDataChannel;
  joinedAt: number;
  allowed: { video: boolean; audio: boolean };
  pli?: () => void;
  lastPli: number;
  decoder?: OpusDecoder;
  camera?: CameraDecoder;
  closed: boolean;
  timer?: NodeJS.Timeout;
  stats: { audioIn: number; videoIn: number; forwarded: number; mixed: number };
}

export interface StageMemberStats {
  userId: string;
  host: boolean;
  audioIn: number;
  videoIn: number;
  forwarded: number;
  mixed: number;
}

export class StageSfu {
  private readonly members = new Map<string, Member>();
  private readonly mixes = new Map<string, PcmMix>();
  private readonly pictures = new Map<string, StagePicture>();
  private poll?: NodeJS.Timeout;

  constructor(private readonly o: StageSfuOptions, private readonly d: StageSfuDeps) {}

  start(): void {
    this.poll = setInterval(() => this.check(), POLL_MS);
    this.poll.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.poll);
    await Promise.all([...this.members.values()].map((m) => this.close(m, 'the server is stopping')));
  }

  /** The class's mix of stage voices, read by its ladder (one per class, kept while the box runs it). */
  mix(slug: string): PcmMix {
    let m = this.mixes.get(slug);
    if (!m) this.mixes.set(slug, (m = new PcmMix()));
    return m;
  }

  /** The class's stage as the broadcast shows it, read by its ladder (one per class, kept while the box runs it). */
  picture(slug: string): StagePicture {
    let p = this.pictures.get(slug);
    if (!p) this.pictures.set(slug, (p = new StagePicture()));
    return p;
  }

  /** Members connected now, per class (tests, metrics). */
  stats(slug: string): StageMemberStats[] {
    return [...this.members.values()].filter((m) => m.who.slug === slug && !m.closed)
      .map((m) => ({ userId: m.who.userId, host: m.who.host, ...m.stats }));
  }

  ownedBy(id: string, owner: string): boolean {
    return this.members.get(id)?.who.owner === owner;
  }

  /** A member's page offers its media and receive slots; answered when the hub lets this user publish. */
  async join(offer: string, who: StageWho): Promise<StageJoin> {
    const allowed = this.d.mayPublish(who.slug, who.userId);
    if (!allowed) return { ok: false, status: 409, reason: 'this class is not live on this box' };
    if (!allowed.audio && !allowed.video) {
      return { ok: false, status: 403, reason: 'you are not on this class\'s stage: the instructor invites you (or, staff, step up with stage_join)' };
    }
    const check = checkStageOffer(offer, MAX_SLOTS);
    if (!check.ok) return { ok: false, status: 400, reason: check.reason };
    if (this.members.size >= this.o.maxConnections) return { ok: false, status: 503, reason: `this box takes ${this.o.maxConnections} stage connections at most` };
    // One connection per person: a second tab replaces the first.
    for (const m of this.members.values()) if (m.who.slug === who.slug && m.who.userId === who.userId) void this.close(m, 'replaced');
    const id = 'stage-' + randomBytes(16).toString('hex');
    const pc = new RTCPeerConnection({
      codecs: {
        // One video codec for all: what one member sends is what another receives.
        video: [new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, rtcpFeedback: [useNACK(), usePLI()] })],
        audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })],
      },
      headerExtensions: { video: [useSdesMid()], audio: [useSdesMid()] },
      iceServers: this.o.iceServers,
      ...(this.o.udpPorts ? { icePortRange: this.o.udpPorts } : {}),
      iceUseIpv6: false,
    });
    const m: Member = {
      id, who, pc, slots: [], joinedAt: Date.now(), allowed, lastPli: 0, closed: false,
      stats: { audioIn: 0, videoIn: 0, forwarded: 0, mixed: 0 },
      ...(who.host ? {} : { decoder: new OpusDecoder() }),
    };
    pc.onTrack.subscribe((track) => this.follow(m, track));
    pc.onDataChannel.subscribe((dc) => {
      m.channel = dc;
      dc.stateChanged.subscribe((s) => {
        if (s === 'open') this.sendSlots(m);
      });
    });
    let answer: string;
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: offer });
      // offerDirection is the remote's, reversed: 'sendonly' is a slot the page receives on.
      const recv = pc.getTransceivers().filter((t) => t.offerDirection === 'sendonly');
      const audio = recv.filter((t) => t.kind === 'audio');
      const video = recv.filter((t) => t.kind === 'video');
      const n = Math.min(audio.length, video.length, MAX_SLOTS);
      for (const t of recv) t.setDirection('sendonly');
      for (let i = 0; i < n; i += 1) m.slots.push(this.slot(audio[i]!, video[i]!));
      await pc.setLocalDescription(await pc.createAnswer());
      answer = advertise(pc.localDescription?.sdp ?? '', this.o.publicIp);
    } catch (err) {
      m.decoder?.close();
      await pc.close().catch(() => undefined);
      return { ok: false, status: 400, reason: `the offer could not be answered: ${(err as Error).message}` };
    }
    this.members.set(id, m);
    // A page's keyframe requests for a slot, read off the transport: werift routes a PLI by its sender SSRC first,
    // which a browser takes from its own outgoing stream, so it would reach our receiver, not the slot's sender.
    pc.getTransceivers()[0]?.dtlsTransport.onRtcp.subscribe((packet) => {
      if (packet.type !== RtcpPayloadSpecificFeedback.type) return;
      const fb = (packet as RtcpPayloadSpecificFeedback).feedback as { count?: number; mediaSsrc?: number };
      if (fb.count !== PictureLossIndication.count) return;
      const s = m.slots.find((x) => x.video.ssrc === fb.mediaSsrc);
      const src = s?.source ? this.members.get(s.source) : undefined;
      if (src) this.askKeyframe(src);
    });
    pc.connectionStateChange.subscribe((s) => {
      if (s === 'failed' || s === 'closed') void this.close(m, s);
    });
    m.timer = setTimeout(() => {
      if (pc.connectionState !== 'connected') void this.close(m, 'never connected: UDP to this box may be blocked');
    }, CONNECT_TIMEOUT_MS);
    m.timer.unref();
    this.reslot(who.slug);
    this.showInPicture(m);
    this.o.log.info('stage member joined', { channel: who.slug, user: who.userId, host: who.host, slots: m.slots.length });
    return { ok: true, id, answer };
  }

  /** The member's page hung up (DELETE). */
  async leave(id: string): Promise<boolean> {
    const m = this.members.get(id);
    if (!m) return false;
    await this.close(m, 'left');
    return true;
  }

  private slot(audio: RTCRtpTransceiver, video: RTCRtpTransceiver): Slot {
    return { audio: audio.sender, video: video.sender, audioMid: audio.mid ?? '', videoMid: video.mid ?? '', rebase: { audio: true, video: true } };
  }

  private follow(m: Member, track: MediaStreamTrack): void {
    const kind = track.kind === 'video' ? 'video' : 'audio';
    const transceiver = m.pc.getTransceivers().find((t) => t.receiver.tracks.includes(track));
    const pt = transceiver?.codecs[0]?.payloadType;
    if (kind === 'video') {
      m.pli = (): void => {
        if (track.ssrc) void transceiver?.receiver.sendRtcpPLI(track.ssrc);
      };
    }
    track.onReceiveRtp.subscribe((rtp) => {
      if (m.closed || (pt !== undefined && rtp.header.payloadType !== pt)) return;
      if (kind === 'audio') m.stats.audioIn += 1;
      else m.stats.videoIn += 1;
      if (!m.allowed[kind]) return; // muted (or the camera not allowed): neither forwarded nor mixed
      this.forward(m, kind, rtp);
      if (kind === 'video') this.toPicture(m, rtp);
      if (kind === 'audio' && m.decoder) {
        const pcm = m.decoder.decode(rtp.payload);
        if (pcm.length) {
          this.mix(m.who.slug).push(m.id, pcm);
          m.stats.mixed += 1;
        }
      }
    });
  }

  /** A member other than the host gets a tile in the broadcast's picture: its name until its camera's frames come. */
  private showInPicture(m: Member): void {
    if (!this.o.picture || m.who.host) return;
    const picture = this.picture(m.who.slug);
    picture.add(m.id, m.who.name, false);
    void drawName(this.o.picture.ffmpegPath, m.who.name).then((drawn) => {
      if (drawn && !m.closed) picture.setName(m.id, drawn.tile, drawn.label);
      else if (!drawn) this.o.log.warn('could not draw a stage member\'s name tile (ffmpeg drawtext, fonts-dejavu-core)', { channel: m.who.slug });
    });
  }

  /** A camera packet to the member's decoder (started on the first one), whose tiles go to the class's picture. */
  private toPicture(m: Member, rtp: RtpPacket): void {
    if (!this.o.picture || m.who.host || m.closed) return;
    if (!m.camera) {
      const picture = this.picture(m.who.slug);
      m.camera = new CameraDecoder(this.o.picture.ffmpegPath, (tile) => picture.setFrame(m.id, tile, Date.now()), () => this.askKeyframe(m), this.o.picture.pids);
      picture.setCamera(m.id, true);
    }
    m.camera.push({ seq: rtp.header.sequenceNumber, ts: rtp.header.timestamp, marker: rtp.header.marker, payload: rtp.payload });
  }

  private forward(from: Member, kind: 'audio' | 'video', rtp: RtpPacket): void {
    let bytes: Buffer | undefined;
    for (const to of this.members.values()) {
      if (to === from || to.closed || to.who.slug !== from.who.slug) continue;
      const s = to.slots.find((x) => x.source === from.id);
      if (!s) continue;
      const sender = kind === 'audio' ? s.audio : s.video;
      if (s.rebase[kind]) {
        // A new source on this slot: its numbers continue where the last one's stopped (the browser sees one stream).
        sender.replaceRTP({ sequenceNumber: rtp.header.sequenceNumber, timestamp: rtp.header.timestamp }, true);
        s.rebase[kind] = false;
      }
      bytes ??= rtp.serialize();
      void sender.sendRtp(bytes).catch(() => undefined);
      from.stats.forwarded += 1;
    }
  }

  private askKeyframe(m: Member): void {
    const now = Date.now();
    if (now - m.lastPli < PLI_MS) return;
    m.lastPli = now;
    m.pli?.();
  }

  /** Gives every member of a class its slots again (someone joined or left) and tells each page. */
  private reslot(slug: string): void {
    const here = [...this.members.values()].filter((m) => m.who.slug === slug && !m.closed).sort((a, b) => a.joinedAt - b.joinedAt);
    const plan = slotPlan(here.map((m) => ({ id: m.id, slots: m.slots.map((s) => s.source) })));
    for (const m of here) {
      const sources = plan.get(m.id) ?? [];
      m.slots.forEach((s, i) => {
        const next = sources[i];
        if (s.source === next) return;
        s.source = next;
        s.rebase = { audio: true, video: true };
        const src = next ? this.members.get(next) : undefined;
        if (src) this.askKeyframe(src);
      });
      this.sendSlots(m);
    }
  }

  private sendSlots(m: Member): void {
    if (m.channel?.readyState !== 'open') return;
    const slots: SlotView[] = m.slots.flatMap((s) => {
      const src = s.source ? this.members.get(s.source) : undefined;
      return src ? [{ audioMid: s.audioMid, videoMid: s.videoMid, userId: src.who.userId, name: src.who.name, muted: !src.allowed.audio }] : [];
    });
    try {
      m.channel.send(JSON.stringify({ t: 'slots', slots }));
    } catch {
      // the channel closed meanwhile
    }
  }

  /** Asks the hub about everyone: a member taken off the stage is cut; a mute is applied and told. */
  private check(): void {
    const changed = new Set<string>();
    for (const m of this.members.values()) {
      if (m.closed) continue;
      const now = this.d.mayPublish(m.who.slug, m.who.userId);
      if (!now || (!now.audio && !now.video)) {
        void this.close(m, now ? 'taken off the stage' : 'the class is over');
        continue;
      }
      if (now.audio !== m.allowed.audio || now.video !== m.allowed.video) {
        m.allowed = now;
        changed.add(m.who.slug);
        if (!now.audio) this.mixes.get(m.who.slug)?.remove(m.id);
        this.pictures.get(m.who.slug)?.setCamera(m.id, now.video && m.camera !== undefined);
      }
    }
    for (const slug of changed) for (const m of this.members.values()) if (m.who.slug === slug) this.sendSlots(m);
  }

  private async close(m: Member, why: string): Promise<void> {
    if (m.closed) return;
    m.closed = true;
    clearTimeout(m.timer);
    this.members.delete(m.id);
    this.mixes.get(m.who.slug)?.remove(m.id);
    m.decoder?.close();
    m.camera?.close();
    this.pictures.get(m.who.slug)?.remove(m.id);
    this.o.log.info('stage member left', { channel: m.who.slug, user: m.who.userId, why });
    this.reslot(m.who.slug);
    await m.pc.close().catch(() => undefined);
  }
}
