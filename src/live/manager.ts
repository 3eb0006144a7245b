// The registry of live classes and the admission of publishes: which channel a key opens, whether the box takes
// one more class, and which ClassRun a publisher belongs to. Each class's life is its ClassRun's; this layer only
// routes ingest events to the right run, answers snapshots, and re-emits what the runs report.

import { EventEmitter } from 'node:events';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../log.js';
import type { Channel } from '../domain/channel.js';
import type { Admission, IngestPort, PublishAttempt, SourceMeta } from './ports.js';
import { realClock, type Clock } from '../media/ffmpeg-process.js';
import { refusesAtOnce } from './admission.js';
import { closePlaylists } from './recover.js';
import { encodeQuality, type CrfTable } from '../transcode/quality.js';
import { ClassRun, type RunDeps, type RunFiles, type RunListener, type RunView, type SessionWrites } from './class-run.js';
import type { LocalOutputs, OverflowPort } from './outputs.js';

export interface LiveDeps {
  channelForKey(key: string): number | undefined;
  channelById(id: number): Channel;
  sessions: SessionWrites & {
    start(channelId: number, recorded: boolean): { id: string };
    /** On a shared store: null when this box claimed the channel for the session, else the box that runs it. */
    claimed?(sessionId: string): Promise<string | null>;
  };
  /** On a shared store: the box a channel's class is live on now, when not this one (refused here). */
  liveElsewhere?(channelId: number): { node: string; rtmp: string } | undefined;
  /** On a shared store: another box with transcode budget free, named when this one refuses for lack of it. */
  roomElsewhere?(): { name: string; rtmp: string } | undefined;
  ingest: IngestPort;
  /** The outputs of a class that runs here (hls/outputs.ts). */
  outputs: LocalOutputs;
  /** Present when Mux credentials are configured. */
  overflow?: OverflowPort;
  /** The audience, length and prices a class expects (its top rung's pass-or-encode decision). */
  expect?: RunDeps['expect'];
  /** Refuses new classes (e.g. the media disk is below its free-space floor); undefined when they may start. */
  refuseNew?(): string | undefined;
  files?: RunFiles;
  clock?: Clock;
  log: Logger;
}

export interface LiveOptions {
  mediaDir: string;
  graceMs: number;
  budget: number;
  /** How long to wait for the publisher's metadata before giving up. */
  probeTimeoutMs?: number;
  /** A publisher that sends nothing this long (TCP still open) is dropped, so the real one can reconnect. */
  stallMs?: number;
  /** A new publish with the key takes over from a publisher silent this long (default: 2 s, at most stallMs). */
  takeoverMs?: number;
  /** The configured CRF of each encoding profile (transcode.lectureCrf, transcode.motionCrf). */
  crf?: CrfTable;
  /** The stage's picture is composed into every local ladder (stage.picture with WebRTC on): top rungs encoded. */
  composeStage?: boolean;
}

export type ChannelState = RunView['state'];
export type LiveChannelView = RunView;

export interface LiveEvents {
  started: [{ channel: string; sessionId: string; startedAt: number }];
  ended: [{ channel: string; sessionId: string; reason: string; recorded: boolean }];
  /** The publisher dropped (reconnecting) or came back (live) within one session. */
  publisher: [{ channel: string; sessionId: string; state: 'reconnecting' | 'live' }];
}

/** The real folders: a class's live folder emptied before its ladder, moved to vod/ when kept. */
export const diskFiles: RunFiles = {
  async reset(dir) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
  },
  async keep(from, to) {
    // A ladder killed with media still queued (it could not keep up) never wrote EXT-X-ENDLIST: the replay needs it.
    await closePlaylists(from);
    await mkdir(dirname(to), { recursive: true });
    await rename(from, to);
  },
};

export class LiveManager extends EventEmitter<LiveEvents> {
  private readonly live = new Map<string, ClassRun>();
  private readonly byPublisher = new Map<string, ClassRun>();
  private accepting = true;
  private timer?: NodeJS.Timeout;
  private readonly clock: Clock;
  private readonly listener: RunListener;
  /** Runs stopped because another box claimed their channel first. */
  private readonly unclaimed = new Set<ClassRun>();

