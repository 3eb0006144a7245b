// Debian's redis-server started by a test on a free loopback port, with its files in the test's folder, and
// stopped by it. `restart()` stops and starts it on the same port (append-only file on, as docs/scaling.md asks).

import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { mkdirSync } from 'node:fs';
import { freePort, waitFor } from './server.js';

export const REDIS_SERVER = process.env.KMK_REDIS_SERVER ?? '/usr/bin/redis-server';

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
  restart(): Promise<void>;
  log(): string;
}

export async function startRedis(dir: string): Promise<RedisServer> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  let proc: ChildProcess | undefined;
  let out = '';
  const up = async (): Promise<void> => {
    proc = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes',
      '--appendfsync', 'always', '--protected-mode', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const p = proc;
    p.stdout?.setEncoding('utf8').on('data', (c: string) => (out = (out + c).slice(-20000)));
    p.stderr?.setEncoding('utf8').on('data', (c: string) => (out = (out + c).slice(-20000)));
    await waitFor(`redis-server on ${port}`, async () => {
      if (p.exitCode !== null) throw new Error(`redis-server exited: ${out}`);
      return new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
        s.once('error', () => resolve(false));
      });
    }, 10000);
  };
  const down = async (): Promise<void> => {
    const p = proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('close', r));
    p.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (p.exitCode === null) p.kill('SIGKILL');
  };
  await up();
  return { url: `redis://127.0.0.1:${port}`, port, stop: down, restart: async () => { await down(); await up(); }, log: () => out };
}
