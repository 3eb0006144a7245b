// Runs one channel's ffmpeg ladder: feeds it through a bounded pipe, parses its progress and judges its speed,
// samples its CPU, and lets the media layer's FfmpegProcess restart it with backoff when it dies (the playlists
// continue after a discontinuity) and stop it gracefully so the playlists are closed. Owns only its process;
// the class run decides when it starts and stops.

import { mkdirSync } from 'node:fs';
import type { Logger } from '../log.js';
import { BoundedFlvPipe, type PipeStats } from '../media/flv-pipe.js';
import { FfmpegProcess, type ChildLike, type Clock, type Spawner } from '../media/ffmpeg-process.js';
import type { PidFile } from '../media/pid-file.js';
import type { MediaSink } from '../media/sink.js';
import type { FfmpegFailure } from '../media/failures.js';
import { cpuMsOf } from './cpu.js';
import type { Readable, Writable } from 'node:stream';
import { ffmpegArgs, STAGE_FD, stagePipes } from './args.js';
import { llFfmpegArgs, llOutputCount, llOutputFd, llStageFd } from './ll-args.js';
import { stageClocked, StageAudioFeed, type MixSource, type StageFiller } from './stage-audio.js';
import { NO_PICTURE, StagePictureFeed } from './stage-picture.js';
import type { PictureSource } from '../media/stage-picture.js';

/** No stage voices: silence (a plan with the stage input but no mixer given). */
const SILENCE: MixSource = { take: (n) => new Int16Array(n) };
import type { LadderPlan } from './ladder.js';
import { ProgressParser, type Progress } from './progress.js';

export interface TranscoderOptions {
  ffmpegPath: string;
  plan: LadderPlan;
  outDir: string;
  record: boolean;
  preset: string;
  liveWindow: number;
  segmentPrefix: string;
  /** Bytes allowed to wait for ffmpeg before media is dropped. */
  maxBufferedBytes: number;
  /** Connects the live media to a sink (headers first); returns the function that disconnects it. */
  feed(sink: MediaSink): () => void;
  log: Logger;
  backoff?: { initialMs: number; maxMs: number };
  /** Called when the ladder falls behind real time for longer than slowAfterMs, and when it recovers. */
  onSlowChange?(slow: boolean): void;
  /** Called as each ffmpeg process exits with the CPU it used (ms), for the session's encode cost. */
  onProcessCpu?(ms: number): void;
  slowAfterMs?: number;
  /** False while the publisher is away (reconnecting): a starved ladder is not a slow one. */
  inputFlowing?(): boolean;
  /** Told of each unexpected exit, with the plain-language reason (a full disk, a source it cannot read). */
  onFailure?(failure: { reason: string; failure?: FfmpegFailure }): void;
  /** Low-Latency HLS: each rung leaves as fMP4 on its own pipe, handed to this packager on every run. */
  ll?: { partSeconds: number; attach(outputs: readonly Readable[]): void; finish(): Promise<void> };
  /** The stage's voices, mixed into the class's sound (the plan says stageAudio). */
  stage?: MixSource;
  /** The stage's picture, laid over the class's video (the plan says stagePicture). */
  picture?: PictureSource;
  /** Test seams and the pid file (defaults: real processes and clock, no pid file). */
  spawn?: Spawner;
  clock?: Clock;
  pids?: PidFile;
}

export type TranscoderState = 'running' | 'restarting' | 'stopping' | 'stopped';

export interface TranscoderStatus {
  state: TranscoderState;
  pid?: number;
  restarts: number;
  progress?: Progress;
  /** Output time gained per wall-clock second over the last few seconds (1.0 = keeping up). */
  speed?: number;
  slow: boolean;
  lastError?: string;
  /** ffmpeg's own last line for the last failure. */
  lastLine?: string;
  /** Several unexpected exits within a minute (a source the ladder cannot take, a full disk). */
  crashLoop: boolean;
  /** User + system CPU of this ladder's ffmpeg processes so far (sampled each second while one runs). */
  cpuMs: number;
  pipe: PipeStats;
}

const EMPTY_PIPE: PipeStats = { writtenBytes: 0, droppedTags: 0, droppedBytes: 0, peakBufferedBytes: 0, dropping: false };