  constructor(private readonly o: LiveOptions, private readonly d: LiveDeps) {
    super();
    this.clock = d.clock ?? realClock;
    this.listener = {
      started: (run) => {
        if (!this.unclaimed.has(run)) this.emit('started', { channel: run.channel.slug, sessionId: run.sessionId, startedAt: Date.parse(run.since) });
      },
      publisher: (run, state) => this.emit('publisher', { channel: run.channel.slug, sessionId: run.sessionId, state }),
      ended: (run, reason, recorded) => {
        // Only now is the channel free: nobody sees it gone while its files are still moving.
        if (this.live.get(run.channel.slug) === run) this.live.delete(run.channel.slug);
        for (const [id, r] of this.byPublisher) if (r === run) this.byPublisher.delete(id);
        // A class another box runs was never this box's to announce.
        if (this.unclaimed.delete(run)) return;
        this.emit('ended', { channel: run.channel.slug, sessionId: run.sessionId, reason, recorded });
      },
    };
  }

  used(): number {
    let sum = 0;
    for (const r of this.live.values()) sum += r.pixelRate();
    return sum;
  }

  snapshot(): { budget: number; used: number; channels: LiveChannelView[] } {
    return { budget: this.o.budget, used: this.used(), channels: [...this.live.values()].map((r) => r.view()) };
  }

  /** What the current publisher of a channel sends (resolution, fps, bytes so far). */
  /** On a shared store: which box has room for a class this one refuses, in words. */
  private roomElsewhere(): string | undefined {
    const o = this.d.roomElsewhere?.();
    return o && `box ${o.name} has room: push to ${o.rtmp}`;
  }

  /** The id of a live class's publisher now (an ingest's own id). */
  publisherOf(slug: string): string | undefined {
    return this.live.get(slug)?.publisherId;
  }

  publisherMeta(slug: string): SourceMeta | undefined {
    const r = this.live.get(slug);
    return r ? this.d.ingest.meta(r.publisherId) : undefined;
  }

  /** What learners should play for a channel now. */
  playback(slug: string): ReturnType<ClassRun['playback']> | undefined {
    return this.live.get(slug)?.playback();
  }

  /** The session live on a channel now, if any. */
  current(slug: string): { sessionId: string; state: ChannelState } | undefined {
    const r = this.live.get(slug);
    return r && { sessionId: r.sessionId, state: r.view().state };
  }

  // ---- ingest events -------------------------------------------------------------------------

