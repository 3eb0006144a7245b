// The one owner of live state: which channel is live, with which publisher, session and ladder. Every change
// to that state happens here, in response to ingest events; others read snapshots or subscribe to events.

import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { Admission, PublishAttempt, SourceMeta } from '../ingest/rtmp.js';
import type { MediaSink } from '../ingest/rtmp.js';
import { Preroll } from './preroll.js';
import { masterPlaylist, type MasterVariant } from '../hls/master.js';
import { planLadder, pixelRate, type LadderPlan, type SourceInfo } from '../transcode/ladder.js';
import { AUDIO_VARIANT } from '../transcode/args.js';
import { codecString, type ProbedStream } from '../transcode/probe.js';
import type { TranscoderStatus } from '../transcode/supervisor.js';
import { admit as admitCapacity } from './admission.js';
import type { Channel } from '../domain/channel.js';

export interface TranscoderLike {
  start(resume?: boolean): void;
  stop(timeoutMs?: number): Promise<void>;
  status(): TranscoderStatus;
}

export interface TranscoderRequest {
  plan: LadderPlan;
  outDir: string;
  record: boolean;
  segmentPrefix: string;
  /** The session this ladder encodes (its encode CPU is counted against it). */
  sessionId: string;
  feed(sink: MediaSink): () => void;
  onSlowChange(slow: boolean): void;
}

export interface LiveDeps {
  channelForKey(key: string): number | undefined;
  channelById(id: number): Channel;
  sessions: {
    start(channelId: number, recorded: boolean): { id: string };
    setSource(id: string, s: { codec: string; width: number; height: number; fps: number; audioCodec: string }, ladder: string[]): void;
    update(id: string, p: { bytesIn?: number; reconnects?: number; restarts?: number }): void;
    end(id: string, reason: string): void;
  };
  ingest: {
    meta(id: string): SourceMeta | undefined;
    subscribe(id: string, sink: MediaSink): () => void;
    kick(id: string): void;
  };
  createTranscoder(req: TranscoderRequest): TranscoderLike;
  /** Present when Mux credentials are configured. */
  overflow?: OverflowDeps;
  probe(path: string): Promise<ProbedStream[]>;
  log: Logger;
}

export interface RelayLike {
  start(): void;
  stop(): Promise<void>;
  state: string;
  lastError?: string;
}

export interface OverflowDeps {
  /** Creates (once) or reuses the channel's Mux live stream; returns where to push and the playback id. */
  ensureStream(slug: string): Promise<{ target: string; playbackId: string | null }>;
  createRelay(req: { target: string; feed(sink: MediaSink): () => void; onGiveUp(reason: string): void }): RelayLike;
  markOverflow(sessionId: string): void;
}

export interface LiveOptions {
  mediaDir: string;
  graceMs: number;
  budget: number;
  /** How long to wait for the publisher's metadata before giving up. */
  probeTimeoutMs?: number;
  /** A publisher that sends nothing this long (TCP still open) is dropped, so the real one can reconnect. */
  stallMs?: number;
}

export type ChannelState = 'starting' | 'live' | 'reconnecting' | 'ending';

interface LiveChannel {
  channel: Channel;
  sessionId: string;
  publisherId: string;
  state: ChannelState;
  since: string;
  plan?: LadderPlan;
  transcoder?: TranscoderLike;
  graceTimer?: NodeJS.Timeout;
  reconnects: number;
  bytesBefore: number;
  notes: string[];
  slow: boolean;
  masterWritten: boolean;
  preroll?: Preroll;
  /** Where the class runs: this box's ladder, or relayed to Mux (overflow). */
  mode: 'local' | 'mux';
  relay?: RelayLike;
  relayTarget?: string;
  muxPlaybackId?: string | null;
  /** Bytes received from the current publisher when last seen (NMS forgets a session once it ends). */
  lastBytes: number;
  /** When the current publisher's byte count last grew (for stall detection). */
  mediaAt?: number;
  mediaBytes?: number;
  stalls?: number;
  detachPreroll?: () => void;
  /** The end in progress: whoever else asks the class to end waits for the same one. */
  ending?: Promise<void>;
  /** Probing the source and starting the ladder or relay; shutdown waits for it, so nothing writes after. */
  starting?: Promise<void>;
  /** Writing master.m3u8 once every variant has a segment; the end waits for it before keeping the recording. */
  master?: Promise<void>;
}

