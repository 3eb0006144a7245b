// The one owner of an ffmpeg child process: spawn, stderr tail with the friendly error beside the real line,
// graceful stop (end stdin, then SIGKILL after a timeout), an exit promise, and the restart policy as a
// parameter (never, or backoff with an optional give-up after quick failures). A crash loop (several unexpected
// exits within a minute) is flagged in the status and logged once with ffmpeg's own line. The transcoder, the
// Mux relay and the archive remux all run ffmpeg through this class. Process, clock and pid file are injected.

import { spawn as nodeSpawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../log.js';
import { classifyFfmpegError, FAILURE_TEXT, type FfmpegFailure } from './failures.js';
import type { PidFile } from './pid-file.js';

/** The part of a ChildProcess this class uses (a fake in unit tests). */
export interface ChildLike {
  readonly pid?: number;
  readonly exitCode: number | null;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** All of the child's stdio (index 3 on: the extra output pipes). */
  readonly stdio?: ReadonlyArray<Readable | Writable | null | undefined>;
  kill(signal?: NodeJS.Signals): boolean;
  once(event: 'close', fn: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  once(event: 'error', fn: (err: Error) => void): unknown;
}

export type Spawner = (cmd: string, args: string[], io: { stdin: boolean; stdout: boolean; extraOutputs?: number }) => ChildLike;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export const realSpawner: Spawner = (cmd, args, io) =>
  nodeSpawn(cmd, args, {
    stdio: [io.stdin ? 'pipe' : 'ignore', io.stdout ? 'pipe' : 'ignore', 'pipe', ...Array.from({ length: io.extraOutputs ?? 0 }, () => 'pipe' as const)],
  });

export type RestartPolicy =
  | { kind: 'never' }
  | {
    kind: 'backoff';
    initialMs: number;
    maxMs: number;
    /** Give up after this many exits in a row that each came sooner than quickMs after the start. */
    giveUpAfter?: number;
    quickMs?: number;
  };

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** How long the process ran. */
  ranMs: number;
  /** True when stop() asked for the exit. */
  stopped: boolean;
  /** The plain-language reason (from the failure table), or a summary of code/signal. */
  reason: string;
  /** The known failure ffmpeg's output shows, as a code (what other modules decide on). */
  failure?: FfmpegFailure;
  /** ffmpeg's own last stderr line (omitted when the arguments hold a secret). */
  line?: string;
}

export type ProcessState = 'idle' | 'running' | 'restarting' | 'stopping' | 'stopped' | 'gave-up';

export interface ProcessStatus {
  state: ProcessState;
  pid?: number;
  restarts: number;
  lastError?: string;
  /** ffmpeg's own last line for the last failure (never for secret arguments). */
  lastLine?: string;
  /** Several unexpected exits within a minute: the source or the box is the problem, not luck. */
  crashLoop: boolean;
}

export interface FfmpegProcessOptions {
  /** For logs: "ladder", "relay", "remux". */
  label: string;
  ffmpegPath: string;
  /** The arguments of each run; restarted is true from the second run on. */
  args(run: { restarted: boolean }): string[];
  stdin?: boolean;
  stdout?: boolean;
  /** Output pipes beyond stdout (fd 3, 4, …), e.g. one fMP4 stream per LL-HLS rung. */
  extraOutputs?: number;
  restart: RestartPolicy;
  /** The arguments hold a secret (Mux's stream key in the target URL): ffmpeg's lines are never logged or kept. */
  secretArgs?: boolean;
  /** A process that ran this long counts as healthy: the backoff and the crash-loop count start over. */
  healthyAfterMs?: number;
  crashLoop?: { exits: number; withinMs: number };
  /** Each new child, before anyone else sees it (attach feeds and parsers here). */
  onSpawn?(child: ChildLike): void;
  /** Each exit, with what happens next. */
  onExit?(info: ExitInfo, next: { restartInMs?: number; gaveUp: boolean }): void;
  log: Logger;
  spawn?: Spawner;
  clock?: Clock;
  pids?: PidFile;
}

export class FfmpegProcess {
  private child?: ChildLike;
  private state: ProcessState = 'idle';
  private restarts = 0;
  private backoffMs: number;
  private quickFailures = 0;
  private failures: number[] = [];
  private crashLoop = false;
  private lastError?: string;
  private lastLine?: string;
  private timer?: unknown;
  private exited: Promise<ExitInfo> = Promise.resolve({ code: 0, signal: null, ranMs: 0, stopped: true, reason: 'not started' });
  private readonly clock: Clock;
  private readonly spawner: Spawner;

  constructor(private readonly o: FfmpegProcessOptions) {
    this.clock = o.clock ?? realClock;
    this.spawner = o.spawn ?? realSpawner;
    this.backoffMs = o.restart.kind === 'backoff' ? o.restart.initialMs : 0;
  }

  /** Spawns the first run. Resolves once the child exists; a second start is ignored. */
  async start(): Promise<void> {
    if (this.state !== 'idle' && this.state !== 'stopped') return;
    this.spawnOnce(false);
  }

  /** Ends stdin (ffmpeg then closes its outputs), SIGKILLs after timeoutMs, and waits for the exit. */
  async stop(timeoutMs = 10000): Promise<void> {
    this.clock.clearTimeout(this.timer);
    if (this.state === 'idle' || this.state === 'stopped' || this.state === 'gave-up') {
      if (this.state === 'idle') this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    const child = this.child;
    if (!child || child.exitCode !== null) {
      this.state = 'stopped';
      return;
    }
    if (child.stdin) child.stdin.end();
    else child.kill('SIGTERM');
    const killer = this.clock.setTimeout(() => {
      // What it had not written yet is lost: say so, so a short recording or relay has an explanation.
      this.o.log.warn(`${this.o.label} did not finish within ${timeoutMs} ms of its input ending; killed`, { pid: child.pid });
      child.kill('SIGKILL');
    }, timeoutMs);
    await this.exited;
    this.clock.clearTimeout(killer);
    this.state = 'stopped';
  }

  /** The exit of the current run (for one-shot jobs: start, then await this). */
  exit(): Promise<ExitInfo> {
    return this.exited;
  }

  /** The running child's stdin, if it has one. */
  get stdin(): Writable | null {
    return this.child && this.child.exitCode === null ? this.child.stdin : null;
  }

  status(): ProcessStatus {
    return {
      state: this.state,
      pid: this.state === 'running' ? this.child?.pid : undefined,
      restarts: this.restarts,
      lastError: this.lastError,
      lastLine: this.lastLine,
      crashLoop: this.crashLoop,
    };
  }

  private spawnOnce(restarted: boolean): void {
    const { o } = this;
    const started = this.clock.now();
    let child: ChildLike;
    let tail = '';
    let spawnError: string | undefined;
    try {
      child = this.spawner(o.ffmpegPath, o.args({ restarted }), { stdin: o.stdin ?? false, stdout: o.stdout ?? false, extraOutputs: o.extraOutputs });
    } catch (err) {
      // A synchronous spawn failure (bad path type, EMFILE) is an exit like any other.
      child = deadChild();
      spawnError = err instanceof Error ? err.message : String(err);
    }
    this.child = child;
    this.state = 'running';
    if (child.pid !== undefined) o.pids?.add(child.pid);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (c: string) => {
      tail = (tail + c).slice(-4096);
    });
    // A write to a dead ffmpeg's stdin must not take the server down.
    child.stdin?.on('error', () => {});
    this.exited = new Promise<ExitInfo>((resolve) => {
      child.once('error', (err) => {
        spawnError = `cannot run ${o.ffmpegPath}: ${err.message}`;
      });
      child.once('close', (code, signal) => {
        if (child.pid !== undefined) o.pids?.remove(child.pid);
        const info = this.describe(code, signal, this.clock.now() - started, tail, spawnError);
        resolve(info);
        this.onExit(info);
      });
    });
    o.onSpawn?.(child);
    if (spawnError && child.pid === undefined) queueMicrotask(() => (child as DeadChild).die?.());
  }

  private describe(code: number | null, signal: NodeJS.Signals | null, ranMs: number, tail: string, spawnError?: string): ExitInfo {
    const stopped = this.state === 'stopping' || this.state === 'stopped';
    const line = this.o.secretArgs ? undefined : tail.trim().split('\n').pop()?.slice(0, 300) || undefined;
    const failure = classifyFfmpegError(tail);
    const reason = spawnError ?? (failure && FAILURE_TEXT[failure]) ?? (signal ? `ffmpeg was killed (${signal})` : `ffmpeg exited with code ${code}`);
    return { code, signal, ranMs, stopped, reason, line, ...(failure ? { failure } : {}) };
  }

  private onExit(info: ExitInfo): void {
    const { o } = this;
    if (info.stopped) {
      o.onExit?.(info, { gaveUp: false });
      return;
    }
    const clean = info.code === 0 && !info.signal;
    if (!clean) {
      this.lastError = info.reason;
      this.lastLine = info.line;
    }
    const policy = o.restart;
    if (policy.kind === 'never') {
      this.state = 'stopped';
      o.onExit?.(info, { gaveUp: false });
      return;
    }
    const now = this.clock.now();
    if (info.ranMs >= (o.healthyAfterMs ?? 10000)) {
      this.backoffMs = policy.initialMs;
      this.quickFailures = 0;
      this.failures = [];
      this.crashLoop = false;
    }
    this.quickFailures = info.ranMs < (policy.quickMs ?? 10000) ? this.quickFailures + 1 : 0;
    const window = o.crashLoop ?? { exits: 3, withinMs: 60000 };
    this.failures = [...this.failures.filter((t) => now - t < window.withinMs), now];
    if (!this.crashLoop && this.failures.length >= window.exits) {
      this.crashLoop = true;
      o.log.error(`${o.label} is in a crash loop`, { exits: this.failures.length, reason: info.reason, ...(info.line ? { ffmpeg: info.line } : {}) });
    }
    if (policy.giveUpAfter !== undefined && this.quickFailures >= policy.giveUpAfter) {
      this.state = 'gave-up';
      o.log.error(`${o.label} gave up`, { reason: info.reason, attempts: this.quickFailures });
      o.onExit?.(info, { gaveUp: true });
      return;
    }
    this.restarts += 1;
    this.state = 'restarting';
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, policy.maxMs);
    o.log.warn(`${o.label} exited unexpectedly; restarting`, { reason: info.reason, ...(info.line ? { ffmpeg: info.line } : {}), inMs: delay, restarts: this.restarts });
    o.onExit?.(info, { restartInMs: delay, gaveUp: false });
    this.timer = this.clock.setTimeout(() => {
      if (this.state === 'restarting') this.spawnOnce(true);
    }, delay);
  }
}

interface DeadChild extends ChildLike {
  die?(): void;
}

/** Stands in for a child that could not be spawned at all, so the exit path is the same. */
function deadChild(): DeadChild {
  let close: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined;
  return {
    exitCode: null, stdin: null, stdout: null, stderr: null,
    kill: () => false,
    once(event: string, fn: never) {
      if (event === 'close') close = fn;
      return this;
    },
    die() {
      close?.(null, null);
    },
  } as DeadChild;
}
