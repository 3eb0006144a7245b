// One live class, from the first publish to its end: the single owner of that class's publisher, session,
// ladder or Mux relay, and recording. Its state machine
//
//   admitted → starting → live ⇄ reconnecting → ending → ended
//                 └──────────── (refused, failed, ended early) ──┘
//
// changes only inside steps run one at a time by a serial queue (as MediaMTX gives each path one loop). Slow work
// (probing the source, writing the master playlist) runs beside the queue and hands its result back as a step,
// so an end asked for during a start is never stuck behind it. Processes, clock, files and the store are injected.

import type { Logger } from '../log.js';
import type { Channel } from '../domain/channel.js';
import { liveDir, vodDir } from '../domain/media-layout.js';
import type { Clock } from '../media/ffmpeg-process.js';
import type { MediaSink } from '../media/sink.js';
import type { IngestPort, SourceMeta } from './ports.js';
import { planLadder, pixelRate, type LadderPlan, type SourceInfo } from '../transcode/ladder.js';
import type { TranscoderStatus } from '../transcode/supervisor.js';
import { admit as admitCapacity, type AdmissionDecision } from './admission.js';
import { Preroll } from './preroll.js';
import { SerialQueue } from './serial.js';
import { describeSource, sourceRefusal } from './source.js';

export type RunState = 'admitted' | 'starting' | 'live' | 'reconnecting' | 'ending' | 'ended';

export interface TranscoderLike {
  start(resume?: boolean): Promise<void>;
  stop(timeoutMs?: number): Promise<void>;
  /** The class is over (after stop): finish what outlives one ffmpeg run (the LL-HLS playlists). */
  close?(): Promise<void>;
  status(): TranscoderStatus;
}

export interface TranscoderRequest {
  plan: LadderPlan;
  outDir: string;
  record: boolean;
  segmentPrefix: string;
  channel: string;
  /** Latency 'ultra': Low-Latency HLS (fMP4 parts) instead of classic HLS. */
  lowLatency: boolean;
  /** The session this ladder encodes (its encode CPU is counted against it). */
  sessionId: string;
  feed(sink: MediaSink): () => void;
  onSlowChange(slow: boolean): void;
  /** False while the publisher is away (the ladder starves; that is not slowness). */
  inputFlowing(): boolean;
}

export interface RelayLike {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly state: string;
  readonly lastError?: string;
}

export interface OverflowDeps {
  /** Creates (once) or reuses the channel's Mux live stream; returns where to push and the playback id. */
  ensureStream(slug: string): Promise<{ target: string; playbackId: string | null }>;
  createRelay(req: { target: string; feed(sink: MediaSink): () => void; onGiveUp(reason: string): void }): RelayLike;
  markOverflow(sessionId: string): void;
}

export interface SessionWrites {
  setSource(id: string, s: { codec: string; width: number; height: number; fps: number; audioCodec: string }, ladder: string[]): void;
  update(id: string, p: { bytesIn?: number; reconnects?: number; restarts?: number }): void;
  end(id: string, reason: string): void;
}

/** The class's folders: emptied before a ladder starts, moved to vod/ when the recording is kept. */
export interface RunFiles {
  reset(dir: string): Promise<void>;
  keep(from: string, to: string): Promise<void>;
}

export interface RunDeps {
  sessions: SessionWrites;
  ingest: IngestPort;
  createTranscoder(req: TranscoderRequest): TranscoderLike;
  overflow?: OverflowDeps;
  /** Writes master.m3u8 once every variant has a segment; true when written. */
  writeMaster(dir: string, plan: LadderPlan, over: () => boolean, lowLatency: boolean): Promise<boolean>;
  /** Transcode budget (pixels/s) not used by the other classes. */
  freeBudget(): number;
  files: RunFiles;
  clock: Clock;
  log: Logger;
}