export interface LiveChannelView {
  channel: string;
  state: ChannelState;
  mode: 'local' | 'mux';
  sessionId: string;
  since: string;
  ladder: string[];
  pixelRate: number;
  reconnects: number;
  slow: boolean;
  notes: string[];
  transcoder?: TranscoderStatus;
}

export interface LiveEvents {
  started: [{ channel: string; sessionId: string }];
  ended: [{ channel: string; sessionId: string; reason: string; recorded: boolean }];
  /** The publisher dropped (reconnecting) or came back (live) within one session. */
  publisher: [{ channel: string; sessionId: string; state: 'reconnecting' | 'live' }];
}

const SEGMENT_SECONDS = { standard: 2, low: 1 } as const;

export class LiveManager extends EventEmitter<LiveEvents> {
  private readonly live = new Map<string, LiveChannel>();
  private readonly byPublisher = new Map<string, LiveChannel>();
  private accepting = true;

  constructor(private readonly o: LiveOptions, private readonly d: LiveDeps) {
    super();
  }

  liveDir(slug: string): string {
    return join(this.o.mediaDir, 'live', slug);
  }

  vodDir(sessionId: string): string {
    return join(this.o.mediaDir, 'vod', sessionId);
  }

  used(): number {
    let sum = 0;
    for (const c of this.live.values()) if (c.plan) sum += pixelRate(c.plan.rungs);
    return sum;
  }

  snapshot(): { budget: number; used: number; channels: LiveChannelView[] } {
    return {
      budget: this.o.budget,
      used: this.used(),
      channels: [...this.live.values()].map((c) => ({
        channel: c.channel.slug,
        state: c.state,
        mode: c.mode,
        sessionId: c.sessionId,
        since: c.since,
        ladder: c.plan?.rungs.map((r) => r.name + (r.copy ? ' (copy)' : '')) ?? [],
        pixelRate: c.plan ? pixelRate(c.plan.rungs) : 0,
        reconnects: c.reconnects,
        slow: c.slow,
        notes: [...c.notes],
        transcoder: c.transcoder?.status(),
      })),
    };
  }

  /** What the current publisher of a channel sends (resolution, fps, bytes so far). */
  publisherMeta(slug: string): SourceMeta | undefined {
    const c = this.live.get(slug);
    return c ? this.d.ingest.meta(c.publisherId) : undefined;
  }

  /** What learners should play for a channel now. */
  playback(slug: string): { mode: 'local' | 'mux'; playbackId: string | null } | undefined {
    const c = this.live.get(slug);
    return c && { mode: c.mode, playbackId: c.muxPlaybackId ?? null };
  }

  /** The session live on a channel now, if any. */
  current(slug: string): { sessionId: string; state: ChannelState } | undefined {
    const c = this.live.get(slug);
    return c && { sessionId: c.sessionId, state: c.state };
  }

  // ---- ingest events -------------------------------------------------------------------------

  admit(a: PublishAttempt): Admission {
    if (!this.accepting) return { ok: false, reason: 'the server is shutting down' };
    const channelId = this.d.channelForKey(a.key);
    if (channelId === undefined) return { ok: false, reason: 'unknown or revoked stream key' };
    const channel = this.d.channelById(channelId);
    const existing = this.live.get(channel.slug);
    if (existing) {
      if (existing.state !== 'reconnecting') return { ok: false, reason: `channel "${channel.slug}" is already live` };
      this.resume(existing, a.id);
      return { ok: true };
    }
    const free = this.o.budget - this.used();
    if (free <= 0 && channel.overflow === 'refuse') return { ok: false, reason: 'the box is at its transcode capacity (overflow policy: refuse)' };
    const session = this.d.sessions.start(channel.id, channel.record);
    const lc: LiveChannel = {
      channel, sessionId: session.id, publisherId: a.id, state: 'starting', since: new Date().toISOString(),
      reconnects: 0, bytesBefore: 0, lastBytes: 0, mode: 'local', notes: [], slow: false, masterWritten: false,
    };
    this.live.set(channel.slug, lc);
    this.byPublisher.set(a.id, lc);
    this.d.log.info('class starting', { channel: channel.slug, session: session.id, from: a.address });
    // Hold the media from the first packet on, so the recording starts when the class does.
    lc.preroll = new Preroll(32 * 1024 * 1024);
    queueMicrotask(() => {
      try {
        if (lc.preroll && lc.state === 'starting') lc.detachPreroll = this.d.ingest.subscribe(a.id, lc.preroll);
      } catch (err) {
        this.fail(lc, err);
      }
    });
    lc.starting = this.startLadder(lc).catch((err: unknown) => this.fail(lc, err));
    return { ok: true };
  }

