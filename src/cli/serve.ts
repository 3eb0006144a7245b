// `kmk-live serve`: runs RTMP ingest, transcoding, the HLS origin and the API in one process until SIGTERM/SIGINT.

import { Option, type Command } from 'commander';
import type { Config } from '../config/schema.js';
import { UserError } from '../domain/errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { startWorker } from '../worker.js';
import { reapOrphanWorkers, WORKER_PIDS_FILE, WorkerPool } from './workers.js';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger, withFields } from '../log.js';
import { startServer, type ServerStatus } from '../server.js';
import { obsServerUrl as obsServer } from '../config/urls.js';
import { contextFor } from './context.js';

export const STATUS_FILE = 'status.json';

/** Writes what `kmk-live status` reads: the server's status with the time and pid, replaced atomically. */
export async function writeStatusFile(path: string, status: ServerStatus): Promise<void> {
  await writeFile(path + '.tmp', JSON.stringify({ writtenAt: new Date().toISOString(), pid: process.pid, ...status }));
  await rename(path + '.tmp', path);
}

function parseWorkers(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 64) throw new UserError(`--workers must be a whole number from 1 to 64 (got "${raw}")`);
  return n;
}

export function registerServe(program: Command): void {
  program.command('serve')
    .description('run the server: RTMP ingest, transcoding, HLS origin, REST API (stop with Ctrl-C or SIGTERM)')
    .option('--workers <n>', 'processes serving HTTP and the hub on the shared port (needs hub.backplane when above 1)', '1')
    .addOption(new Option('--worker-of <port>').hideHelp())
    .addOption(new Option('--worker-index <i>').hideHelp())
    .addHelpText('after', '\nExample:\n  $ kmk-live serve\n  $ KMK_HTTP_PORT=9090 kmk-live serve --config /etc/kmk/site.json'
      + '\n  $ KMK_HUB_REDIS_URL=redis://127.0.0.1:6379 kmk-live serve --workers 2')
    .action(async (o: { workers: string; workerOf?: string; workerIndex?: string }, cmd: Command) => {
      const { config } = contextFor(cmd);
      const log = createLogger(config['log.level']);
      process.on('uncaughtException', (err) => log.error('uncaught exception (contained)', { err: err.stack ?? err.message }));
      process.on('unhandledRejection', (err) => log.error('unhandled rejection (contained)', { err: String(err) }));
      if (o.workerOf !== undefined) return runWorker(config, Number(o.workerOf), withFields(log, { worker: Number(o.workerIndex ?? 0) }));
      const workers = parseWorkers(o.workers);
      if (workers > 1 && !config['hub.backplane']) {
        throw new UserError(`--workers ${workers} needs hub.backplane: the processes share the hub through Redis. `
          + 'Set KMK_HUB_REDIS_URL=redis://127.0.0.1:6379 (or hub.backplane in the config file); see docs/scaling.md');
      }
      // Workers an earlier main process left would share the HTTP port with this server: gone before it listens.
      await reapOrphanWorkers(join(config['paths.data'], WORKER_PIDS_FILE), log);
      const server = await startServer(config, { log, internalPort: workers > 1 ? 0 : undefined });
      let pool: WorkerPool | undefined;
      if (workers > 1) {
        pool = new WorkerPool({
          count: workers - 1, entry: process.argv[1]!, log, pidFile: join(config['paths.data'], WORKER_PIDS_FILE),
          args: (i) => [...process.argv.slice(2), '--workers', '1', '--worker-of', String(server.internalPort), '--worker-index', String(i)],
        });
        try {
          await pool.start();
        } catch (err) {
          await pool.stop();
          await server.stop();
          throw err;
        }
        const p = pool;
        server.setWorkerMetrics(async () => (await p.metrics()) as Awaited<ReturnType<Metrics['json']>>[]);
      }
      log.info('ready', { obs: obsServer(config), hls: `http://${config.publicHost}:${server.httpPort}/hls/<channel>/master.m3u8`, workers });
      const statusPath = join(config['paths.data'], STATUS_FILE);
      let stopped = false;
      let pending: Promise<void> = Promise.resolve();
      const writeStatus = (): Promise<void> => (pending = pending.then(() => writeStatusNow()).catch(() => {}));
      const writeStatusNow = async (): Promise<void> => {
        if (stopped) return;
        await writeStatusFile(statusPath, server.status());
      };
      const timer = setInterval(() => void writeStatus(), 2000);
      server.live.on('started', () => void writeStatus());
      server.live.on('ended', () => void writeStatus());
      await writeStatus();
      await new Promise<void>((resolve) => {
        const stop = (signal: string): void => {
          log.info('signal received', { signal });
          clearInterval(timer);
          void (pool?.stop() ?? Promise.resolve()).then(() => server.stop()).then(async () => {
            stopped = true;
            await pending;
            await rm(statusPath, { force: true });
          }).then(resolve);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
    });
}

/** A worker whose main process died exits within this; one told to stop, within STOP_EXIT_MS at the latest. */
export const ORPHAN_EXIT_MS = 1500;
const STOP_EXIT_MS = 10000;

/** A worker process: serve until SIGTERM, or until the main process is gone (its IPC channel closes). */
async function runWorker(config: Config, mainPort: number, log: Logger): Promise<void> {
  // Watch for the main process dying from the first moment: it may die while this worker is still starting.
  const parent = process.ppid;
  let onMainGone: () => void = () => {
    log.warn('main process gone while the worker was starting: exiting');
    process.exit(0);
  };
  const mainGone = (): void => onMainGone();
  process.once('disconnect', mainGone);
  const orphanWatch = setInterval(() => {
    if (process.ppid !== parent || !process.connected) mainGone();
  }, 250);
  const worker = await startWorker(config, { mainPort, log });
  process.send?.({ type: 'ready', httpPort: worker.httpPort });
  process.on('message', (m: { type?: string; id?: number }) => {
    if (m?.type !== 'metrics') return;
    void worker.metrics.json().then((json) => process.send?.({ type: 'metrics', id: m.id, json }), () => process.send?.({ type: 'metrics', id: m.id, json: [] }));
  });
  await new Promise<void>((resolve) => {
    let stopping = false;
    let deadline: { timer: NodeJS.Timeout; at: number } | undefined;
    const stop = (why: string): void => {
      // However the stop goes, the process is gone by the deadline: a worker must never outlive its main process
      // (it would keep the shared port), and a main process that died cannot wait for a clean stop. Only an earlier
      // deadline replaces the one set (the orphan watch calls this every 250 ms).
      const within = why === 'main process gone' ? ORPHAN_EXIT_MS : STOP_EXIT_MS;
      if (!deadline || Date.now() + within < deadline.at) {
        if (deadline) clearTimeout(deadline.timer);
        deadline = {
          at: Date.now() + within,
          timer: setTimeout(() => {
            log.warn('worker exits before its stop finished', { why, ms: within });
            process.exit(0);
          }, within),
        };
      }
      if (stopping) return;
      stopping = true;
      log.info('worker stopping', { why });
      const t0 = Date.now();
      void worker.stop().then(() => log.info('worker stopped', { ms: Date.now() - t0 }), (err: unknown) => log.error('worker stop failed', { err: String(err) })).then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    // The IPC channel's close is the first sign of a main process killed by any signal; a new parent is the second.
    onMainGone = () => stop('main process gone');
    if (process.ppid !== parent || !process.connected) stop('main process gone');
  });
  clearInterval(orphanWatch);
  // Sockets the worker still held keep uWS's loop alive; their clients reconnect to the other processes.
  process.exit(0);
}
