// One live class, from the first publish to its end: the single owner of that class's publisher, session, outputs
// and recording. Every decision is run-machine.ts's pure step; this shell feeds it events one at a time through a
// serial queue (as MediaMTX gives each path one loop) and performs the effects it returns: subscribe the media,
// start and stop the outputs, write the session, move the recording. Slow work (probing the source) runs beside
// the queue and hands its result back as an event, so an end asked for during a start is never stuck behind it.
// Processes, clock, files and the store are injected.

import type { Logger } from '../log.js';
import type { Channel } from '../domain/channel.js';
import { liveDir, vodDir } from '../domain/media-layout.js';
import type { Clock } from '../media/ffmpeg-process.js';
import type { MediaSink } from '../media/sink.js';
import type { IngestPort, SourceMeta } from './ports.js';
import type { ClassOutput, LocalOutputs, OverflowPort } from './outputs.js';
import { pixelRate, type SourceInfo } from '../transcode/ladder.js';
import type { TranscoderStatus } from '../transcode/supervisor.js';
import { SEGMENT_SECONDS, type Expectation } from './admission.js';
import { PublisherMeter } from './meter.js';
import { Preroll } from './preroll.js';
import { SerialQueue } from './serial.js';
import type { EncodeQuality } from '../transcode/quality.js';
import { initialModel, mayClaim, step, type RunEffect, type RunEvent, type RunModel, type RunPhase } from './run-machine.js';

export type RunState = RunPhase;

export interface SessionWrites {
  setSource(id: string, s: { codec: string; width: number; height: number; fps: number; audioCodec: string }, ladder: string[], topRung?: string | null): void;
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
  /** The outputs of a class that runs here (ladder, LL-HLS packager, master playlist). */
  outputs: LocalOutputs;
  /** Present when Mux credentials are configured. */
  overflow?: OverflowPort;
  /** Transcode budget (pixels/s) not used by the other classes. */
  freeBudget(): number;
  /** On a shared store: "box <name> has room: push to <rtmp>" for another box with budget free. */
  roomElsewhere?(): string | undefined;
  /** The audience, length and prices the class expects (asked while the source is probed). */
  expect?(channel: Channel): Promise<Expectation | undefined>;
  files: RunFiles;
  clock: Clock;
  log: Logger;
}

export interface RunOptions {
  mediaDir: string;
  /** The channel's encoding profile with the box's configured quality. */
  encode?: EncodeQuality;
  /** The box lays the stage's picture over this class's video: every rung encoded. */
  composeStage?: boolean;
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

export class ClassRun {
  private model: RunModel;
  private readonly queue = new SerialQueue();
  private readonly meter: PublisherMeter;
  readonly since: string;
  private ended?: Promise<void>;
  private outputs: ClassOutput[] = [];
  private preroll?: { sink: Preroll; detach: () => void };
  private graceTimer?: unknown;
  private slow = false;
  private restarts = 0;

  constructor(
    readonly channel: Channel,
    readonly sessionId: string,
    publisherId: string,
    private readonly o: RunOptions,
    private readonly d: RunDeps,
    private readonly listener: RunListener,
  ) {
    this.model = initialModel(channel, publisherId, o.encode, o.composeStage);
    this.meter = new PublisherMeter((id) => d.ingest.meta(id)?.inBytes);
    this.since = new Date(d.clock.now()).toISOString();
  }

  get state(): RunState {
    return this.model.phase;
  }

  /** The way in of the class's source, once it is known: its ladder reads that container, so a publisher coming
   * back must come the same way. */
  get via(): 'rtmp' | 'whip' | undefined {
    const s = this.model.source;
    return s ? s.via ?? 'rtmp' : undefined;
  }

  get publisherId(): string {
    return this.model.publisher;
  }

  get dir(): string {
    return liveDir(this.o.mediaDir, this.channel.slug);
  }

  /** Pixels per second this class's ladder encodes (0 before the ladder is planned, or on Mux). */
  pixelRate(): number {
    return this.model.plan && this.model.mode === 'local' ? pixelRate(this.model.plan.rungs) : 0;
  }

  playback(): { mode: 'local' | 'mux'; playbackId: string | null; lowLatency?: boolean } {
    const m = this.model;
    // Decided by the channel, not by whether the packager exists yet (a page may ask while the class starts).
    return { mode: m.mode, playbackId: m.muxPlaybackId, ...(m.mode === 'local' && this.channel.latency === 'ultra' ? { lowLatency: true } : {}) };
  }