  disconnected(publisherId: string): void {
    const lc = this.byPublisher.get(publisherId);
    if (!lc || lc.publisherId !== publisherId || lc.state === 'ending' || lc.state === 'reconnecting') return;
    lc.state = 'reconnecting';
    this.publisherBytes(lc);
    this.d.log.info('publisher dropped; waiting for it to come back', { channel: lc.channel.slug, graceMs: this.o.graceMs });
    clearTimeout(lc.graceTimer);
    lc.graceTimer = setTimeout(() => void this.end(lc, 'publisher left'), this.o.graceMs);
    this.emit('publisher', { channel: lc.channel.slug, sessionId: lc.sessionId, state: 'reconnecting' });
  }

  ended(publisherId: string): void {
    const lc = this.byPublisher.get(publisherId);
    this.byPublisher.delete(publisherId);
    if (!lc || lc.publisherId !== publisherId) return;
    if (lc.state === 'reconnecting') return; // the grace timer decides
    void this.end(lc, 'publisher left');
  }

  /** Stops accepting publishes and ends every live class (playlists closed). */
  async shutdown(): Promise<void> {
    this.accepting = false;
    const all = [...this.live.values()];
    await Promise.all(all.map((lc) => this.end(lc, 'server shutdown')));
    await Promise.allSettled(all.map((lc) => lc.starting));
  }

  // ---- internals -----------------------------------------------------------------------------

  private resume(lc: LiveChannel, publisherId: string): void {
    clearTimeout(lc.graceTimer);
    lc.bytesBefore += this.publisherBytes(lc);
    lc.lastBytes = 0;
    lc.mediaAt = undefined;
    lc.publisherId = publisherId;
    this.byPublisher.set(publisherId, lc);
    if (lc.preroll) {
      // Still probing: follow the new publisher from here.
      lc.detachPreroll?.();
      const pre = lc.preroll;
      queueMicrotask(() => {
        if (lc.preroll === pre) lc.detachPreroll = this.d.ingest.subscribe(publisherId, pre);
      });
    }
    lc.reconnects += 1;
    lc.state = lc.plan ? 'live' : 'starting';
    this.d.sessions.update(lc.sessionId, { reconnects: lc.reconnects });
    this.emit('publisher', { channel: lc.channel.slug, sessionId: lc.sessionId, state: 'live' });
    this.d.log.info('publisher reconnected; session continues', { channel: lc.channel.slug, session: lc.sessionId, reconnects: lc.reconnects });
    if (lc.relay && lc.relayTarget) {
      const old = lc.relay;
      void old.stop().then(() => {
        if (lc.state === 'ending' || lc.relay !== old) return;
        lc.relay = this.makeRelay(lc, lc.relayTarget!);
        lc.relay.start();
      });
    }
    if (lc.transcoder && lc.plan) {
      // A new publisher means new timestamps and codec headers: restart the ladder on it, after a discontinuity.
      const old = lc.transcoder;
      const plan = lc.plan;
      void old.stop(5000).then(() => {
        if (lc.state === 'ending' || lc.transcoder !== old) return;
        lc.transcoder = this.makeTranscoder(lc, plan);
        lc.transcoder.start(true);
      });
    }
  }

  private async startLadder(lc: LiveChannel): Promise<void> {
    const segment = SEGMENT_SECONDS[lc.channel.latency];
    const source = await this.probeSource(lc, segment);
    if (lc.state === 'ending') return;
    const full = planLadder(source, { profile: lc.channel.ladder, segmentSeconds: segment });
    const smallest = full.rungs.length ? pixelRate(full.rungs.slice(-1)) : 0;
    const free = this.o.budget - this.used();
    const decision = admitCapacity(lc.channel.overflow, free, pixelRate(full.rungs), smallest);
    let local = decision;
    if (decision.kind !== 'full' && lc.channel.overflow === 'mux' && this.d.overflow) {
      this.d.sessions.setSource(lc.sessionId, {
        codec: source.videoCodec, width: source.width, height: source.height, fps: source.fps, audioCodec: source.audioCodec,
      }, ['mux']);
      if (await this.startOverflow(lc)) return;
      lc.notes.push('Mux overflow unavailable; running a reduced local ladder instead');
      local = admitCapacity('degrade', this.o.budget - this.used(), pixelRate(full.rungs), smallest);
    }
    await this.startLocal(lc, source, segment, local, full);
  }

