// `kmk-live doctor`: checks this box can run the server. One line per check; exit 1 if a required one fails.

import type { Command } from 'commander';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { connectStore, migrationStatus, pgMigrationStatus, safeUrl, storeSettings } from '../store/index.js';
import { statfsFree, type FreeSpace } from '../media/disk.js';
import { inspectTool, locateTool, type Tool } from '../transcode/locate.js';
import { contextFor } from './context.js';
import { publicBaseUrl } from '../config/urls.js';
import { print, printJson } from './output.js';
import { spawnSync } from 'node:child_process';
import type { Channel } from '../domain/channel.js';
import { engineCommand } from '../captions/engine.js';

export interface Check {
  name: string;
  ok: boolean;
  required: boolean;
  detail: string;
}

function toolCheck(tool: Tool, config: Config): Check {
  const configured = tool === 'ffmpeg' ? config['transcode.ffmpegPath'] : config['transcode.ffprobePath'];
  const found = locateTool(tool, { configured });
  if ('error' in found) return { name: tool, ok: false, required: true, detail: found.error };
  const info = inspectTool(found);
  if ('error' in info) return { name: tool, ok: false, required: true, detail: info.error };
  let detail = `${found.path} (${found.source}) version ${info.version}`;
  let ok = true;
  if (tool === 'ffmpeg') {
    detail += `, libx264 ${info.encoders.libx264 ? 'yes' : 'MISSING'}, aac ${info.encoders.aac ? 'yes' : 'MISSING'}`;
    ok = info.encoders.libx264 && info.encoders.aac;
  }
  return { name: tool, ok, required: true, detail };
}

function writableCheck(name: string, dir: string): Check {
  try {
    mkdirSync(dir, { recursive: true });
    const probe = join(dir, `.doctor-${process.pid}`);
    writeFileSync(probe, 'ok');
    rmSync(probe);
    return { name, ok: true, required: true, detail: `${dir} is writable` };
  } catch (err) {
    return { name, ok: false, required: true, detail: `${dir} is not writable: ${(err as NodeJS.ErrnoException).code ?? err}` };
  }
}

async function dbCheck(config: Config): Promise<Check> {
  const url = config['store.url'];
  if (url) {
    try {
      const s = await pgMigrationStatus(url);
      if (s.current < s.latest) return { name: 'database', ok: false, required: true, detail: `PostgreSQL ${safeUrl(url)} is at schema ${s.current} of ${s.latest}; run: kmk-live db migrate` };
      return { name: 'database', ok: true, required: true, detail: `PostgreSQL ${safeUrl(url)} at schema version ${s.current}` };
    } catch (err) {
      return { name: 'database', ok: false, required: true, detail: `PostgreSQL ${safeUrl(url)} cannot be reached: ${(err as Error).message}` };
    }
  }
  const file = config['paths.db'];
  try {
    const s = migrationStatus(file);
    if (!s.exists) return { name: 'database', ok: false, required: true, detail: `${file} does not exist yet; run: kmk-live db migrate` };
    if (s.current < s.latest) {
      return { name: 'database', ok: false, required: true, detail: `${file} is at schema ${s.current} of ${s.latest}; run: kmk-live db migrate` };
    }
    return { name: 'database', ok: true, required: true, detail: `${file} at schema version ${s.current}` };
  } catch (err) {
    return { name: 'database', ok: false, required: true, detail: `${file} cannot be opened: ${(err as Error).message}` };
  }
}

function portCheck(name: string, host: string, port: number): Promise<Check> {
  return new Promise((done) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'in use (is kmk-live serve already running?)' : err.code ?? err.message;
      done({ name, ok: false, required: true, detail: `${host}:${port} ${why}` });
    });
    srv.listen(port, host, () => srv.close(() => done({ name, ok: true, required: true, detail: `${host}:${port} is free` })));
  });
}

/** Free space on the media disk against paths.minFreeMegabytes (below it the server refuses new classes). */
export async function diskCheck(config: Config, free: FreeSpace = statfsFree): Promise<Check> {
  const floorMb = config['paths.minFreeMegabytes'];
  let freeMb: number;
  try {
    mkdirSync(config['paths.media'], { recursive: true });
    freeMb = Math.floor((await free(config['paths.media'])) / (1024 * 1024));
  } catch (err) {
    return { name: 'media space', ok: false, required: true, detail: `cannot read the free space of ${config['paths.media']}: ${(err as Error).message}` };
  }
  const ok = freeMb >= floorMb;
  return {
    name: 'media space', ok, required: true,
    detail: `${freeMb} MB free, floor ${floorMb} MB (paths.minFreeMegabytes)${ok ? '' : ': new classes would be refused; free space under paths.media'}`,
  };
}

