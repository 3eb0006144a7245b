import t from 'tap';
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IngestLink, parseIngestTarget } from '../src/mux/ingest-link.js';
import { Relay, relayArgs } from '../src/mux/relay.js';
import { flvUnit } from '../src/media/flv-pipe.js';
import { spawn } from 'node:child_process';
import { freePort } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

/** True when something listens on the TCP port (read from /proc: the test's RTMP server accepts one connection). */
function listening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/net/tcp', '/proc/net/tcp6'].some((f) => existsSync(f) && readFileSync(f, 'utf8').split('\n')
    .some((l) => { const c = l.trim().split(/\s+/); return c[1]?.endsWith(`:${hex}`) && c[3] === '0A'; }));
}

t.test('ingest URLs: scheme, default ports, the path kept, the tcUrl without the key', async (t) => {
  t.same(parseIngestTarget('rtmps://global-live.mux.com:443/app/KEY'),
    { secure: true, host: 'global-live.mux.com', port: 443, path: '/app/KEY', tcUrl: 'rtmps://global-live.mux.com:443/app' });
  t.same(parseIngestTarget('rtmps://global-live.mux.com/app/KEY'),
    { secure: true, host: 'global-live.mux.com', port: 443, path: '/app/KEY', tcUrl: 'rtmps://global-live.mux.com/app' });
  t.match(parseIngestTarget('rtmp://10.0.0.5/live/app/KEY'), { secure: false, port: 1935, path: '/live/app/KEY', tcUrl: 'rtmp://10.0.0.5/live/app' });
  t.match(parseIngestTarget('rtmp://[::1]:1936/app/KEY'), { host: '::1', port: 1936 });
  for (const bad of ['http://x/app/KEY', 'rtmp://x/KEYONLY', 'rtmp://', 'not a url', 'srt://x:9000/app/k']) t.equal(parseIngestTarget(bad), undefined, bad);
  t.same(relayArgs('rtmp://127.0.0.1:5000/app/KEY', 'rtmps://ingest.example/app').slice(-5),
    ['-rtmp_tcurl', 'rtmps://ingest.example/app', '-f', 'flv', 'rtmp://127.0.0.1:5000/app/KEY']);
});

/**
 * An ingest that talks back without pause (as an RTMP server sends acknowledgements) and counts what it got.
 * The sender writes its bytes and closes at once without reading: connected directly, the chatter hits a closed
 * socket, the kernel resets the connection, the ingest's next write fails and it loses what it had not read yet.
 */
async function chattyIngest(secure?: { key: Buffer; cert: Buffer }) {
  const got: { bytes: number; ended: boolean; error?: string }[] = [];
  const onConn = (s: net.Socket): void => {
    const rec = { bytes: 0, ended: false } as (typeof got)[number];
    got.push(rec);
    s.pause(); // read late, like a busy server: the tail waits in the kernel when the sender closes
    setTimeout(() => s.resume(), 300);
    s.on('data', (d: Buffer) => { rec.bytes += d.length; });
    s.on('end', () => { rec.ended = true; s.end(); });
    // Like ffmpeg's RTMP server: a failed write ends the session, whatever was still unread.
    s.on('error', (e: NodeJS.ErrnoException) => { rec.error = e.code ?? e.message; s.destroy(); });
    const chatter = setInterval(() => { if (s.writable) s.write(randomBytes(64)); }, 5);
    s.on('close', () => clearInterval(chatter));
  };
  const server = secure ? tls.createServer({ ...secure, allowHalfOpen: true }, onConn) : net.createServer({ allowHalfOpen: true }, onConn);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as net.AddressInfo).port, got, close: () => server.close() };
}

/** Writes `bytes` to the URL's port, never reads, and destroys the socket once the write is flushed. */
async function sendAndSlam(port: number, bytes: number): Promise<void> {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => undefined);
  await new Promise<void>((r) => s.once('connect', () => r()));
  await new Promise((r) => setTimeout(r, 50)); // let chatter arrive unread
  await new Promise<void>((r) => s.write(randomBytes(bytes), () => r()));
  s.end();
  await new Promise((r) => setTimeout(r, 20));
  s.destroy();
}