export class Transcoder {
  private readonly proc: FfmpegProcess;
  private pipe?: BoundedFlvPipe;
  /** The stage's inputs of the running ffmpeg (its sound, its picture). */
  private stageIn: Writable[] = [];
  private detach?: () => void;
  private child?: ChildLike;
  private progress?: Progress;
  private samples: { wall: number; out: number }[] = [];
  private slowSince?: number;
  private slow = false;
  private watch?: NodeJS.Timeout;
  private readonly pipeTotals = { ...EMPTY_PIPE };
  /** CPU of ffmpeg processes that have exited, and the last reading of the running one (sampled each second). */
  private cpuDoneMs = 0;
  private cpuLiveMs = 0;
  private resume = false;

  constructor(private readonly o: TranscoderOptions) {
    this.proc = new FfmpegProcess({
      label: 'ladder',
      ffmpegPath: o.ffmpegPath,
      args: ({ restarted }) => {
        for (const r of o.plan.rungs) mkdirSync(`${o.outDir}/${r.name}`, { recursive: true });
        if (o.ll) return llFfmpegArgs(o.plan, { preset: o.preset, partSeconds: o.ll.partSeconds });
        return ffmpegArgs(o.plan, { outDir: o.outDir, record: o.record, resume: this.resume || restarted, preset: o.preset, liveWindow: o.liveWindow, segmentPrefix: o.segmentPrefix });
      },
      stdin: true,
      stdout: true,
      // The LL-HLS outputs (fd 3…), then the stage input.
      extraOutputs: (o.ll ? llOutputCount(o.plan) : 0) + stagePipes(o.plan),
      restart: { kind: 'backoff', initialMs: o.backoff?.initialMs ?? 500, maxMs: o.backoff?.maxMs ?? 10000 },
      onSpawn: (child) => this.attach(child),
      onExit: (info) => {
        this.detachRun();
        if (!info.stopped) o.onFailure?.({ reason: info.reason, ...(info.failure ? { failure: info.failure } : {}) });
      },
      log: o.log,
      spawn: o.spawn,
      clock: o.clock,
      pids: o.pids,
    });
  }

  /** @param resume continue existing playlists (a publisher came back) instead of starting them afresh */
  async start(resume = false): Promise<void> {
    this.resume = resume;
    await this.proc.start();
  }

  status(): TranscoderStatus {
    const pipe = this.pipe?.stats ?? EMPTY_PIPE;
    const p = this.proc.status();
    return {
      state: p.state === 'idle' || p.state === 'gave-up' ? 'stopped' : p.state,
      pid: p.pid,
      restarts: p.restarts,
      progress: this.progress,
      speed: this.windowSpeed(),
      slow: this.slow,
      lastError: p.lastError,
      lastLine: p.lastLine,
      crashLoop: p.crashLoop,
      cpuMs: Math.round(this.cpuDoneMs + this.cpuLiveMs),
      pipe: {
        writtenBytes: this.pipeTotals.writtenBytes + pipe.writtenBytes,
        droppedTags: this.pipeTotals.droppedTags + pipe.droppedTags,
        droppedBytes: this.pipeTotals.droppedBytes + pipe.droppedBytes,
        peakBufferedBytes: Math.max(this.pipeTotals.peakBufferedBytes, pipe.peakBufferedBytes),
        dropping: pipe.dropping,
      },
    };
  }

  /** Bytes currently waiting for ffmpeg in the pipe. */
  get bufferedBytes(): number {
    return this.pipe?.bufferedBytes ?? 0;
  }

  /** Ends the input so ffmpeg finishes its segments and closes the playlists; kills it after timeoutMs. */
  async stop(timeoutMs = 10000): Promise<void> {
    clearInterval(this.watch);
    this.detach?.();
    this.detach = undefined;
    this.pipe?.end();
    for (const w of this.stageIn) w.end(); // the stage's inputs end with the class's: ffmpeg then finishes and closes the playlists
    await this.proc.stop(timeoutMs);
  }

  /** The class is over: the LL-HLS packager closes its playlists (a no-op for classic HLS). */
  async close(): Promise<void> {
    await this.o.ll?.finish();
  }