  view(): RunView {
    const m = this.model;
    const s = m.phase;
    return {
      channel: this.channel.slug,
      state: s === 'admitted' ? 'starting' : s === 'ended' ? 'ending' : s,
      mode: m.mode,
      sessionId: this.sessionId,
      since: this.since,
      ladder: m.mode === 'local' ? m.plan?.rungs.map((r) => r.name + (r.copy ? ' (copy)' : '')) ?? [] : [],
      pixelRate: this.pixelRate(),
      reconnects: m.reconnects,
      slow: this.slow,
      notes: [...m.notes],
      transcoder: this.transcoderStatus(),
      ...(m.mode === 'mux' ? { relaying: this.outputs.some((o) => o.kind === 'relay') } : {}),
    };
  }

  // ---- what the manager tells the run ------------------------------------------------------------------------

  /** Starts the class: holds the media from the first packet, probes the source, then starts its outputs or the relay. */
  begin(): Promise<void> {
    return this.queued(() => ({ t: 'begin' }));
  }

  /** May this publish carry the class on? Synchronous, so the ingest can answer at once; the switch is a step. */
  claim(publisherId: string, now: number, takeoverMs: number): false | 'reconnect' | 'takeover' {
    const silentMs = this.meter.silentMs(this.model.publisher, now);
    const how = mayClaim(this.model, silentMs, takeoverMs);
    if (!how) return false;
    this.applyNow({ t: 'claimed', publisher: publisherId, how, silentMs });
    void this.queued(() => ({ t: 'resume', publisher: publisherId }));
    return how;
  }

  /** The publisher's connection closed: wait for it within the grace. */
  publisherLeft(publisherId: string): Promise<void> {
    return this.queued(() => ({ t: 'dropped', publisher: publisherId }));
  }

  /** The ingest ended the publish for good. */
  publisherEnded(publisherId: string): Promise<void> {
    return this.queued(() => ({ t: 'publisher_ended', publisher: publisherId }));
  }

  /** Ends the class once; every caller waits for the same end. */
  end(reason: string): Promise<void> {
    this.applyNow({ t: 'end_asked', reason });
    this.ended ??= this.queue.run(() => this.run({ t: 'finish' }));
    return this.ended;
  }

  /** Once a second: drops a publisher that stopped sending with its connection open. */
  tick(now: number): void {
    const m = this.model;
    if (!this.o.stallMs || (m.phase !== 'live' && m.phase !== 'starting') || m.claimedBy) return;
    const silent = this.meter.observe(m.publisher, now);
    if (silent === undefined || silent < this.o.stallMs) return;
    const stalled = m.publisher;
    this.d.log.warn('publisher sent nothing; dropping it so the class can continue on a reconnect', { channel: this.channel.slug, silentMs: silent });
    this.meter.forget();
    void this.publisherLeft(stalled);
    this.d.ingest.kick(stalled);
  }

  /** Bytes in so far, for the session row (called every few seconds). */
  bytesIn(): number {
    return this.meter.total(this.model.publisher);
  }

  // ---- the shell: events in, effects out -----------------------------------------------------------------------

  /** A step through the queue: the event (made when its turn comes) and every effect it leads to, in order. */
  private queued(make: () => RunEvent): Promise<void> {
    return this.queue.run(() => this.run(make())).catch((err: unknown) => this.fail(err));
  }

  private async run(event: RunEvent): Promise<void> {
    const pending = this.apply(event);
    while (pending.length) {
      const next = await this.perform(pending.shift()!);
      if (next) pending.unshift(...this.apply(next));
    }
  }

  /** An event that must take effect at once (a claim, an end asked for, a failure): its effects are synchronous. */
  private applyNow(event: RunEvent): void {
    for (const f of this.apply(event)) {
      const r = this.perform(f);
      if (r instanceof Promise) void r.catch((err: unknown) => this.d.log.error('class step failed', { channel: this.channel.slug, err }));
    }
  }

  private apply(event: RunEvent): RunEffect[] {
    const s = step(this.model, event);
    this.model = s.model;
    return s.effects;
  }

  /** Ends the class on an error. Never awaits the end: it may be called from inside a step. */
  private fail(err: unknown): void {
    this.applyNow({ t: 'start_failed', message: err instanceof Error ? err.message : String(err) });
  }