function muxCheck(config: Config): Check {
  const has = config['mux.tokenId'] !== '' && config['mux.tokenSecret'] !== '';
  return {
    name: 'mux', ok: true, required: false,
    detail: has ? `credentials present (overflow and archive available; playback ${config['mux.playbackPolicy']})` : 'no credentials (overflow to Mux and archive disabled; optional)',
  };
}

/** Channels with latency 'ultra' while the public URL is not HTTPS: Apple devices play LL-HLS only over HTTPS. Pure. */
export function llTlsCheck(publicUrl: string, ultra: readonly string[]): Check | undefined {
  if (ultra.length === 0) return undefined;
  const https = publicUrl.startsWith('https://');
  return {
    name: 'll-hls https', ok: https, required: false,
    detail: https
      ? `${ultra.length} ultra channel(s) served at ${publicUrl}`
      : `channel(s) ${ultra.slice(0, 5).join(', ')}${ultra.length > 5 ? ', …' : ''} use latency ultra (Low-Latency HLS) but publicUrl is ${publicUrl ? `not HTTPS (${publicUrl})` : 'not set'}: Apple devices play LL-HLS only over HTTPS (HTTP/2 recommended). Put nginx in front as docs/ll-hls.md shows and set publicUrl`,
  };
}

/** Who /metrics answers: always an ok line that says it, so an operator knows where Prometheus must scrape from. */
export function metricsCheck(config: Pick<Config, 'metrics.token' | 'metrics.listen'>): Check {
  const where = config['metrics.listen'] ? `; also at ${config['metrics.listen']} (metrics.listen)` : '';
  return {
    name: 'metrics', ok: true, required: false,
    detail: config['metrics.token']
      ? `/metrics needs the bearer token in metrics.token${where}`
      : `/metrics answers only this box (loopback, not through a proxy)${where}; set metrics.token for a Prometheus elsewhere`,
  };
}

/** True for addresses an LMS on the internet cannot reach and Moodle's default "cURL blocked hosts" refuses. */
export function privateHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.local') || h.endsWith('.lan') || h.endsWith('.internal') || !h.includes('.') && !h.includes(':')) return true;
  const m = /^(\d+)\.(\d+)\.\d+\.\d+$/.exec(h);
  if (m) {
    const [a, b] = [Number(m[1]), Number(m[2])];
    return a === 10 || a === 127 || a === 0 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127);
  }
  return h === '::1' || h.startsWith('fc') || h.startsWith('fd') || h.startsWith('fe80');
}

/** With an LMS registered: can it call this box? Moodle (by default) refuses private addresses and ports but 80/443. */
export function lmsReachCheck(publicUrl: string, platforms: number): Check | undefined {
  if (platforms === 0) return undefined;
  const u = new URL(publicUrl);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  const problems = [
    ...(privateHost(u.hostname) ? [`${u.hostname} is a private address`] : []),
    ...(port !== '443' ? [`port ${port} is not 443`] : []),
    ...(u.protocol !== 'https:' ? ['it is not HTTPS'] : []),
  ];
  return problems.length === 0
    ? { name: 'lms reach', ok: true, required: false, detail: `the LMS reaches the tool at ${publicUrl}` }
    : { name: 'lms reach', ok: false, required: false, detail: `publicUrl ${publicUrl}: ${problems.join(', ')}. Moodle refuses such URLs by default (Site administration → General → Security → HTTP security: "cURL blocked hosts list", "cURL allowed ports list"): deep linking fails with a fix_jwks_alg() error and roster and grade calls fail. Serve the tool on https://<public name>:443 (docs/lms.md, Moodle)` };
}

async function platformCount(config: Config): Promise<number> {
  const store = connectStore(storeSettings(config), { readonly: true, migrate: false });
  try {
    return (await store.lti.platforms()).length;
  } finally {
    await store.close();
  }
}

async function channelsWhere(config: Config, keep: (c: Channel) => boolean): Promise<string[]> {
  const store = connectStore(storeSettings(config), { readonly: true, migrate: false });
  try {
    return (await store.channels.list()).filter(keep).map((c) => c.slug);
  } finally {
    await store.close();
  }
}

