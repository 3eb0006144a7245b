// Two `kmk-live serve` boxes on one PostgreSQL (started by the test on a loopback port), each with its own ports,
// data and media folders, and the CLI run from a third folder: what one writes, the others see; a class runs on
// the box it was pushed to; PostgreSQL restarted mid-class leaves the classes playing, /healthz degraded meanwhile,
// and the writes resume.

import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, cleanEnv, cliAsync, cliJsonAsync } from './helpers/cli.js';
import { freePort, push, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';
import { startPostgres } from './helpers/postgres.js';
import { LATEST_VERSION } from '../src/store/sqlite/migrations.js';

const JOIN_SECRET = 'a-join-secret-the-boxes-share-0123456789';

t.test('two boxes on one PostgreSQL: shared channels and keys, classes where pushed, a store restart survived', async (t) => {
  const dir = testdir(t);
  const pg = await startPostgres();
  t.teardown(() => pg.destroy());
  const url = await pg.database();
  const shared = { KMK_STORE_URL: url, KMK_HUB_JOIN_SECRET: JOIN_SECRET, KMK_BIND_ADDRESS: '127.0.0.1', KMK_PUBLIC_HOST: '127.0.0.1', KMK_INGEST_RECONNECT_GRACE_SECONDS: '2' };
  const box = async (name: string) => {
    const http = await freePort();
    const rtmp = await freePort();
    return { name, http, rtmp, dir: join(dir, name), env: { ...shared, KMK_NODE_NAME: name, KMK_HTTP_PORT: String(http), KMK_RTMP_PORT: String(rtmp), KMK_PUBLIC_URL: `http://127.0.0.1:${http}` } };
  };
  const a = await box('box-a');
  const b = await box('box-b');
  const ops = join(dir, 'ops'); // the CLI's own folder: no data of its own, only the store's URL
  mkdirSync(ops);

  const made = await cliJsonAsync<{ obs: { streamKey: string } }>(ops, ['channel', 'create', 'math-101', '--public', 'on', '--ladder', '480p,360p'], a.env);
  const logs = new Map<string, string>();
  const serve = (x: typeof a) => {
    mkdirSync(x.dir, { recursive: true });
    const p = spawn(process.execPath, [BIN, 'serve'], { cwd: x.dir, env: cleanEnv(x.env), stdio: ['ignore', 'ignore', 'pipe'] });
    logs.set(x.name, '');
    p.stderr.setEncoding('utf8').on('data', (c: string) => logs.set(x.name, logs.get(x.name) + c));
    t.teardown(() => p.kill('SIGKILL'));
    return p;
  };
  t.teardown(() => { if (!t.passing()) for (const [n, l] of logs) t.comment(`${n} log:\n${l.slice(-6000)}`); });
  serve(a);
  serve(b);
  const health = async (x: typeof a) => (await fetch(`http://127.0.0.1:${x.http}/healthz`).then((r) => r.json() as Promise<{ status: string; store?: string }>).catch(() => undefined));
  await waitFor('both boxes up', async () => (await health(a))?.status === 'ok' && (await health(b))?.status === 'ok', 30000);

  // A channel made after both started reaches both read models (PostgreSQL's notices).
  const later = await cliJsonAsync<{ obs: { streamKey: string } }>(ops, ['channel', 'create', 'bio-200', '--public', 'on', '--ladder', '360p'], b.env);

  const pushB = push(`rtmp://127.0.0.1:${b.rtmp}/live/${made.obs.streamKey}`, { seconds: 90, size: '640x360' });
  const pushA = push(`rtmp://127.0.0.1:${a.rtmp}/live/${later.obs.streamKey}`, { seconds: 90, size: '640x360' });
  t.teardown(() => { pushA.kill('SIGKILL'); pushB.kill('SIGKILL'); });
  const media = async (x: typeof a, slug: string) => (await fetch(`http://127.0.0.1:${x.http}/hls/${slug}/360p/index.m3u8`)).text();
  const sequence = (playlist: string) => Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(playlist)?.[1] ?? -1) + (playlist.match(/#EXTINF/g)?.length ?? 0);
  await waitFor('math-101 playing on box B', async () => (await fetch(`http://127.0.0.1:${b.http}/hls/math-101/master.m3u8`)).status === 200, 40000);
  await waitFor('bio-200 (made after box A started) playing on box A', async () => (await fetch(`http://127.0.0.1:${a.http}/hls/bio-200/master.m3u8`)).status === 200, 40000);
  t.pass('each class runs on the box it was pushed to, with keys made by the CLI in the shared store');

  const sessions = await cliJsonAsync<{ id: string; channel: string; endedAt: string | null }[]>(ops, ['session', 'list'], a.env);
  t.same(sessions.map((s) => [s.channel, s.endedAt]).sort(), [['bio-200', null], ['math-101', null]], 'both classes open in the shared store');

  // PostgreSQL goes away mid-class.
  await pg.stop();
  const before = sequence(await media(b, 'math-101'));
  const degraded = await waitFor('box B degraded', async () => { const h = await health(b); return h?.status === 'degraded' ? h : undefined; }, 10000);
  t.match(degraded.store, /^unreachable: /, '/healthz says why');
  await waitFor('the class keeps playing without its store', async () => sequence(await media(b, 'math-101')) >= before + 2, 30000);
  await pg.restart();
  await waitFor('box B healthy again', async () => (await health(b))?.status === 'ok', 20000);
  t.pass('PostgreSQL restarted: the box is healthy again');

  // The publishers stop: each box ends its class and the end reaches the store.
  pushA.kill('SIGKILL');
  pushB.kill('SIGKILL');
  const ended = await waitFor('both classes ended in the store', async () => {
    const r = await cliJsonAsync<{ channel: string; endedAt: string | null; endReason: string | null }[]>(ops, ['session', 'list'], a.env);
    return r.every((s) => s.endedAt !== null) ? r : undefined;
  }, 40000);
  t.equal(ended.length, 2);
  const doctor = await cliAsync(ops, ['doctor', '--json'], { ...a.env, KMK_HTTP_PORT: String(await freePort()), KMK_RTMP_PORT: String(await freePort()) });
  t.match(doctor.stdout, new RegExp(`PostgreSQL postgres://kmk@127\\.0\\.0\\.1:\\d+/\\w+ at schema version ${LATEST_VERSION}`), 'doctor reads the shared store');
});