  admit(a: PublishAttempt): Admission {
    if (!this.accepting) return { ok: false, code: 'shutting_down', reason: 'the server is shutting down' };
    const channelId = a.byInstructor ? a.channelId : this.d.channelForKey(a.key);
    if (channelId === undefined || (a.channelId !== undefined && channelId !== a.channelId)) {
      return { ok: false, code: 'unknown_key', reason: a.channelId !== undefined ? 'unknown or revoked stream key for this channel' : 'unknown or revoked stream key' };
    }
    const channel = this.d.channelById(channelId);
    const existing = this.live.get(channel.slug);
    if (existing) {
      const takeoverMs = Math.min(this.o.takeoverMs ?? 2000, this.o.stallMs || Infinity);
      const old = existing.publisherId;
      const via = a.via ?? 'rtmp';
      if (existing.via && existing.via !== via) {
        const from = (v: string): string => (v === 'whip' ? 'a browser (WebRTC)' : 'RTMP (OBS)');
        return { ok: false, code: 'channel_busy', reason: `channel "${channel.slug}" is live from ${from(existing.via)}: come back the same way, or end the class before publishing from ${from(via)}` };
      }
      const claimed = existing.claim(a.id, this.clock.now(), takeoverMs);
      if (!claimed) return { ok: false, code: 'channel_busy', reason: `channel "${channel.slug}" is already live` };
      this.byPublisher.set(a.id, existing);
      return claimed === 'takeover' ? { ok: true, replaces: old } : { ok: true };
    }
    const there = this.d.liveElsewhere?.(channelId);
    if (there) return { ok: false, code: 'channel_busy', reason: `channel "${channel.slug}" is already live on box ${there.node} (${there.rtmp})` };
    const refusal = this.d.refuseNew?.();
    if (refusal) return { ok: false, code: 'disk_low', reason: refusal };
    const full = refusesAtOnce(channel.overflow, this.o.budget - this.used());
    if (full) {
      const other = this.roomElsewhere();
      return { ok: false, code: 'over_budget', reason: other ? `${full}; ${other}` : full };
    }
    const session = this.d.sessions.start(channel.id, channel.record);
    const run: ClassRun = new ClassRun(channel, session.id, a.id, {
      mediaDir: this.o.mediaDir, encode: encodeQuality(channel.profile, this.o.crf), ...(this.o.composeStage ? { composeStage: true } : {}), graceMs: this.o.graceMs, probeTimeoutMs: this.o.probeTimeoutMs ?? 10000, stallMs: this.o.stallMs ?? 0,
    }, {
      sessions: this.d.sessions,
      ingest: this.d.ingest,
      outputs: this.d.outputs,
      overflow: this.d.overflow,
      freeBudget: (): number => this.o.budget - this.usedBy((r) => r !== run),
      roomElsewhere: () => this.roomElsewhere(),
      expect: this.d.expect,
      files: this.d.files ?? diskFiles,
      clock: this.clock,
      log: this.d.log,
    }, this.listener);
    this.live.set(channel.slug, run);
    this.byPublisher.set(a.id, run);
    this.d.log.info('publish admitted', { channel: channel.slug, session: session.id, from: a.address });
    // After the ingest has registered the publisher: the run subscribes to its media in its first step.
    queueMicrotask(() => void run.begin());
    // Two boxes admitted the same key at once: the one that could not claim the channel stops, unannounced.
    void this.d.sessions.claimed?.(session.id).then((holder) => {
      if (holder === null || this.live.get(channel.slug) !== run) return;
      this.d.log.warn('publish refused: the class is live on another box', { channel: channel.slug, session: session.id, box: holder });
      this.unclaimed.add(run);
      this.d.ingest.kick(a.id);
      void run.end(`live on box ${holder}`);
    }, (err: unknown) => this.d.log.warn('could not learn whether this box runs the class', { channel: channel.slug, err }));
    return { ok: true };
  }

  disconnected(publisherId: string): void {
    void this.byPublisher.get(publisherId)?.publisherLeft(publisherId);
  }

  ended(publisherId: string): void {
    const run = this.byPublisher.get(publisherId);
    this.byPublisher.delete(publisherId);
    void run?.publisherEnded(publisherId);
  }

  /** Once a second: drops publishers that stopped sending with their connection open. */
  checkStalls(now: number): void {
    for (const run of this.live.values()) run.tick(now);
  }

  /** Writes each live class's bytes in so far to its session (called every few seconds). */
  saveProgress(): void {
    for (const run of this.live.values()) {
      if (run.state === 'ending' || run.state === 'ended') continue;
      try {
        this.d.sessions.update(run.sessionId, { bytesIn: run.bytesIn() });
      } catch (err) {
        this.d.log.warn('could not save class progress', { session: run.sessionId, err });
      }
    }
  }

  /** Accepts publishes (again). Every second it drops stalled publishers; every fifth it saves bytes in, so a crash loses at most a few seconds of them. */
  async start(): Promise<void> {
    this.accepting = true;
    let ticks = 0;
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      this.checkStalls(this.clock.now());
      if (++ticks % 5 === 0) this.saveProgress();
    }, 1000);
    this.timer.unref();
  }

  /** Stops accepting publishes and ends every live class (playlists closed). */
  async stop(): Promise<void> {
    this.accepting = false;
    clearInterval(this.timer);
    await Promise.all([...this.live.values()].map((r) => r.end('server shutdown')));
  }

  private usedBy(include: (r: ClassRun) => boolean): number {
    let sum = 0;
    for (const r of this.live.values()) if (include(r)) sum += r.pixelRate();
    return sum;
  }
}