export interface RunOptions {
  mediaDir: string;
  graceMs: number;
  probeTimeoutMs: number;
  /** Drop a publisher that sent nothing this long with its connection open (0: never). */
  stallMs: number;
}

export interface RunListener {
  started(run: ClassRun): void;
  publisher(run: ClassRun, state: 'reconnecting' | 'live'): void;
  ended(run: ClassRun, reason: string, recorded: boolean): void;
}

export interface RunView {
  channel: string;
  state: 'starting' | 'live' | 'reconnecting' | 'ending';
  mode: 'local' | 'mux';
  sessionId: string;
  since: string;
  ladder: string[];
  pixelRate: number;
  reconnects: number;
  slow: boolean;
  notes: string[];
  transcoder?: TranscoderStatus;
  /** Mux overflow: whether our relay process to Mux runs now. */
  relaying?: boolean;
}

const SEGMENT_SECONDS = { standard: 2, low: 1, ultra: 1 } as const;

export class ClassRun {
  private runState: RunState = 'admitted';
  private readonly queue = new SerialQueue();
  readonly since: string;
  publisherId: string;
  /** A publish admitted to take over, not yet applied by its step. */
  private claimedBy?: string;
  private endAsked?: string;
  private ended?: Promise<void>;
  private plan?: LadderPlan;
  private transcoder?: TranscoderLike;
  private relay?: RelayLike;
  private relayTarget?: string;
  private mode: 'local' | 'mux' = 'local';
  private muxPlaybackId: string | null = null;
  private preroll?: Preroll;
  private detachPreroll?: () => void;
  private graceTimer?: unknown;
  private master?: Promise<boolean>;
  private masterWritten = false;
  private reconnects = 0;
  private bytesBefore = 0;
  private lastBytes = 0;
  private mediaAt?: number;
  private mediaBytes?: number;
  private slow = false;
  private readonly notes: string[] = [];

  constructor(
    readonly channel: Channel,
    readonly sessionId: string,
    publisherId: string,
    private readonly o: RunOptions,
    private readonly d: RunDeps,
    private readonly listener: RunListener,
  ) {
    this.publisherId = publisherId;
    this.since = new Date(d.clock.now()).toISOString();
  }

  get state(): RunState {
    return this.runState;
  }

  get dir(): string {
    return liveDir(this.o.mediaDir, this.channel.slug);
  }

  /** Pixels per second this class's ladder encodes (0 before the ladder is planned, or on Mux). */
  pixelRate(): number {
    return this.plan ? pixelRate(this.plan.rungs) : 0;
  }

  playback(): { mode: 'local' | 'mux'; playbackId: string | null } {
    return { mode: this.mode, playbackId: this.muxPlaybackId };
  }

  view(): RunView {
    const s = this.runState;
    return {
      channel: this.channel.slug,
      state: s === 'admitted' ? 'starting' : s === 'ended' ? 'ending' : s,
      mode: this.mode,
      sessionId: this.sessionId,
      since: this.since,
      ladder: this.plan?.rungs.map((r) => r.name + (r.copy ? ' (copy)' : '')) ?? [],
      pixelRate: this.pixelRate(),
      reconnects: this.reconnects,
      slow: this.slow,
      notes: [...this.notes],
      transcoder: this.transcoder?.status(),
      ...(this.mode === 'mux' ? { relaying: Boolean(this.relay) } : {}),
    };
  }

  // ---- what the manager tells the run (each a step through the queue) ------------------------------------

  /** Starts the class: holds the media from the first packet, probes the source, then starts ladder or relay. */
  begin(): Promise<void> {
    return this.queue.run(() => {
      if (this.runState !== 'admitted') return;
      this.runState = 'starting';
      this.d.log.info('class starting', { channel: this.channel.slug, session: this.sessionId });
      // Hold the media from the first packet on, so the recording starts when the class does.
      this.preroll = new Preroll(32 * 1024 * 1024);
      this.detachPreroll = this.d.ingest.subscribe(this.publisherId, this.preroll);
      void this.probeSource().then(
        (source) => this.queue.run(() => this.sourceKnown(source)),
        (err: unknown) => this.queue.run(() => this.fail(err)),
      ).catch((err: unknown) => this.fail(err));
    }).catch((err: unknown) => this.fail(err));
  }

