// Starts a real server in this process on free loopback ports with a temporary data and media folder, and
// pushes real RTMP with ffmpeg. Used by the live pipeline tests.

import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { startServer, type RunningServer } from '../../src/server.js';

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export interface TestServer {
  server: RunningServer;
  dir: string;
  logs: string[];
  base: string;
  rtmp(key: string): string;
  createChannel(slug: string, opts?: { record?: boolean; ladder?: string[]; latency?: 'standard' | 'low' | 'ultra'; overflow?: 'mux' | 'degrade' | 'refuse'; public?: boolean; captions?: string[] }): { key: string; id: number };
  get(path: string, headers?: Record<string, string>): Promise<Response>;
}

export async function startTestServer(dir: string, env: Record<string, string> = {}): Promise<TestServer> {
  const httpPort = String(env.KMK_HTTP_PORT ?? await freePort());
  const config = loadConfig({
    env: {
      KMK_BIND_ADDRESS: '127.0.0.1',
      KMK_HTTP_PORT: httpPort,
      KMK_PUBLIC_URL: `http://127.0.0.1:${httpPort}`,
      KMK_RTMP_PORT: String(await freePort()),
      KMK_INGEST_RECONNECT_GRACE_SECONDS: '5',
      KMK_LOG_LEVEL: 'debug',
      ...env,
    },
    cwd: dir,
  });
  const logs: string[] = [];
  const log = createLogger('debug', (line) => {
    logs.push(line);
    if (process.env.KMK_TEST_LOG) process.stderr.write(line);
  });
  const server = await startServer(config, { log, preset: 'ultrafast' });
  const base = `http://127.0.0.1:${server.httpPort}`;
  return {
    server, dir, logs, base,
    rtmp: (key) => `rtmp://127.0.0.1:${server.rtmpPort}/live/${key}`,
    createChannel(slug, o = {}) {
      const c = server.store.channels.create({
        slug, title: slug, ladder: (o.ladder ?? ['1080p', '720p', '480p', '360p']) as never, latency: o.latency ?? 'standard',
        record: o.record ?? true, archive: false, overflow: o.overflow ?? 'degrade',
        // The pipeline tests fetch HLS directly, so their channels are public unless a test asks for a private one
        // (private playback has tests of its own; the CLI and LMS-created channels are private by default).
        public: o.public ?? true,
        ...(o.captions ? { captions: 'human' as const, captionLanguages: o.captions } : {}),
      });
      return { key: server.store.streamKeys.rotate(c.id).key, id: c.id };
    },
    get: (path, headers = {}) => fetch(base + path, { headers }),
  };
}

export interface PushOptions {
  seconds?: number;
  size?: string;
  gop?: number;
  /** x264 input pixel format (yuv420p by default; yuv444p10le makes High 4:4:4 10-bit). */
  pixFmt?: string;
  /** A sound file played in a loop instead of the sine tone (e.g. espeak-ng speech). */
  audioFile?: string;
}

/** A real ffmpeg publisher: 30 fps H.264 (testsrc2) + AAC (sine), paced in real time. */
export function push(url: string, o: PushOptions = {}): ChildProcess & { done: Promise<number | null> } {
  const args = [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=${o.size ?? '1280x720'}:rate=30`,
    ...(o.audioFile ? ['-stream_loop', '-1', '-i', o.audioFile] : ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000']),
    ...(o.seconds ? ['-t', String(o.seconds)] : []),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', o.pixFmt ?? 'yuv420p',
    '-g', String(o.gop ?? 60), '-keyint_min', String(o.gop ?? 60), '-sc_threshold', '0',
    '-map', '0:v', '-map', '1:a', '-c:a', 'aac', '-ar', '48000', '-b:a', '96k', '-f', 'flv', url,
  ];
  const proc = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] }) as ChildProcess & { done: Promise<number | null> };
  proc.done = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  return proc;
}

/** True when something on this machine listens on the TCP port (read from /proc, so nothing connects). */
export function listening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/net/tcp', '/proc/net/tcp6'].some((f) => existsSync(f) && readFileSync(f, 'utf8').split('\n')
    .some((l) => { const c = l.trim().split(/\s+/); return c[1]?.endsWith(`:${hex}`) && c[3] === '0A'; }));
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20000, everyMs = 150): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface ProbeResult {
  streams: { codec_type: string; codec_name: string; width?: number; height?: number; profile?: string }[];
  format?: { duration?: string };
}

/** Async on purpose: the server under test runs in this process and must keep answering while ffprobe reads. */
export function ffprobe(target: string, extra: string[] = []): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    execFile('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', ...extra, target], { timeout: 60000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => (err ? reject(new Error(`ffprobe ${target} failed: ${stderr || err.message}`)) : resolve(JSON.parse(stdout) as ProbeResult)));
  });
}

/** The key_frame flags of a segment's first video packets, e.g. "1,0,0" when it starts with a keyframe. */
export function firstVideoFlags(file: string): string {
  const r = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=flags', '-read_intervals', '%+#3', '-of', 'csv=p=0', file], { encoding: 'utf8' });
  return r.stdout.trim().split('\n').map((l) => l.trim()).join(' ') + (r.stderr ? ` (${r.stderr.trim()})` : '');
}

/** True when the first video packet of a segment file is a keyframe. */
export function startsWithKeyframe(file: string): boolean {
  return firstVideoFlags(file).startsWith('K');
}

export const liveDir = (ts: TestServer, slug: string): string => join(ts.server.config['paths.media'], 'live', slug);

/** Command lines of this process's live children that work in the server's media folder (ladders, probes, remuxes). */
export function mediaWorkers(ts: TestServer): string[] {
  const media = ts.server.config['paths.media'];
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      if (Number(stat[1]) !== process.pid || stat[0] === 'Z') continue; // fields after "(comm) ": state, ppid
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmd.includes(media)) out.push(cmd.slice(0, 200));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** Every file under dir with its size and mtime, to tell whether anything still writes there. */
export function fileTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((e) => join(e.parentPath, e.name))
    .map((p) => { const s = statSync(p); return `${p} ${s.isDirectory() ? 'dir' : s.size} ${s.mtimeMs}`; })
    .sort();
}