  private attach(child: ChildLike): void {
    this.child = child;
    this.samples = [];
    const pipe = new BoundedFlvPipe(child.stdin!, this.o.maxBufferedBytes);
    this.pipe = pipe;
    const parser = new ProgressParser((p) => this.onProgress(p));
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (c: string) => parser.push(c));
    clearInterval(this.watch);
    this.watch = setInterval(() => {
      this.judgeSpeed();
      const pid = child.pid;
      if (pid !== undefined && child.exitCode === null) {
        void cpuMsOf(pid).then((ms) => {
          if (ms !== undefined && this.child === child && child.exitCode === null) this.cpuLiveMs = ms;
        });
      }
    }, 1000);
    this.watch.unref();
    if (this.o.ll) this.o.ll.attach(Array.from({ length: llOutputCount(this.o.plan) }, (_x, i) => child.stdio?.[llOutputFd(i)] as Readable));
    const stageFd = this.o.ll ? llStageFd(this.o.plan) : STAGE_FD;
    const stageIn = this.o.plan.stageAudio ? child.stdio?.[stageFd] as Writable | undefined : undefined;
    const pictureIn = this.o.plan.stagePicture ? child.stdio?.[stageFd + 1] as Writable | undefined : undefined;
    const fillers: StageFiller[] = [
      ...(stageIn ? [new StageAudioFeed(stageIn, this.o.stage ?? SILENCE)] : []),
      ...(pictureIn ? [new StagePictureFeed(pictureIn, this.o.picture ?? NO_PICTURE)] : []),
    ];
    this.stageIn = [stageIn, pictureIn].filter((w): w is Writable => w !== undefined);
    this.detach = this.o.feed(fillers.length ? stageClocked(pipe, fillers) : pipe);
    this.o.log.info('ffmpeg started', { pid: child.pid, rungs: this.o.plan.rungs.map((r) => r.name + (r.copy ? '(copy)' : '')).join(','), resume: this.resume });
  }

  private detachRun(): void {
    this.detach?.();
    this.detach = undefined;
    clearInterval(this.watch);
    const pipe = this.pipe;
    if (pipe) {
      const s = pipe.stats;
      this.pipeTotals.writtenBytes += s.writtenBytes;
      this.pipeTotals.droppedTags += s.droppedTags;
      this.pipeTotals.droppedBytes += s.droppedBytes;
      this.pipeTotals.peakBufferedBytes = Math.max(this.pipeTotals.peakBufferedBytes, s.peakBufferedBytes);
      this.pipe = undefined;
    }
    this.o.onProcessCpu?.(Math.round(this.cpuLiveMs));
    this.cpuDoneMs += this.cpuLiveMs;
    this.cpuLiveMs = 0;
  }

  private onProgress(p: Progress): void {
    this.progress = p;
    const now = Date.now();
    this.samples.push({ wall: now, out: p.outTimeSeconds });
    while (this.samples.length > 2 && this.samples[0]!.wall < now - 10000) this.samples.shift();
    this.judgeSpeed();
  }

  /** Runs on every progress block and once a second, so a process that stopped reporting is judged too. */
  private judgeSpeed(): void {
    const now = Date.now();
    if (this.o.inputFlowing && !this.o.inputFlowing()) {
      // Nothing comes in: judge speed afresh once the publisher is back.
      this.samples = [];
      this.slowSince = undefined;
      if (this.slow) {
        this.slow = false;
        this.o.onSlowChange?.(false);
      }
      return;
    }
    const speed = this.windowSpeed();
    if (speed === undefined) return;
    // A live source cannot run faster than real time; a 10 s window of a healthy ladder stays within a few percent of 1.0.
    if (speed < 0.95) {
      this.slowSince ??= now;
      if (!this.slow && now - this.slowSince > (this.o.slowAfterMs ?? 10000)) {
        this.slow = true;
        this.o.log.warn('ladder cannot keep up with real time', { speed: speed.toFixed(2) });
        this.o.onSlowChange?.(true);
      }
    } else {
      this.slowSince = undefined;
      if (this.slow) {
        this.slow = false;
        this.o.onSlowChange?.(false);
      }
    }
  }

  /** Output seconds gained per wall-clock second over the last 10 s, counting silence since the last report. */
  private windowSpeed(): number | undefined {
    const now = Date.now();
    const recent = this.samples.filter((s) => s.wall >= now - 10000);
    const first = recent[0] ?? this.samples[this.samples.length - 1];
    const last = this.samples[this.samples.length - 1];
    // Reports come once a second: only silence beyond 2 s counts against the process.
    const until = Math.max(last?.wall ?? now, now - 2000);
    if (!first || !last || until - first.wall < 3000) return undefined;
    return (last.out - first.out) / ((until - first.wall) / 1000);
  }
}