  private perform(f: RunEffect): RunEvent | undefined | Promise<RunEvent | undefined> {
    const d = this.d;
    switch (f.t) {
      case 'log':
        d.log[f.level](f.msg, { ...f.fields, session: this.sessionId });
        return;
      case 'hold_and_probe':
        this.hold();
        void Promise.all([this.probeSource(), this.expectation()]).then(
          ([source, expect]) => this.queued(() => {
            const free = d.freeBudget();
            const elsewhere = d.roomElsewhere?.();
            return { t: 'source_known', source, free, muxAvailable: Boolean(d.overflow), ...(expect ? { expect } : {}), ...(elsewhere ? { elsewhere } : {}) };
          }),
          (err: unknown) => this.queued(() => ({ t: 'start_failed', message: err instanceof Error ? err.message : String(err) })),
        );
        return;
      case 'follow':
        if (this.preroll) {
          // Still probing: the held media follows the new publisher from here.
          this.preroll.detach();
          this.preroll.detach = d.ingest.subscribe(f.publisher, this.preroll.sink);
        }
        return;
      case 'release_media':
        this.preroll?.detach();
        this.preroll = undefined;
        return;
      case 'record_source':
        d.sessions.setSource(this.sessionId, f.source, f.ladder, f.topRung ?? null);
        return;
      case 'start_local':
        return this.startLocal(f.plan);
      case 'find_mux':
        return this.findMux();
      case 'mark_overflow':
        void d.overflow?.markOverflow(this.sessionId).catch((err: unknown) => d.log.warn('could not mark the session as overflowed to Mux', { session: this.sessionId, err }));
        return;
      case 'start_relay':
        return this.startRelay(f.target);
      case 'drop_relay': {
        const failed = this.outputs;
        this.outputs = [];
        // Its process gave up already: stopping frees its ingest link and logs where the bytes went.
        for (const o of failed) void o.stop('end').catch((err: unknown) => d.log.warn('could not stop the relay', { channel: this.channel.slug, err }));
        return;
      }
      case 'restart_outputs':
        return this.restartOutputs();
      case 'count_from':
        this.meter.switchTo(f.from, f.to);
        return;
      case 'snapshot_bytes':
        this.meter.read(this.model.publisher);
        return;
      case 'kick':
        d.ingest.kick(f.publisher);
        return;
      case 'arm_grace':
        d.clock.clearTimeout(this.graceTimer);
        this.graceTimer = d.clock.setTimeout(() => void this.end('publisher left'), this.o.graceMs);
        return;
      case 'clear_grace':
        d.clock.clearTimeout(this.graceTimer);
        return;
      case 'announce':
        if (f.what === 'started') this.listener.started(this);
        else this.listener.publisher(this, f.what);
        return;
      case 'save_reconnects':
        d.sessions.update(this.sessionId, { reconnects: f.reconnects });
        return;
      case 'request_end':
        void this.end(f.reason);
        return;
      case 'stop_outputs':
        return this.stopOutputs();
      case 'close_outputs':
        return this.closeOutputs();
      case 'close_session':
        d.sessions.update(this.sessionId, { bytesIn: this.bytesIn(), restarts: this.restarts });
        d.sessions.end(this.sessionId, f.reason);
        return;
      case 'keep_recording':
        return this.keepRecording();
      case 'announce_ended':
        this.listener.ended(this, f.reason, f.recorded);
        return;
    }
  }

  private hold(): void {
    // The media from the first packet on, so the recording starts when the class does.
    const sink = new Preroll(32 * 1024 * 1024);
    this.preroll = { sink, detach: this.d.ingest.subscribe(this.model.publisher, sink) };
  }

  private async startLocal(plan: NonNullable<RunModel['plan']>): Promise<RunEvent> {
    await this.d.files.reset(this.dir); // a previous class's leftovers
    this.outputs = this.d.outputs.create({
      channel: this.channel, sessionId: this.sessionId, dir: this.dir, plan, record: this.channel.record,
      feed: (sink) => this.feed(sink),
      onSlowChange: (slow) => {
        this.slow = slow;
      },
      inputFlowing: () => this.model.phase !== 'reconnecting',
    });
    for (const o of this.outputs) await o.start(false);
    return { t: 'carrier_started' };
  }

  private async findMux(): Promise<RunEvent> {
    try {
      const s = await this.d.overflow!.ensureStream(this.channel.slug);
      return { t: 'mux_ready', target: s.target, playbackId: s.playbackId };
    } catch (err) {
      this.d.log.error('Mux live stream unavailable', { channel: this.channel.slug, err: err instanceof Error ? err.message : String(err) });
      return { t: 'mux_unavailable', free: this.d.freeBudget() };
    }
  }

