// `kmk-live serve`: runs RTMP ingest, transcoding, the HLS origin and the API in one process until SIGTERM/SIGINT.

import type { Command } from 'commander';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '../log.js';
import { startServer, type ServerStatus } from '../server.js';
import { obsServerUrl as obsServer } from '../config/urls.js';
import { contextFor } from './context.js';

export const STATUS_FILE = 'status.json';

/** Writes what `kmk-live status` reads: the server's status with the time and pid, replaced atomically. */
export async function writeStatusFile(path: string, status: ServerStatus): Promise<void> {
  await writeFile(path + '.tmp', JSON.stringify({ writtenAt: new Date().toISOString(), pid: process.pid, ...status }));
  await rename(path + '.tmp', path);
}

export function registerServe(program: Command): void {
  program.command('serve')
    .description('run the server: RTMP ingest, transcoding, HLS origin, REST API (stop with Ctrl-C or SIGTERM)')
    .addHelpText('after', '\nExample:\n  $ kmk-live serve\n  $ KMK_HTTP_PORT=9090 kmk-live serve --config /etc/kmk/site.json')
    .action(async (_o: unknown, cmd: Command) => {
      const { config } = contextFor(cmd);
      const log = createLogger(config['log.level']);
      process.on('uncaughtException', (err) => log.error('uncaught exception (contained)', { err: err.stack ?? err.message }));
      process.on('unhandledRejection', (err) => log.error('unhandled rejection (contained)', { err: String(err) }));
      const server = await startServer(config, { log });
      log.info('ready', { obs: obsServer(config), hls: `http://${config.publicHost}:${server.httpPort}/hls/<channel>/master.m3u8` });
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
          void server.stop().then(async () => {
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