const ultraChannels = (config: Config): Promise<string[]> => channelsWhere(config, (c) => c.latency === 'ultra');

/** The speech engine channels with --captions auto need: found and runnable, or what to install. */
export function speechCheck(config: Config, autoChannels: readonly string[]): Check | undefined {
  if (!autoChannels.length) return undefined;
  let engine;
  try {
    engine = engineCommand({ engine: config['captions.engine'], command: config['captions.engineCommand'], pocketsphinxModel: config['captions.pocketsphinxModel'] });
  } catch (err) {
    return { name: 'speech engine', ok: false, required: false, detail: (err as Error).message };
  }
  const which = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', engine.cmd]);
  const found = which.status === 0 ? which.stdout.toString().trim() : '';
  const used = `channels with --captions auto: ${autoChannels.slice(0, 5).join(', ')}${autoChannels.length > 5 ? ', …' : ''}`;
  if (!found) {
    const hint = engine.cmd === 'pocketsphinx_continuous' ? 'apt-get install pocketsphinx pocketsphinx-en-us' : 'check captions.engineCommand';
    return { name: 'speech engine', ok: false, required: false, detail: `${engine.cmd} is not found (${hint}); ${used} get no captions from speech` };
  }
  const weak = engine.cmd === 'pocketsphinx_continuous' ? ' (weak: about three words in four wrong on a test lecture; docs/captions.md)' : '';
  return { name: 'speech engine', ok: true, required: false, detail: `${found}${weak}; ${used}` };
}

/** True when a kmk-live server answers /healthz on the configured HTTP port (doctor run beside it). */
async function serverRunning(config: Config): Promise<boolean> {
  const host = config.bindAddress === '0.0.0.0' ? '127.0.0.1' : config.bindAddress === '::' ? '[::1]' : config.bindAddress.includes(':') ? `[${config.bindAddress}]` : config.bindAddress;
  try {
    const r = await fetch(`http://${host}:${config['http.port']}/healthz`, { signal: AbortSignal.timeout(1500) });
    return r.ok && ((await r.json()) as { status?: string }).status === 'ok';
  } catch {
    return false;
  }
}

/** A port check that knows a running kmk-live server holds its own ports. */
async function serverPortCheck(name: string, host: string, port: number, running: boolean): Promise<Check> {
  const c = await portCheck(name, host, port);
  if (c.ok || !running) return c;
  return { name, ok: true, required: true, detail: `${host}:${port} in use by the running kmk-live server (healthy)` };
}

export async function runChecks(config: Config): Promise<Check[]> {
  const running = await serverRunning(config);
  const db = await dbCheck(config);
  let ll: Check | undefined;
  let lms: Check | undefined;
  let speech: Check | undefined;
  try {
    ll = db.ok ? llTlsCheck(config.publicUrl, await ultraChannels(config)) : undefined;
    lms = db.ok ? lmsReachCheck(publicBaseUrl(config), await platformCount(config)) : undefined;
    speech = db.ok ? speechCheck(config, await channelsWhere(config, (c) => c.captions === 'auto')) : undefined;
  } catch {
    ll = undefined; // the database check above already says what is wrong with it
  }
  return [
    toolCheck('ffmpeg', config),
    toolCheck('ffprobe', config),
    writableCheck('data folder', config['paths.data']),
    writableCheck('media folder', config['paths.media']),
    await diskCheck(config),
    db,
    await serverPortCheck('http port', config.bindAddress, config['http.port'], running),
    await serverPortCheck('rtmp port', config.bindAddress, config['rtmp.port'], running),
    muxCheck(config),
    metricsCheck(config),
    ...(ll ? [ll] : []),
    ...(lms ? [lms] : []),
    ...(speech ? [speech] : []),
  ];
}

export function registerDoctor(program: Command): void {
  program.command('doctor')
    .description('check ffmpeg, folders, database, ports and Mux credentials')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live doctor')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const checks = await runChecks(contextFor(cmd).config);
      const failed = checks.filter((c) => c.required && !c.ok);
      if (o.json) printJson({ ok: failed.length === 0, checks });
      else {
        for (const c of checks) print(`${c.ok ? 'ok  ' : c.required ? 'FAIL' : 'warn'}  ${c.name.padEnd(13)} ${c.detail}`);
        print(failed.length ? `\n${failed.length} required check(s) failed.` : '\nAll required checks passed.');
      }
      if (failed.length) process.exitCode = 1;
    });
}