  private async startLocal(lc: LiveChannel, source: SourceInfo, segment: 1 | 2, decision: ReturnType<typeof admitCapacity>, full: LadderPlan): Promise<void> {
    if (decision.kind === 'refuse') {
      this.d.log.warn('publish refused', { channel: lc.channel.slug, reason: decision.reason });
      this.d.ingest.kick(lc.publisherId);
      await this.end(lc, `refused: ${decision.reason}`);
      return;
    }
    const plan = decision.kind === 'degrade'
      ? planLadder(source, { profile: lc.channel.ladder, segmentSeconds: segment, budget: decision.budget })
      : full;
    if (decision.kind === 'degrade') lc.notes.push(`${decision.note}; dropped ${plan.dropped.join(', ')}`);
    lc.plan = plan;
    this.d.sessions.setSource(lc.sessionId, {
      codec: source.videoCodec, width: source.width, height: source.height, fps: source.fps, audioCodec: source.audioCodec,
    }, plan.rungs.map((r) => r.name));
    const dir = this.liveDir(lc.channel.slug);
    if ((lc.state as ChannelState) === 'ending') return;
    await rm(dir, { recursive: true, force: true }); // a previous class's leftovers
    await mkdir(dir, { recursive: true });
    if ((lc.state as ChannelState) === 'ending') return;
    lc.transcoder = this.makeTranscoder(lc, plan);
    lc.transcoder.start(false);
    if (lc.state === 'starting') lc.state = 'live';
    this.emit('started', { channel: lc.channel.slug, sessionId: lc.sessionId });
    lc.master = this.writeMasterWhenReady(lc, plan);
    await lc.master;
  }

  /** Relays the class to Mux; false when Mux cannot take it (the caller falls back to a local ladder). */
  private async startOverflow(lc: LiveChannel): Promise<boolean> {
    const ov = this.d.overflow!;
    let stream: { target: string; playbackId: string | null };
    try {
      stream = await ov.ensureStream(lc.channel.slug);
    } catch (err) {
      this.d.log.error('Mux live stream unavailable', { channel: lc.channel.slug, err: err instanceof Error ? err.message : String(err) });
      return false;
    }
    if ((lc.state as ChannelState) === 'ending') return true;
    lc.mode = 'mux';
    lc.relayTarget = stream.target;
    lc.muxPlaybackId = stream.playbackId;
    ov.markOverflow(lc.sessionId);
    lc.notes.push('box full: class relayed to Mux (overflow policy: mux)');
    lc.relay = this.makeRelay(lc, stream.target);
    lc.relay.start();
    if (lc.state === 'starting') lc.state = 'live';
    this.d.log.info('class is live on Mux', { channel: lc.channel.slug, session: lc.sessionId });
    this.emit('started', { channel: lc.channel.slug, sessionId: lc.sessionId });
    return true;
  }

  private makeRelay(lc: LiveChannel, target: string): RelayLike {
    return this.d.overflow!.createRelay({
      target,
      feed: (sink) => this.feedFor(lc, sink),
      onGiveUp: (reason) => void this.fallBackFromMux(lc, reason),
    });
  }

  /** Mux refused or stayed unreachable: never drop the class — run it here on a reduced ladder and say so. */
  private async fallBackFromMux(lc: LiveChannel, reason: string): Promise<void> {
    if (lc.state === 'ending') return;
    lc.notes.push(`Mux relay failed (${reason}); fell back to a reduced local ladder`);
    lc.mode = 'local';
    lc.muxPlaybackId = null;
    lc.relay = undefined;
    const segment = SEGMENT_SECONDS[lc.channel.latency];
    const meta = this.d.ingest.meta(lc.publisherId);
    const source: SourceInfo = {
      videoCodec: meta?.videoCodecId === 7 ? 'h264' : 'other', width: meta?.width ?? 1280, height: meta?.height ?? 720, fps: meta?.fps ?? 30,
      audioCodec: meta?.audioCodecId === 10 ? 'aac' : meta?.audioCodecId === 0 ? 'none' : 'other', videoKbps: meta?.videoKbps,
    };
    const full = planLadder(source, { profile: lc.channel.ladder, segmentSeconds: segment });
    const smallest = full.rungs.length ? pixelRate(full.rungs.slice(-1)) : 0;
    await this.startLocal(lc, source, segment, admitCapacity('degrade', this.o.budget - this.used(), pixelRate(full.rungs), smallest), full)
      .catch((err: unknown) => this.fail(lc, err));
  }

