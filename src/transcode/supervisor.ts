// Runs one channel's ffmpeg ladder process: feeds it through a bounded pipe, parses its progress, restarts it
// with backoff when it dies (the playlists continue after a discontinuity), and stops it gracefully so the
// playlists are closed. Owns only its process; the live manager decides when it starts and stops.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { cpuMsOf } from './cpu.js';
import { mkdirSync } from 'node:fs';
import type { Logger } from '../log.js';
import { BoundedFlvPipe, type PipeStats } from '../media/flv-pipe.js';
import { ffmpegArgs } from './args.js';
import { explainFfmpegError } from '../media/failures.js';
import type { LadderPlan } from './ladder.js';
import { ProgressParser, type Progress } from './progress.js';

export interface MediaSink {
  write(buf: Buffer): void;
}

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
  /** User + system CPU of this ladder's ffmpeg processes so far (sampled each second while one runs). */
  cpuMs: number;
  pipe: PipeStats;
}

const EMPTY_PIPE: PipeStats = { writtenBytes: 0, droppedTags: 0, droppedBytes: 0, peakBufferedBytes: 0, dropping: false };

export class Transcoder {
  private proc?: ChildProcessWithoutNullStreams;
  private pipe?: BoundedFlvPipe;
  private detach?: () => void;
  private state: TranscoderState = 'stopped';
  private restarts = 0;
  private backoffMs: number;
  private restartTimer?: NodeJS.Timeout;
  private stderrTail = '';
  private lastError?: string;
  private progress?: Progress;
  private samples: { wall: number; out: number }[] = [];
  private slowSince?: number;
  private slow = false;
  private exited?: Promise<void>;
  private watch?: NodeJS.Timeout;
  private readonly pipeTotals = { ...EMPTY_PIPE };
  /** CPU of ffmpeg processes that have exited, and the last reading of the running one (sampled each second). */
  private cpuDoneMs = 0;
  private cpuLiveMs = 0;

  constructor(private readonly o: TranscoderOptions) {
    this.backoffMs = o.backoff?.initialMs ?? 500;
  }

  /** @param resume continue existing playlists (a publisher came back) instead of starting them afresh */
  start(resume = false): void {
    if (this.state !== 'stopped') return;
    this.spawnOnce(resume);
  }

  status(): TranscoderStatus {
    const pipe = this.pipe?.stats ?? EMPTY_PIPE;
    return {
      state: this.state,
      pid: this.proc?.pid,
      restarts: this.restarts,
      progress: this.progress,
      speed: this.windowSpeed(),
      slow: this.slow,
      lastError: this.lastError,
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
    clearTimeout(this.restartTimer);
    clearInterval(this.watch);
    if (this.state === 'stopped') return;
    this.state = 'stopping';
    this.detach?.();
    this.detach = undefined;
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) {
      this.state = 'stopped';
      return;
    }
    this.pipe?.end();
    const killer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(killer);
    this.state = 'stopped';
  }

  private spawnOnce(resume: boolean): void {
    const { o } = this;
    for (const r of o.plan.rungs) mkdirSync(`${o.outDir}/${r.name}`, { recursive: true });
    const args = ffmpegArgs(o.plan, { outDir: o.outDir, record: o.record, resume, preset: o.preset, liveWindow: o.liveWindow, segmentPrefix: o.segmentPrefix });
    const proc = spawn(o.ffmpegPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc = proc;
    this.state = 'running';
    this.stderrTail = '';
    this.samples = [];
    const pipe = new BoundedFlvPipe(proc.stdin, o.maxBufferedBytes);
    this.pipe = pipe;
    const parser = new ProgressParser((p) => this.onProgress(p));
    proc.stdout.setEncoding('utf8').on('data', (c: string) => parser.push(c));
    proc.stderr.setEncoding('utf8').on('data', (c: string) => {
      this.stderrTail = (this.stderrTail + c).slice(-4096);
    });
    this.exited = new Promise((resolve) => {
      proc.once('error', (err) => {
        this.lastError = `cannot run ${o.ffmpegPath}: ${err.message}`;
        o.log.error('ffmpeg failed to start', { err: this.lastError });
      });
      proc.once('close', (code, signal) => {
        this.accumulatePipe(pipe);
        this.o.onProcessCpu?.(Math.round(this.cpuLiveMs));
        this.cpuDoneMs += this.cpuLiveMs;
        this.cpuLiveMs = 0;
        this.onExit(code, signal);
        resolve();
      });
    });
    clearInterval(this.watch);
    this.watch = setInterval(() => {
      this.judgeSpeed();
      const pid = proc.pid;
      if (pid !== undefined && proc.exitCode === null) {
        void cpuMsOf(pid).then((ms) => {
          if (ms !== undefined && this.proc === proc && proc.exitCode === null) this.cpuLiveMs = ms;
        });
      }
    }, 1000);
    this.watch.unref();
    this.detach = o.feed(pipe);
    o.log.info('ffmpeg started', { pid: proc.pid, rungs: o.plan.rungs.map((r) => r.name + (r.copy ? '(copy)' : '')).join(','), resume });
  }

  private accumulatePipe(pipe: BoundedFlvPipe): void {
    const s = pipe.stats;
    this.pipeTotals.writtenBytes += s.writtenBytes;
    this.pipeTotals.droppedTags += s.droppedTags;
    this.pipeTotals.droppedBytes += s.droppedBytes;
    this.pipeTotals.peakBufferedBytes = Math.max(this.pipeTotals.peakBufferedBytes, s.peakBufferedBytes);
    this.pipe = undefined;
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.detach?.();
    this.detach = undefined;
    if (this.state === 'stopping' || this.state === 'stopped') return;
    const why = explainFfmpegError(this.stderrTail);
    const lastLine = this.stderrTail.trim().split('\n').pop()?.slice(0, 300);
    this.lastError = why ?? (signal ? `ffmpeg was killed (${signal})` : `ffmpeg exited with code ${code}${lastLine ? `: ${lastLine}` : ''}`);
    this.restarts += 1;
    this.state = 'restarting';
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.o.backoff?.maxMs ?? 10000);
    this.o.log.warn('ffmpeg exited unexpectedly; restarting', { reason: this.lastError, inMs: delay, restarts: this.restarts });
    this.restartTimer = setTimeout(() => {
      if (this.state === 'restarting') this.spawnOnce(true);
    }, delay);
  }

  private onProgress(p: Progress): void {
    this.progress = p;
    const now = Date.now();
    this.samples.push({ wall: now, out: p.outTimeSeconds });
    while (this.samples.length > 2 && this.samples[0]!.wall < now - 10000) this.samples.shift();
    if (p.outTimeSeconds > 5 && this.samples.length > 1) this.backoffMs = this.o.backoff?.initialMs ?? 500; // healthy again
    this.judgeSpeed();
  }

  /** Runs on every progress block and once a second, so a process that stopped reporting is judged too. */
  private judgeSpeed(): void {
    const now = Date.now();
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