  /**
   * May this publish carry the class on? Yes when the publisher dropped (within the grace), or when the current
   * one has sent nothing for takeoverMs (a frozen encoder: the instructor's new publish must not wait for the
   * stall timeout). Synchronous, so the ingest can answer at once; the switch itself is a step.
   */
  claim(publisherId: string, now: number, takeoverMs: number): false | 'reconnect' | 'takeover' {
    if (this.endAsked || this.claimedBy) return false;
    const silent = this.runState === 'live' || this.runState === 'starting' ? this.silentMs(now) : 0;
    const takeover = silent >= takeoverMs;
    if (this.runState !== 'reconnecting' && !takeover) return false;
    this.claimedBy = publisherId;
    this.d.clock.clearTimeout(this.graceTimer);
    const old = this.publisherId;
    void this.queue.run(() => this.resume(publisherId)).catch((err: unknown) => this.fail(err));
    if (takeover && this.runState !== 'reconnecting') {
      this.d.log.warn('a new publish takes over from a publisher that stopped sending', { channel: this.channel.slug, silentMs: silent });
      this.d.ingest.kick(old);
      return 'takeover';
    }
    return 'reconnect';
  }

  /** The publisher's connection closed: wait for it within the grace. */
  publisherLeft(publisherId: string): Promise<void> {
    return this.queue.run(() => this.dropped(publisherId));
  }

  /** node-media-server ended the publish for good. */
  publisherEnded(publisherId: string): Promise<void> {
    return this.queue.run(() => {
      if (publisherId !== this.publisherId || this.runState === 'reconnecting') return;
      return this.end('publisher left');
    });
  }

  /** Ends the class once; every caller waits for the same end. */
  end(reason: string): Promise<void> {
    this.endAsked ??= reason;
    this.d.clock.clearTimeout(this.graceTimer);
    this.ended ??= this.queue.run(() => this.finish(this.endAsked!));
    return this.ended;
  }

  /** Once a second: drops a publisher that stopped sending with its connection open. */
  tick(now: number): void {
    if (!this.o.stallMs || (this.runState !== 'live' && this.runState !== 'starting') || this.claimedBy) return;
    const bytes = this.d.ingest.meta(this.publisherId)?.inBytes;
    if (bytes === undefined) return;
    if (this.mediaAt === undefined || bytes !== this.mediaBytes) {
      this.mediaBytes = bytes;
      this.mediaAt = now;
      return;
    }
    if (now - this.mediaAt < this.o.stallMs) return;
    const stalled = this.publisherId;
    this.d.log.warn('publisher sent nothing; dropping it so the class can continue on a reconnect', { channel: this.channel.slug, silentMs: now - this.mediaAt });
    this.mediaAt = undefined;
    void this.publisherLeft(stalled);
    this.d.ingest.kick(stalled);
  }

  /** Bytes in so far, for the session row (called every few seconds). */
  bytesIn(): number {
    return this.bytesBefore + this.publisherBytes();
  }

  // ---- steps (run only from the queue) ----------------------------------------------------------------------

  private silentMs(now: number): number {
    const bytes = this.d.ingest.meta(this.publisherId)?.inBytes;
    if (bytes === undefined || this.mediaAt === undefined || bytes !== this.mediaBytes) return 0;
    return now - this.mediaAt;
  }