  private feedFor(lc: LiveChannel, sink: MediaSink): () => void {
    const pre = lc.preroll;
    const detach = lc.detachPreroll;
    lc.preroll = undefined;
    lc.detachPreroll = undefined;
    if (pre && detach) {
      pre.drainInto(sink); // the same subscription continues: no gap, no duplicate
      return detach;
    }
    return this.d.ingest.subscribe(lc.publisherId, sink);
  }

  private makeTranscoder(lc: LiveChannel, plan: LadderPlan): TranscoderLike {
    return this.d.createTranscoder({
      plan,
      outDir: this.liveDir(lc.channel.slug),
      record: lc.channel.record,
      segmentPrefix: lc.sessionId,
      sessionId: lc.sessionId,
      feed: (sink) => this.feedFor(lc, sink),
      onSlowChange: (slow) => {
        lc.slow = slow;
      },
    });
  }

  /** Reads the publisher's metadata and the spacing of its first keyframes. */
  private async probeSource(lc: LiveChannel, segment: number): Promise<SourceInfo> {
    const deadline = Date.now() + (this.o.probeTimeoutMs ?? 10000);
    let meta = this.d.ingest.meta(lc.publisherId);
    while (!meta || meta.width <= 0 || meta.height <= 0) {
      if (Date.now() > deadline || lc.state === 'ending') throw new Error('no video metadata from the publisher within 10 s');
      await sleep(100);
      meta = this.d.ingest.meta(lc.publisherId);
    }
    await lc.preroll?.waitForKeyframes(2, segment * 1000 + 1000);
    const keyframeInterval = lc.preroll?.keyframeInterval();
    return {
      videoCodec: meta.videoCodecId === 7 ? 'h264' : 'other',
      width: meta.width,
      height: meta.height,
      fps: meta.fps,
      audioCodec: meta.audioCodecId === 10 ? 'aac' : meta.audioCodecId === 0 ? 'none' : 'other',
      keyframeInterval,
      videoKbps: meta.videoKbps,
    };
  }

  /** Once every variant has a segment, probes one per variant for CODECS and writes master.m3u8. */
  private async writeMasterWhenReady(lc: LiveChannel, plan: LadderPlan): Promise<void> {
    const dir = this.liveDir(lc.channel.slug);
    const names = [...plan.rungs.map((r) => r.name as string), ...(plan.audio !== 'none' ? [AUDIO_VARIANT] : [])];
    const deadline = Date.now() + 60000;
    const first = new Map<string, string>();
    for (;;) {
      for (const n of names) {
        if (first.has(n)) continue;
        const seg = await firstSegment(join(dir, n));
        if (seg) first.set(n, seg);
      }
      if (first.size === names.length) break;
      // Ended and the ladder has exited: no segment is still to come.
      const over = lc.state === 'ending' && (!lc.transcoder || lc.transcoder.status().state === 'stopped');
      if (over || Date.now() > deadline) return;
      await sleep(100);
    }
    // Probe every variant's first segment at once: the master playlist waits on the slowest.
    const probes = new Map(await Promise.all(names.map(async (n) => [n, await this.d.probe(first.get(n)!)] as const)));
    const a = probes.get(AUDIO_VARIANT)?.find((s) => s.kind === 'audio');
    const audioCodec = (a && codecString(a)) ?? 'mp4a.40.2';
    const variants: MasterVariant[] = [];
    for (const r of plan.rungs) {
      const path = first.get(r.name)!;
      const v = probes.get(r.name)?.find((s) => s.kind === 'video');
      const bytes = (await stat(path)).size;
      const measured = (bytes * 8) / plan.segmentSeconds;
      const audioBps = plan.audio === 'none' ? 0 : plan.audioKbps * 1000;
      const nominal = r.videoKbps * 1000 + audioBps;
      variants.push({
        uri: `${r.name}/index.m3u8`,
        // Copied rungs have no configured rate: measure the first segment and leave headroom for peaks.
        bandwidth: Math.max(r.copy ? measured * 1.25 : r.videoKbps * 1100 + audioBps, measured),
        averageBandwidth: r.copy ? measured + audioBps : nominal,
        width: v?.width ?? r.width,
        height: v?.height ?? r.height,
        frameRate: r.fps,
        videoCodec: (v && codecString(v)) ?? 'avc1.640028',
      });
    }
    const text = masterPlaylist(variants, plan.audio !== 'none' ? { uri: `${AUDIO_VARIANT}/index.m3u8`, codec: audioCodec, name: 'audio' } : undefined);
    await writeFile(join(dir, 'master.m3u8.tmp'), text);
    await rename(join(dir, 'master.m3u8.tmp'), join(dir, 'master.m3u8'));
    lc.masterWritten = true;
    this.d.log.info('class is live', { channel: lc.channel.slug, session: lc.sessionId, variants: variants.length });
  }

