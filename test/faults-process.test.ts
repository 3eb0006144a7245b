// Faults around the process and its disk: ffmpeg processes left by a server killed with SIGKILL are stopped at the
// next start (from the pid file); a locked database delays the hub's writes without losing any; junk on the HTTP
// port (a megabyte of headers, a NUL in the request line) costs one connection, never the server.

import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { signJoinToken } from '../src/auth/join-token.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import { PID_FILE } from '../src/media/pid-file.js';
import { startTestServer, waitFor } from './helpers/server.js';
import { Client } from './helpers/ws.js';
import { testdir } from './helpers/testdir.js';

const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
};

t.test('ffmpeg processes a killed server left behind are stopped at the next start; other pids are left alone', async (t) => {
  const dir = testdir(t);
  const media = join(dir, 'media');
  mkdirSync(media, { recursive: true });
  // An ffmpeg that would run for an hour and ignores its stdin: it will not go away by itself.
  const orphan = spawn('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=size=64x64:rate=5', '-t', '3600', '-f', 'null', '-'], { stdio: 'ignore' });
  const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => { orphan.kill('SIGKILL'); bystander.kill('SIGKILL'); });
  await waitFor('the orphan to run', () => alive(orphan.pid!) || undefined);
  writeFileSync(join(media, PID_FILE), `${orphan.pid}\n${bystander.pid}\nnot-a-pid\n`);
  const ts = await startTestServer(dir, { KMK_PATHS_MEDIA: media });
  t.teardown(() => ts.server.stop());
  await waitFor('the orphan to be stopped', () => !alive(orphan.pid!) || undefined, 5000);
  t.pass('the left-behind ffmpeg was stopped');
  t.ok(alive(bystander.pid!), 'a pid that is not ffmpeg is never signalled');
  t.ok(ts.logs.some((l) => /stopped ffmpeg processes left by a previous run count=1/.test(l)), 'and the log says so');
  t.equal(readFileSync(join(media, PID_FILE), 'utf8'), '', 'the pid file starts over');
});

t.test('a locked database delays the hub\'s writes; every acknowledged chat message is written once it frees', async (t) => {
  const ts = await startTestServer(testdir(t), { KMK_STORE_BUSY_TIMEOUT_MS: '50', KMK_HUB_TICK_MS: '50' });
  t.teardown(() => ts.server.stop());
  ts.createChannel('locked', { record: false });
  const secret = loadJoinSecret('', ts.server.config['paths.data']);
  const tok = signJoinToken({ sub: 'ada', name: 'Ada', role: 'learner', channel: 'locked', exp: Math.floor(Date.now() / 1000) + 600 }, secret);
  const c = await Client.connect(`${ts.base.replace('http', 'ws')}/ws?token=${tok}`);
  t.teardown(() => c.close());
  await c.waitFor('welcome', () => c.messages.find((m) => m.t === 'welcome'));
  // Another process holds the write lock (a backup tool, a slow disk, `sqlite3` left open in a transaction).
  const other = new Database(ts.server.config['paths.db']);
  t.teardown(() => other.close());
  other.exec('BEGIN EXCLUSIVE');
  for (let i = 0; i < 5; i++) {
    c.send({ t: 'chat', text: `during the lock ${i}` });
    await new Promise((r) => setTimeout(r, 100));
  }
  await c.waitFor('all five acknowledged (echoed to the room)', () => c.events.filter((e) => e.t === 'chat').length === 5 || undefined);
  await waitFor('a failed write to be retried', () => ts.server.hub.counters.persistRetries > 0 || undefined, 5000);
  await new Promise((r) => setTimeout(r, 1500));
  other.exec('COMMIT');
  const texts = await waitFor('the messages in the database', () => {
    const rows = ts.server.store.db.prepare("SELECT text FROM chat_messages WHERE text LIKE 'during the lock%' ORDER BY at").all() as { text: string }[];
    return rows.length === 5 ? rows.map((r) => r.text) : undefined;
  }, 10000);
  t.same(texts, [0, 1, 2, 3, 4].map((i) => `during the lock ${i}`), 'all five, in order, none lost');
  t.ok(ts.logs.some((l) => l.includes('engagement write failed; will retry')), 'the delay is logged');
  t.ok(ts.logs.some((l) => l.includes('engagement writes recovered')), 'and the recovery');
  t.match(await (await ts.get('/metrics')).text(), /kmk_hub_persist_retries_total [1-9]/);
});

function raw(port: number, bytes: Buffer, waitMs: number): Promise<{ answer: string; closedAfterMs: number | null }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const t0 = Date.now();
    let answer = '';
    s.on('data', (d) => { answer += d.toString('latin1'); });
    s.on('error', () => {});
    s.on('close', () => resolve({ answer, closedAfterMs: Date.now() - t0 }));
    s.write(bytes);
    setTimeout(() => { if (!s.destroyed) { s.destroy(); resolve({ answer, closedAfterMs: null }); } }, waitMs);
  });
}

t.test('junk on the HTTP port costs one connection, bounded in time; the server keeps answering', async (t) => {
  const ts = await startTestServer(testdir(t));
  t.teardown(() => ts.server.stop());
  const port = ts.server.httpPort;
  const big = raw(port, Buffer.from(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(1024 * 1024)}\r\n\r\n`), 5000);
  const nul = raw(port, Buffer.from('GET /he\0althz HTTP/1.1\r\nHost: x\r\n\r\n'), 20000);
  t.ok((await fetch(`${ts.base}/healthz`)).ok, 'other requests are answered meanwhile');
  const b = await big;
  t.ok(b.closedAfterMs !== null && b.closedAfterMs < 2000, `a megabyte of headers: the connection is closed at once (${b.closedAfterMs} ms; this uWS build sends no 431)`);
  const n = await nul;
  t.ok(n.closedAfterMs !== null && n.closedAfterMs < 15000, `a NUL in the request line: closed by the idle timeout (${n.closedAfterMs} ms)`);
  t.notMatch(n.answer, /200 OK/, 'and never answered as a valid request');
  t.ok((await fetch(`${ts.base}/healthz`)).ok, 'still answering afterwards');
});