  private dropped(publisherId: string): void {
    if (publisherId !== this.publisherId || this.endAsked) return;
    if (this.runState !== 'starting' && this.runState !== 'live') return;
    this.runState = 'reconnecting';
    this.publisherBytes();
    this.d.log.info('publisher dropped; waiting for it to come back', { channel: this.channel.slug, graceMs: this.o.graceMs });
    this.d.clock.clearTimeout(this.graceTimer);
    this.graceTimer = this.d.clock.setTimeout(() => void this.end('publisher left'), this.o.graceMs);
    this.listener.publisher(this, 'reconnecting');
  }

  private async resume(publisherId: string): Promise<void> {
    this.claimedBy = undefined;
    if (this.endAsked) {
      this.d.ingest.kick(publisherId);
      return;
    }
    // node-media-server carries the byte count over when the same address resumes a publish: count it once.
    const before = this.publisherBytes();
    const carried = this.d.ingest.meta(publisherId)?.inBytes ?? 0;
    this.bytesBefore += carried >= before ? 0 : before;
    this.lastBytes = 0;
    this.mediaAt = undefined;
    this.publisherId = publisherId;
    if (this.preroll) {
      // Still probing: follow the new publisher from here.
      this.detachPreroll?.();
      this.detachPreroll = this.d.ingest.subscribe(publisherId, this.preroll);
    }
    this.reconnects += 1;
    this.runState = this.plan || this.relay ? 'live' : 'starting';
    this.d.sessions.update(this.sessionId, { reconnects: this.reconnects });
    this.listener.publisher(this, 'live');
    this.d.log.info('publisher reconnected; session continues', { channel: this.channel.slug, session: this.sessionId, reconnects: this.reconnects });
    if (this.relay && this.relayTarget) {
      await this.relay.stop();
      this.relay = this.makeRelay(this.relayTarget);
      await this.relay.start();
    }
    if (this.transcoder && this.plan) {
      // A new publisher means new timestamps and codec headers: restart the ladder on it, after a discontinuity.
      await this.transcoder.stop(5000);
      this.transcoder = this.makeTranscoder(this.plan);
      await this.transcoder.start(true);
    }
  }

  private async sourceKnown(source: SourceInfo): Promise<void> {
    if (this.endAsked || this.plan || this.relay) return;
    const refusal = sourceRefusal(source);
    if (refusal) return this.refuse(refusal);
    const segment = SEGMENT_SECONDS[this.channel.latency];
    const full = planLadder(source, { profile: this.channel.ladder, segmentSeconds: segment });
    const smallest = full.rungs.length ? pixelRate(full.rungs.slice(-1)) : 0;
    const decision = admitCapacity(this.channel.overflow, this.d.freeBudget(), pixelRate(full.rungs), smallest);
    if (decision.kind !== 'full' && this.channel.overflow === 'mux' && this.d.overflow) {
      this.d.sessions.setSource(this.sessionId, describeSource(source), ['mux']);
      if (await this.startOverflow()) return;
      this.notes.push('Mux overflow unavailable; running a reduced local ladder instead');
      return this.startLocal(source, full, admitCapacity('degrade', this.d.freeBudget(), pixelRate(full.rungs), smallest));
    }
    return this.startLocal(source, full, decision);
  }

  private async startLocal(source: SourceInfo, full: LadderPlan, decision: AdmissionDecision): Promise<void> {
    if (decision.kind === 'refuse') return this.refuse(decision.reason);
    const segment = SEGMENT_SECONDS[this.channel.latency];
    const plan = decision.kind === 'degrade'
      ? planLadder(source, { profile: this.channel.ladder, segmentSeconds: segment, budget: decision.budget })
      : full;
    if (decision.kind === 'degrade') this.notes.push(`${decision.note}; dropped ${plan.dropped.join(', ')}`);
    this.plan = plan;
    this.d.sessions.setSource(this.sessionId, describeSource(source), plan.rungs.map((r) => r.name));
    await this.d.files.reset(this.dir); // a previous class's leftovers
    this.transcoder = this.makeTranscoder(plan);
    await this.transcoder.start(false);
    if (this.runState === 'starting') this.runState = 'live';
    this.listener.started(this);
    const over = (): boolean => this.endAsked !== undefined && (!this.transcoder || this.transcoder.status().state === 'stopped');
    const master = this.d.writeMaster(this.dir, plan, over, this.channel.latency === 'ultra');
    this.master = master;
    void master.then((written) => {
      this.masterWritten = written;
      if (written) this.d.log.info('class is live', { channel: this.channel.slug, session: this.sessionId });
    }, (err: unknown) => this.d.log.error('could not write the master playlist', { channel: this.channel.slug, err }));
  }