  private publisherBytes(lc: LiveChannel): number {
    const now = this.d.ingest.meta(lc.publisherId)?.inBytes;
    if (now !== undefined) lc.lastBytes = now;
    return lc.lastBytes;
  }

  private fail(lc: LiveChannel, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.d.log.error('class could not start', { channel: lc.channel.slug, err: message });
    this.d.ingest.kick(lc.publisherId);
    void this.end(lc, `failed: ${message}`);
  }

  /**
   * Drops publishers that stopped sending with their connection still open (a frozen encoder, dead Wi-Fi): the
   * class goes to "reconnecting" and the instructor's next publish with the key continues the same session.
   * Called every second.
   */
  checkStalls(now: number): void {
    const stallMs = this.o.stallMs;
    if (!stallMs) return;
    for (const lc of this.live.values()) {
      if (lc.state !== 'live' && lc.state !== 'starting') continue;
      const bytes = this.d.ingest.meta(lc.publisherId)?.inBytes;
      if (bytes === undefined) continue;
      if (lc.mediaAt === undefined || bytes !== lc.mediaBytes) {
        lc.mediaBytes = bytes;
        lc.mediaAt = now;
        continue;
      }
      if (now - lc.mediaAt < stallMs) continue;
      const stalled = lc.publisherId;
      this.d.log.warn('publisher sent nothing; dropping it so the class can continue on a reconnect', { channel: lc.channel.slug, silentMs: now - lc.mediaAt });
      lc.stalls = (lc.stalls ?? 0) + 1;
      this.disconnected(stalled);
      this.d.ingest.kick(stalled);
    }
  }

  /** Writes each live class's bytes in so far to its session (called every few seconds). */
  saveProgress(): void {
    for (const lc of this.live.values()) {
      if (lc.state === 'ending') continue;
      try {
        this.d.sessions.update(lc.sessionId, { bytesIn: lc.bytesBefore + this.publisherBytes(lc) });
      } catch (err) {
        this.d.log.warn('could not save class progress', { session: lc.sessionId, err });
      }
    }
  }

  /** Ends a class once; a second caller (e.g. shutdown while the grace timer's end runs) waits for the first. */
  private end(lc: LiveChannel, reason: string): Promise<void> {
    lc.ending ??= this.finish(lc, reason);
    return lc.ending;
  }

  private async finish(lc: LiveChannel, reason: string): Promise<void> {
    lc.state = 'ending';
    clearTimeout(lc.graceTimer);
    lc.detachPreroll?.();
    lc.preroll = undefined;
    const status = lc.transcoder?.status();
    await Promise.all([lc.transcoder?.stop(), lc.relay?.stop()]);
    await lc.master?.catch(() => {}); // a class that ends early still gets its master playlist from its final segments
    this.d.sessions.update(lc.sessionId, { bytesIn: lc.bytesBefore + this.publisherBytes(lc), restarts: status?.restarts ?? 0 });
    this.d.sessions.end(lc.sessionId, reason);
    let recorded = false;
    if (lc.channel.record && lc.masterWritten) {
      try {
        await mkdir(join(this.o.mediaDir, 'vod'), { recursive: true });
        await rename(this.liveDir(lc.channel.slug), this.vodDir(lc.sessionId));
        recorded = true;
      } catch (err) {
        this.d.log.error('could not keep the recording', { session: lc.sessionId, err });
      }
    }
    // Only now is the channel free: nobody sees it gone while its files are still moving.
    this.live.delete(lc.channel.slug);
    for (const [id, c] of this.byPublisher) if (c === lc) this.byPublisher.delete(id);
    this.d.log.info('class ended', { channel: lc.channel.slug, session: lc.sessionId, reason, recorded });
    this.emit('ended', { channel: lc.channel.slug, sessionId: lc.sessionId, reason, recorded });
  }
}

async function firstSegment(dir: string): Promise<string | undefined> {
  try {
    const files = (await readdir(dir)).filter((f) => f.endsWith('.ts')).sort();
    // The newest file may still be being written; the first complete one is any but the last.
    const playlist = existsSync(join(dir, 'index.m3u8'));
    if (!playlist || files.length === 0) return undefined;
    return join(dir, files[0]!);
  } catch {
    return undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
