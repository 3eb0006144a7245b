// `serve --workers N`: the main process forks N-1 worker processes (src/worker.ts) that share the HTTP port, restarts
// one that dies (with backoff; its sockets reconnect to any process), stops them at shutdown, and asks them for
// their /metrics series. A thin shell around child_process.fork.

import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Logger } from '../log.js';

/** The worker pids of the last `serve --workers` on a data folder (paths.data/workers.pids). */
export const WORKER_PIDS_FILE = 'workers.pids';

function isWorker(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--worker-of') && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** A worker whose parent is no longer a kmk-live serve (it was adopted by init or a subreaper). */
function isOrphanWorker(pid: number): boolean {
  if (!isWorker(pid)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const parent = readFileSync(`/proc/${ppid}/cmdline`, 'utf8');
    return !(parent.includes('serve') && !parent.includes('--worker-of'));
  } catch {
    return true;
  }
}

/**
 * Before a new server listens: kills the workers an earlier main process left (it died before they noticed), so the
 * new server never shares its port with an orphan. Returns how many there were. Linux (/proc).
 */
export async function reapOrphanWorkers(file: string, log: Logger, waitMs = 2000): Promise<number> {
  let pids: number[];
  try {
    pids = readFileSync(file, 'utf8').split(/\s+/).filter((x) => /^\d{1,9}$/.test(x)).map(Number).filter((p) => p > 1 && p !== process.pid);
  } catch {
    return 0;
  }
  // Only orphans: the workers of a server still running (a second serve about to be refused) are left alone.
  const alive = pids.filter(isOrphanWorker);
  for (const pid of alive) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  const deadline = Date.now() + waitMs;
  while (alive.some(isWorker) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive.length) log.warn('stopped worker processes an earlier server left behind', { count: alive.length });
  return alive.length;
}

export interface PoolOptions {
  count: number;
  /** The program and arguments each worker runs (the CLI's own, plus the worker flags). */
  entry: string;
  args: (index: number) => string[];
  log: Logger;
  /** Where the live workers' pids are kept (reapOrphanWorkers reads it at the next start). */
  pidFile?: string;
}

interface Slot {
  index: number;
  child?: ChildProcess;
  restarts: number;
  startedAt: number;
  timer?: NodeJS.Timeout;
}

type Reply = { type: 'metrics'; id: number; json: unknown[] } | { type: 'ready'; httpPort: number };

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private stopping = false;
  private nextAsk = 1;
  private readonly asks = new Map<number, (json: unknown[]) => void>();

  constructor(private readonly o: PoolOptions) {}

  /** Starts every worker and waits until each one listens (or exits, which fails the start). */
  async start(): Promise<void> {
    for (let i = 1; i <= this.o.count; i++) this.slots.push({ index: i, restarts: 0, startedAt: 0 });
    await Promise.all(this.slots.map((s) => this.spawn(s)));
  }

  get pids(): number[] {
    return this.slots.flatMap((s) => (s.child?.pid ? [s.child.pid] : []));
  }

  private savePids(): void {
    if (!this.o.pidFile) return;
    try {
      writeFileSync(this.o.pidFile, `${this.pids.join('\n')}\n`);
    } catch (err) {
      this.o.log.warn('could not write the worker pid file', { path: this.o.pidFile, err: String(err) });
    }
  }

  private spawn(slot: Slot): Promise<void> {
    const child = fork(this.o.entry, this.o.args(slot.index), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    slot.child = child;
    slot.startedAt = Date.now();
    this.savePids();
    return new Promise((resolve, reject) => {
      let ready = false;
      child.on('message', (m: Reply) => {
        if (m?.type === 'ready' && !ready) {
          ready = true;
          this.o.log.info('worker ready', { worker: slot.index, pid: child.pid });
          resolve();
        } else if (m?.type === 'metrics') {
          this.asks.get(m.id)?.(m.json);
        }
      });
      child.on('exit', (code, signal) => {
        if (!ready) {
          reject(new Error(`worker ${slot.index} exited before it was ready (code ${code}, signal ${signal})`));
          return;
        }
        if (this.stopping) return;
        // A crash loses only that worker's sockets: the clients reconnect to another process meanwhile.
        const quick = Date.now() - slot.startedAt < 30_000;
        slot.restarts = quick ? slot.restarts + 1 : 1;
        const delay = Math.min(500 * 2 ** (slot.restarts - 1), 10_000);
        this.o.log.error('worker exited; restarting', { worker: slot.index, code, signal, inMs: delay });
        slot.timer = setTimeout(() => {
          if (!this.stopping) this.spawn(slot).catch((err: unknown) => this.o.log.error('worker restart failed', { worker: slot.index, err: String(err) }));
        }, delay);
      });
    });
  }

  /** Each live worker's metrics (JSON of its registry); a worker that does not answer within 1 s is left out. */
  async metrics(): Promise<unknown[][]> {
    const live = this.slots.filter((s) => s.child && s.child.connected);
    const answers = await Promise.all(live.map((s) => new Promise<unknown[] | null>((resolve) => {
      const id = this.nextAsk++;
      const timer = setTimeout(() => {
        this.asks.delete(id);
        resolve(null);
      }, 1000);
      this.asks.set(id, (json) => {
        clearTimeout(timer);
        this.asks.delete(id);
        resolve(json);
      });
      s.child!.send({ type: 'metrics', id }, (err) => {
        if (err) resolve(null);
      });
    })));
    return answers.filter((a): a is unknown[] => a !== null);
  }

  /** SIGTERM to every worker; SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    await Promise.all(this.slots.map(async (s) => {
      clearTimeout(s.timer);
      const c = s.child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const kill = setTimeout(() => c.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(kill);
    }));
  }
}