  /** Relays the class to Mux; false when Mux cannot take it (the caller falls back to a local ladder). */
  private async startOverflow(): Promise<boolean> {
    const ov = this.d.overflow!;
    let stream: { target: string; playbackId: string | null };
    try {
      stream = await ov.ensureStream(this.channel.slug);
    } catch (err) {
      this.d.log.error('Mux live stream unavailable', { channel: this.channel.slug, err: err instanceof Error ? err.message : String(err) });
      return false;
    }
    if (this.endAsked) return true;
    this.mode = 'mux';
    this.relayTarget = stream.target;
    this.muxPlaybackId = stream.playbackId;
    ov.markOverflow(this.sessionId);
    this.notes.push('box full: class relayed to Mux (overflow policy: mux)');
    this.relay = this.makeRelay(stream.target);
    await this.relay.start();
    if (this.runState === 'starting') this.runState = 'live';
    this.d.log.info('class is live on Mux', { channel: this.channel.slug, session: this.sessionId });
    this.listener.started(this);
    return true;
  }

  /** Mux refused or stayed unreachable: never drop the class — run it here on a reduced ladder and say so. */
  private async fallBackFromMux(reason: string): Promise<void> {
    if (this.endAsked || this.mode !== 'mux') return;
    this.notes.push(`Mux relay failed (${reason}); fell back to a reduced local ladder`);
    this.mode = 'local';
    this.muxPlaybackId = null;
    const failed = this.relay;
    this.relay = undefined;
    void failed?.stop(); // its process gave up already: this frees its ingest link and logs where the bytes went
    const source = describeMeta(this.d.ingest.meta(this.publisherId));
    const segment = SEGMENT_SECONDS[this.channel.latency];
    const full = planLadder(source, { profile: this.channel.ladder, segmentSeconds: segment });
    const smallest = full.rungs.length ? pixelRate(full.rungs.slice(-1)) : 0;
    await this.startLocal(source, full, admitCapacity('degrade', this.d.freeBudget(), pixelRate(full.rungs), smallest));
  }

  private makeRelay(target: string): RelayLike {
    return this.d.overflow!.createRelay({
      target,
      feed: (sink) => this.feed(sink),
      onGiveUp: (reason) => void this.queue.run(() => this.fallBackFromMux(reason)).catch((err: unknown) => this.fail(err)),
    });
  }

  private makeTranscoder(plan: LadderPlan): TranscoderLike {
    return this.d.createTranscoder({
      plan,
      outDir: this.dir,
      record: this.channel.record,
      segmentPrefix: this.sessionId,
      channel: this.channel.slug,
      lowLatency: this.channel.latency === 'ultra',
      sessionId: this.sessionId,
      feed: (sink) => this.feed(sink),
      onSlowChange: (slow) => {
        this.slow = slow;
      },
      inputFlowing: () => this.runState !== 'reconnecting',
    });
  }

  /** Connects the live media to a consumer: the held preroll first (no gap, no duplicate), then the publisher. */
  private feed(sink: MediaSink): () => void {
    const pre = this.preroll;
    const detach = this.detachPreroll;
    this.preroll = undefined;
    this.detachPreroll = undefined;
    if (pre && detach) {
      pre.drainInto(sink); // the same subscription continues
      return detach;
    }
    return this.d.ingest.subscribe(this.publisherId, sink);
  }

