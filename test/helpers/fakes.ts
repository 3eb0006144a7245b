// Fakes of our own interfaces for the state-machine unit tests: a clock whose time moves only when told, and a
// child process that exits when the test says so.

import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import type { ChildLike, Clock, Spawner } from '../../src/media/ffmpeg-process.js';

export class FakeClock implements Clock {
  t = 0;
  private next = 1;
  private timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }

  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }

  /** Moves time forward, firing due timers in order (and the ones they set, if due). */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, v]) => v.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
      await settle();
    }
    this.t = end;
    await settle();
  }

  get pending(): number {
    return this.timers.size;
  }
}

/** Lets promise callbacks and queued steps run. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

export class FakeChild extends EventEmitter implements ChildLike {
  static nextPid = 1000;
  readonly pid = FakeChild.nextPid++;
  exitCode: number | null = null;
  readonly stdin = new PassThrough();
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly signals: string[] = [];
  stdinEnded = false;

  constructor(readonly args: string[], private readonly exitOnStdinEnd = true) {
    super();
    this.stdin.on('finish', () => {
      this.stdinEnded = true;
      if (this.exitOnStdinEnd) this.exit(0);
    });
    this.stdin.resume();
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.signals.push(signal);
    if (signal === 'SIGKILL') this.exit(null, 'SIGKILL');
    return true;
  }

  /** The process ends (after printing `line` to stderr, if given). */
  exit(code: number | null, signal: NodeJS.Signals | null = null, line?: string): void {
    if (this.exitCode !== null || this.signals.includes('exited')) return;
    this.signals.push('exited');
    if (line) this.stderr.write(`${line}\n`);
    setImmediate(() => {
      this.exitCode = code ?? 1;
      this.emit('close', code, signal);
    });
  }
}

/** A spawner that records every child it makes. */
export function fakeSpawner(opts: { exitOnStdinEnd?: boolean } = {}): { spawn: Spawner; children: FakeChild[] } {
  const children: FakeChild[] = [];
  return {
    children,
    spawn: (_cmd, args) => {
      const c = new FakeChild(args, opts.exitOnStdinEnd ?? true);
      children.push(c);
      return c;
    },
  };
}