  private async startRelay(target: string): Promise<RunEvent> {
    const s = this.model.source;
    const relay = this.d.overflow!.relay({
      target,
      ...(s?.container === 'mkv' ? { source: { container: 'mkv' as const, videoCodec: s.videoCodec } } : {}),
      feed: (sink) => this.feed(sink),
      onGiveUp: (reason) => void this.queued(() => ({
        t: 'relay_gave_up', reason, source: describeMeta(this.d.ingest.meta(this.model.publisher)), free: this.d.freeBudget(),
      })),
    });
    this.outputs = [relay];
    await relay.start(false);
    return { t: 'carrier_started' };
  }

  private async restartOutputs(): Promise<undefined> {
    for (const o of [...this.outputs].reverse()) await o.stop('restart');
    for (const o of this.outputs) await o.start(true);
    return undefined;
  }

  private async stopOutputs(): Promise<undefined> {
    this.restarts = this.transcoderStatus()?.restarts ?? 0;
    for (const o of [...this.outputs].reverse()) await o.stop('end');
    return undefined;
  }

  private async closeOutputs(): Promise<RunEvent> {
    let published = false;
    for (const o of this.outputs) published = (await o.close()).published === true || published;
    return { t: 'outputs_closed', published };
  }

  private async keepRecording(): Promise<RunEvent> {
    try {
      await this.d.files.keep(this.dir, vodDir(this.o.mediaDir, this.sessionId));
      return { t: 'kept', ok: true };
    } catch (err) {
      this.d.log.error('could not keep the recording', { session: this.sessionId, err });
      return { t: 'kept', ok: false };
    }
  }

  private transcoderStatus(): TranscoderStatus | undefined {
    for (const o of this.outputs) {
      const s = o.transcoder?.();
      if (s) return s;
    }
    return undefined;
  }

  /** Connects the live media to a consumer: the held preroll first (no gap, no duplicate), then the publisher. */
  private feed(sink: MediaSink): () => void {
    const held = this.preroll;
    this.preroll = undefined;
    if (held) {
      held.sink.drainInto(sink); // the same subscription continues
      return held.detach;
    }
    return this.d.ingest.subscribe(this.model.publisher, sink);
  }

  /** Reads the publisher's metadata and the spacing of its first keyframes (beside the queue). */
  /** What the class expects; a store that cannot say leaves the top rung as the source allows (passed through). */
  private async expectation(): Promise<Expectation | undefined> {
    try {
      return await this.d.expect?.(this.channel);
    } catch (err) {
      this.d.log.warn('could not estimate the class\'s audience; the top rung is passed through when it can be', { session: this.sessionId, err });
      return undefined;
    }
  }

  private async probeSource(): Promise<SourceInfo> {
    const segment = SEGMENT_SECONDS[this.channel.latency];
    const deadline = this.d.clock.now() + this.o.probeTimeoutMs;
    let meta = this.d.ingest.meta(this.model.publisher);
    while (!meta || meta.width <= 0 || meta.height <= 0) {
      if (this.model.endAsked) throw new Error('the class ended while starting');
      if (this.d.clock.now() > deadline) throw new Error(`no video metadata from the publisher within ${Math.round(this.o.probeTimeoutMs / 1000)} s`);
      await new Promise<void>((r) => this.d.clock.setTimeout(r, 100));
      meta = this.d.ingest.meta(this.model.publisher);
    }
    const pre = this.preroll?.sink;
    await pre?.waitForKeyframes(2, segment * 1000 + 1000);
    return { ...describeMeta(meta), keyframeInterval: pre?.keyframeInterval(), videoProfile: pre?.videoProfile() };
  }
}

/** What the publisher's metadata says of a source (the fallback when Mux gives up has nothing else). Pure. */
export function describeMeta(meta: SourceMeta | undefined): SourceInfo {
  return {
    videoCodec: meta?.videoCodec ?? 'other',
    width: meta?.width ?? 1280,
    height: meta?.height ?? 720,
    fps: meta?.fps ?? 30,
    audioCodec: meta?.audioCodec ?? 'other',
    videoKbps: meta?.videoKbps,
    ...(meta?.container === 'mkv' ? { container: 'mkv' as const } : {}),
    ...(meta?.via === 'whip' ? { via: 'whip' as const } : {}),
  };
}