  /** Reads the publisher's metadata and the spacing of its first keyframes (beside the queue). */
  private async probeSource(): Promise<SourceInfo> {
    const segment = SEGMENT_SECONDS[this.channel.latency];
    const deadline = this.d.clock.now() + this.o.probeTimeoutMs;
    let meta = this.d.ingest.meta(this.publisherId);
    while (!meta || meta.width <= 0 || meta.height <= 0) {
      if (this.endAsked) throw new Error('the class ended while starting');
      if (this.d.clock.now() > deadline) throw new Error(`no video metadata from the publisher within ${Math.round(this.o.probeTimeoutMs / 1000)} s`);
      await new Promise<void>((r) => this.d.clock.setTimeout(r, 100));
      meta = this.d.ingest.meta(this.publisherId);
    }
    const pre = this.preroll;
    await pre?.waitForKeyframes(2, segment * 1000 + 1000);
    return { ...describeMeta(meta), keyframeInterval: pre?.keyframeInterval(), videoProfile: pre?.videoProfile() };
  }

  private publisherBytes(): number {
    const now = this.d.ingest.meta(this.publisherId)?.inBytes;
    if (now !== undefined) this.lastBytes = now;
    return this.lastBytes;
  }

  private refuse(reason: string): Promise<void> {
    this.d.log.warn('publish refused', { channel: this.channel.slug, reason });
    this.d.ingest.kick(this.publisherId);
    return this.endNow(`refused: ${reason}`);
  }

  /** Ends the class on an error. Never awaits the end: it may be called from inside a step. */
  private fail(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    if (this.endAsked) return;
    this.d.log.error('class could not start', { channel: this.channel.slug, err: message });
    this.d.ingest.kick(this.publisherId);
    void this.end(`failed: ${message}`);
  }

  /** An end decided inside a step: queued behind it (awaiting it here would wait on ourselves). */
  private endNow(reason: string): Promise<void> {
    void this.end(reason);
    return Promise.resolve();
  }

  private async finish(reason: string): Promise<void> {
    if (this.runState === 'ended') return;
    this.runState = 'ending';
    this.d.clock.clearTimeout(this.graceTimer);
    this.detachPreroll?.();
    this.detachPreroll = undefined;
    this.preroll = undefined;
    const status = this.transcoder?.status();
    await Promise.all([this.transcoder?.stop(), this.relay?.stop()]);
    await this.transcoder?.close?.();
    // A class that ends early still gets its master playlist from its final segments.
    if (this.master) this.masterWritten = await this.master.catch(() => false);
    this.d.sessions.update(this.sessionId, { bytesIn: this.bytesIn(), restarts: status?.restarts ?? 0 });
    this.d.sessions.end(this.sessionId, reason);
    let recorded = false;
    if (this.channel.record && this.masterWritten) {
      try {
        await this.d.files.keep(this.dir, vodDir(this.o.mediaDir, this.sessionId));
        recorded = true;
      } catch (err) {
        this.d.log.error('could not keep the recording', { session: this.sessionId, err });
      }
    }
    this.runState = 'ended';
    this.d.log.info('class ended', { channel: this.channel.slug, session: this.sessionId, reason, recorded });
    this.listener.ended(this, reason, recorded);
  }
}

/** What the FLV metadata says of a source (the fallback when Mux gives up has nothing else). Pure. */
export function describeMeta(meta: SourceMeta | undefined): SourceInfo {
  return {
    videoCodec: meta?.videoCodecId === 7 ? 'h264' : meta?.videoCodecId === 12 ? 'hevc' : 'other',
    width: meta?.width ?? 1280,
    height: meta?.height ?? 720,
    fps: meta?.fps ?? 30,
    audioCodec: meta?.audioCodecId === 10 ? 'aac' : meta?.audioCodecId === 0 ? 'none' : 'other',
    videoKbps: meta?.videoKbps,
  };
}
