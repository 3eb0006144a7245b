// Debian's PostgreSQL started by a test: its own cluster (initdb) in the test's folder, on a free loopback port,
// stopped by it. PostgreSQL will not run as root: when the tests do (CI), the cluster belongs to the `postgres`
// user Debian's package made and the programs run as it. `restart()` stops and starts it on the same port.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, waitFor } from './server.js';

/** The newest installed server's programs (postgresql-15 on Debian 12). */
export function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const v = readdirSync(root).filter((d) => existsSync(join(root, d, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a))[0];
  return v ? join(root, v, 'bin') : undefined;
}

export interface Postgres {
  /** A URL of database `db` (default postgres). */
  url(db?: string): string;
  /** A new empty database; its URL. */
  database(): Promise<string>;
  port: number;
  /** Stops the server (fast shutdown); restart() brings it back with its data. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Stops it and removes its folder. */
  destroy(): Promise<void>;
  log(): string;
}

let made = 0;

/** Started in a folder of its own under the system's temporary folder (a test's fixture folder goes away with
 * the subtest that made it); `destroy()` removes it. */
export async function startPostgres(): Promise<Postgres> {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed (Debian package postgresql; .ci/run installs it)');
  const dir = mkdtempSync(join(tmpdir(), 'kmk-pg-'));
  const asRoot = process.getuid?.() === 0;
  const uid = asRoot ? Number(execFileSync('id', ['-u', 'postgres']).toString().trim()) : undefined;
  const gid = asRoot ? Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) : undefined;
  if (asRoot) chownSync(dir, uid!, gid!);
  // As root, the programs run as the postgres user (Node sets the ids; signals reach postgres itself).
  const ids = asRoot ? { uid: uid!, gid: gid! } : {};
  const data = join(dir, 'data');
  execFileSync(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'kmk', '--no-sync', '-E', 'UTF8', '--locale=C'], { stdio: 'pipe', cwd: dir, ...ids });
  const port = await freePort();
  let proc: ChildProcess | undefined;
  let out = '';
  const up = async (): Promise<void> => {
    proc = spawn(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-c', 'unix_socket_directories=', '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off',
      '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, ...ids });
    const p = proc;
    p.stdout?.setEncoding('utf8').on('data', (s: string) => (out = (out + s).slice(-20000)));
    p.stderr?.setEncoding('utf8').on('data', (s: string) => (out = (out + s).slice(-20000)));
    await waitFor(`postgres on ${port}`, async () => {
      if (p.exitCode !== null) throw new Error(`postgres exited: ${out}`);
      const client = new pg.Client({ connectionString: `postgres://kmk@127.0.0.1:${port}/postgres`, connectionTimeoutMillis: 1000 });
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } catch {
        return false;
      } finally {
        await client.end().catch(() => undefined);
      }
    }, 20000);
  };
  const down = async (): Promise<void> => {
    const p = proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('close', r));
    p.kill('SIGINT'); // fast shutdown: connections are closed, nothing is lost
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10000))]);
    if (p.exitCode === null) p.kill('SIGKILL');
  };
  await up();
  const url = (db = 'postgres'): string => `postgres://kmk@127.0.0.1:${port}/${db}`;
  return {
    url,
    port,
    database: async () => {
      const name = `t${process.pid}_${(made += 1)}`;
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    stop: down,
    destroy: async () => { await down(); rmSync(dir, { recursive: true, force: true }); },
    restart: async () => { await down(); await up(); },
    log: () => out,
  };
}
