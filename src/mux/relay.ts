// Relays a class unchanged (no re-encode) to Mux's ingest with one ffmpeg `-c copy` process, fed through the same
// bounded pipe as the ladder. Retries with backoff; after repeated quick failures it gives up and says why, so the
// live manager can fall back to a local ladder. The target URL holds Mux's stream key: it is never logged.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Logger } from '../log.js';
import { BoundedFlvPipe } from '../media/flv-pipe.js';
import { explainFfmpegError } from '../media/failures.js';

export interface Sink {
  write(buf: Buffer): void;
}

/** The relay's ffmpeg arguments (golden-tested). */
export function relayArgs(target: string): string[] {
  return [
    '-hide_banner', '-loglevel', 'warning', '-nostats',
    '-fflags', '+genpts', // tolerate FLV packets without pts after a publisher reconnect
    '-f', 'flv', '-i', 'pipe:0', // the same bounded feed as the ladder
    '-map', '0', '-c', 'copy', // unchanged: Mux transcodes, this box only forwards
    '-f', 'flv', target,
  ];
}

export interface RelayOptions {
  ffmpegPath: string;
  target: string;
  feed(sink: Sink): () => void;
  log: Logger;
  maxQuickFailures?: number;
  backoffMs?: number;
  onGiveUp(reason: string): void;
}

export class Relay {
  private proc?: ChildProcessWithoutNullStreams;
  private detach?: () => void;
  private stopping = false;
  private quickFailures = 0;
  private timer?: NodeJS.Timeout;
  private exited?: Promise<void>;
  state: 'running' | 'retrying' | 'stopped' | 'gave-up' = 'stopped';
  lastError?: string;
  restarts = 0;

  constructor(private readonly o: RelayOptions) {}

  start(): void {
    this.stopping = false;
    this.spawnOnce();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    this.detach?.();
    this.detach = undefined;
    const p = this.proc;
    if (p && p.exitCode === null) {
      p.stdin.end();
      const killer = setTimeout(() => p.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(killer);
    }
    if (this.state !== 'gave-up') this.state = 'stopped';
  }

  private spawnOnce(): void {
    const started = Date.now();
    const proc = spawn(this.o.ffmpegPath, relayArgs(this.o.target), { stdio: ['pipe', 'ignore', 'pipe'] }) as unknown as ChildProcessWithoutNullStreams;
    this.proc = proc;
    this.state = 'running';
    let tail = '';
    proc.stderr.setEncoding('utf8').on('data', (c: string) => { tail = (tail + c).slice(-2048); });
    const pipe = new BoundedFlvPipe(proc.stdin, 8 * 1024 * 1024);
    this.exited = new Promise((resolve) => {
      proc.once('error', (err) => { this.lastError = err.message; });
      proc.once('close', (code) => {
        this.detach?.();
        this.detach = undefined;
        resolve();
        if (this.stopping) return;
        const ranFor = Date.now() - started;
        // Never echo ffmpeg's last line: it may contain the target URL, i.e. Mux's stream key.
        this.lastError = explainFfmpegError(tail) ?? (/Connection refused|Input\/output error|Server returned/.test(tail)
          ? 'Mux ingest refused or unreachable' : `relay exited with code ${code}`);
        this.quickFailures = ranFor < 10000 ? this.quickFailures + 1 : 0;
        if (this.quickFailures >= (this.o.maxQuickFailures ?? 4)) {
          this.state = 'gave-up';
          this.o.log.error('relay to Mux gave up', { reason: this.lastError, attempts: this.quickFailures });
          this.o.onGiveUp(this.lastError);
          return;
        }
        this.restarts += 1;
        this.state = 'retrying';
        const delay = Math.min((this.o.backoffMs ?? 500) * 2 ** Math.max(0, this.quickFailures - 1), 10000);
        this.o.log.warn('relay to Mux stopped; retrying', { reason: this.lastError, inMs: delay });
        this.timer = setTimeout(() => { if (!this.stopping) this.spawnOnce(); }, delay);
      });
    });
    this.detach = this.o.feed(pipe);
    this.o.log.info('relaying to Mux', { pid: proc.pid });
  }
}
