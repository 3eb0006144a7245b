import t from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { liveDir, push, startTestServer, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

const ts = await startTestServer(testdir(t), { KMK_INGEST_MAX_FAILURES_PER_MINUTE: '4' });
t.teardown(() => ts.server.stop());
const media = ts.server.config['paths.media'];

t.test('an unknown key is refused: no output, connection closed, the address logged but never the key', async (t) => {
  const wrong = 'A'.repeat(43);
  const pub = push(ts.rtmp(wrong), { seconds: 10 });
  const code = await pub.done;
  t.not(code, 0, 'the publisher is disconnected');
  t.notOk(existsSync(join(media, 'live')) && readdirSync(join(media, 'live')).length > 0, 'no output folder');
  const line = ts.logs.find((l) => l.includes('publish refused'));
  t.match(line, /from=127\.0\.0\.1 reason="unknown or revoked stream key"/);
  t.notOk(ts.logs.some((l) => l.includes(wrong)), 'the key never reaches the log');
  t.equal(ts.server.store.sessions.list().length, 0, 'no session row');
});

t.test('a revoked key is refused the same way', async (t) => {
  const { key, id } = ts.createChannel('revoked');
  ts.server.store.streamKeys.revoke(id);
  const pub = push(ts.rtmp(key), { seconds: 10 });
  t.not(await pub.done, 0);
  t.notOk(existsSync(liveDir(ts, 'revoked')));
  t.notOk(ts.logs.some((l) => l.includes(key)), 'the key never reaches the log');
});

t.test('a wrong application path is refused', async (t) => {
  const { key } = ts.createChannel('wrong-app');
  const pub = push(ts.rtmp(key).replace('/live/', '/other/'), { seconds: 10 });
  t.not(await pub.done, 0);
  t.notOk(existsSync(liveDir(ts, 'wrong-app')));
});

t.test('RTMP play of a live channel works from loopback only', async (t) => {
  const { key } = ts.createChannel('play');
  const pub = push(ts.rtmp(key), { seconds: 30, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  await waitFor('the class to be live', () => ts.server.live.current('play')?.state === 'live');
  const { ffprobe } = await import('./helpers/server.js');
  const probe = await ffprobe(ts.rtmp(key), ['-rw_timeout', '5000000']);
  t.ok(probe.streams.some((s) => s.codec_type === 'video'), 'a loopback player receives the stream');
  const { isLoopback } = await import('../src/ingest/rtmp.js');
  t.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('127.8.9.10'));
  t.notOk(isLoopback('10.0.0.5') || isLoopback('192.168.1.2') || isLoopback('::ffff:10.0.0.1'), 'other addresses are refused');
  pub.kill('SIGKILL');
  await waitFor('the class to end', () => ts.server.live.current('play') === undefined, 20000);
});

t.test('media paths cannot escape the media folder', async (t) => {
  const attempts = [
    '/hls/../data/kmk.db', '/hls/%2e%2e/data/kmk.db', '/hls/math-101/..%2f..%2fdata%2fkmk.db', '/hls/math-101/%2e%2e%2f%2e%2e%2fkmk.db',
    '/hls/..%5c..%5cdata%5ckmk.db', '/vod/../../etc/passwd', '/hls/math-101/%00.m3u8', '/hls/%ZZ/x.m3u8',
    '/hls/math-101/480p/../../../../etc/passwd', '/vod/s_0000000000000000/../../data/kmk.db', '/hls/math-101/index.txt',
  ];
  for (const path of attempts) {
    const r = await fetch(ts.base + path);
    t.ok(r.status === 400 || r.status === 404, `${path} → ${r.status}`);
    const body = Buffer.from(await r.arrayBuffer());
    t.notOk(body.includes(Buffer.from('SQLite format')), `${path} leaks nothing`);
  }
  t.equal((await fetch(ts.base + '/nope')).status, 404);
  t.equal((await fetch(ts.base + '/healthz')).status, 200);
});

t.test('an address with too many bad keys is throttled, but a valid key from it still publishes', async (t) => {
  // Behind a school's NAT every instructor shares one address: a mistyped key next door must not end a class.
  const { key } = ts.createChannel('guarded');
  for (let i = 0; i < 3; i++) await push(ts.rtmp('B'.repeat(43)), { seconds: 5 }).done;
  t.ok(ts.server.ingest.guard.isBlocked('127.0.0.1', Date.now()), 'over the limit of 4 failures a minute');
  // Throttled: only a couple of idle connections at once from that address; the rest are cut at accept.
  const { connect } = await import('node:net');
  const before = ts.server.ingest.counters.refusedConnections;
  const idle = Array.from({ length: 6 }, () => connect(ts.server.rtmpPort, '127.0.0.1'));
  await waitFor('the extra connections to be refused', () => ts.server.ingest.counters.refusedConnections - before >= 4 || undefined, 5000);
  t.equal(ts.server.ingest.counters.refusedConnections - before, 4, 'six idle connections: two kept, four refused and counted');
  for (const s of idle) s.destroy();
  await new Promise((r) => setTimeout(r, 200));
  const bad = push(ts.rtmp('C'.repeat(43)), { seconds: 5 });
  t.not(await bad.done, 0, 'a bad key from the throttled address is still refused');
  const pub = push(ts.rtmp(key), { seconds: 6, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  await waitFor('the valid key to go live', () => ts.server.live.current('guarded')?.state === 'live' || undefined, 20000);
  t.pass('the valid key publishes from the throttled address');
  t.match(ts.logs.join(''), 'this address is throttled after too many bad keys', 'the refusal says why');
});