const waitUntil = async (f: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

const BYTES = 4 * 1024 * 1024;

t.test('through the link, the ingest gets every byte and an orderly end, though the sender slams its socket', async (t) => {
  const ingest = await chattyIngest();
  t.teardown(ingest.close);
  const link = new IngestLink(parseIngestTarget(`rtmp://127.0.0.1:${ingest.port}/app/KEY`)!);
  const url = await link.start();
  t.match(url, /^rtmp:\/\/127\.0\.0\.1:\d+\/app\/KEY$/);
  await sendAndSlam(Number(new URL(url).port), BYTES);
  await link.close();
  await waitUntil(() => ingest.got[0]?.ended === true);
  t.same(ingest.got, [{ bytes: BYTES, ended: true }], 'all of it, then the end');
  t.same(link.stats, { sentBytes: BYTES, cleanEnds: 1, failedEnds: 0 });
});

t.test('the relay through the link: a whole class sent in one burst reaches an RTMP server whole, every time', async (t) => {
  // Measured before the link: ffmpeg relaying straight to this ffmpeg RTMP server kept 7.9 s of 10 s in 2 runs of 3.
  const dir = testdir(t);
  const src = join(dir, 'class.flv');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '10', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '45', '-c:a', 'aac', '-f', 'flv', src]);
  const flv = readFileSync(src);
  for (let run = 1; run <= 3; run++) {
    const port = await freePort();
    const out = join(dir, `sink${run}.flv`);
    const sink = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-listen', '1', '-i', `rtmp://127.0.0.1:${port}/app/KEY`, '-c', 'copy', '-f', 'flv', out]);
    const sinkDone = new Promise((r) => sink.once('exit', r));
    await waitUntil(() => listening(port), 10000);
    const logs: unknown[][] = [];
    const log = { info: (...a: unknown[]) => logs.push(a), warn: (...a: unknown[]) => logs.push(a), error: (...a: unknown[]) => logs.push(a), debug: () => undefined } as never;
    const relay = new Relay({ ffmpegPath: 'ffmpeg', target: `rtmp://127.0.0.1:${port}/app/KEY`, log, onGiveUp: () => undefined,
      feed: (pipe) => { pipe.write(flvUnit(flv)); return () => undefined; } });
    await relay.start();
    await relay.stop();
    await sinkDone;
    const duration = Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', out], { encoding: 'utf8' }));
    t.ok(duration > 9.9, `run ${run}: the server kept ${duration} s of 10 s`);
    t.match(relay.stats, { fedBytes: flv.length, droppedBytes: 0, cleanEnds: 1, failedEnds: 0 }, `run ${run}: fed whole, one orderly end`);
  }
});

t.test('rtmps: the link speaks TLS to the ingest and checks its certificate against the host', async (t) => {
  const dir = testdir(t);
  const [keyFile, certFile] = [join(dir, 'k.pem'), join(dir, 'c.pem')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
  const cert = readFileSync(certFile);
  const ingest = await chattyIngest({ key: readFileSync(keyFile), cert });
  t.teardown(ingest.close);

  const trusted = new IngestLink(parseIngestTarget(`rtmps://localhost:${ingest.port}/app/KEY`)!, { tlsOptions: { ca: cert, host: '127.0.0.1' } });
  const url = await trusted.start();
  await sendAndSlam(Number(new URL(url).port), 1024 * 1024);
  await trusted.close();
  await waitUntil(() => ingest.got[0]?.ended === true);
  t.same(ingest.got[0], { bytes: 1024 * 1024, ended: true });
  t.same(trusted.stats, { sentBytes: 1024 * 1024, cleanEnds: 1, failedEnds: 0 });

  // Not trusted (Node's own CAs only): the connection fails, ffmpeg's socket is closed, nothing reaches the ingest.
  const untrusted = new IngestLink(parseIngestTarget(`rtmps://localhost:${ingest.port}/app/KEY`)!, { tlsOptions: { host: '127.0.0.1' } });
  const url2 = await untrusted.start();
  const s = net.connect(Number(new URL(url2).port), '127.0.0.1');
  const closed = new Promise((r) => s.once('close', r));
  s.on('error', () => undefined);
  s.write(Buffer.alloc(1000));
  await closed;
  await untrusted.close();
  t.same(untrusted.stats.failedEnds, 1, 'counted as failed');
  t.equal(ingest.got.length, 1, 'the untrusted attempt delivered nothing');
});

t.test('an ingest that refuses: the sender is closed at once', async (t) => {
  const dead = net.createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
  const port = (dead.address() as net.AddressInfo).port;
  await new Promise((r) => dead.close(r));
  const link = new IngestLink(parseIngestTarget(`rtmp://127.0.0.1:${port}/app/KEY`)!);
  const url = await link.start();
  const s = net.connect(Number(new URL(url).port), '127.0.0.1');
  s.on('error', () => undefined);
  const started = Date.now();
  await new Promise((r) => s.once('close', r));
  t.ok(Date.now() - started < 2000, 'closed promptly');
  await link.close();
  t.same(link.stats, { sentBytes: 0, cleanEnds: 0, failedEnds: 1 });
});
