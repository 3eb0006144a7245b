import t from 'tap';
import { liveDir, push, startTestServer, waitFor } from './helpers/server.js';
import { existsSync } from 'node:fs';
import { testdir } from './helpers/testdir.js';

// 5 Mpx/s: a 360p+240p ladder (10 Mpx/s) does not fit, its 240p rung alone (3 Mpx/s) does.
const ts = await startTestServer(testdir(t), { KMK_TRANSCODE_BUDGET_PIXELS_PER_SECOND: '5000000' });
t.teardown(() => ts.server.stop());

t.test('over budget, the degrade policy drops top rungs and says so; refuse refuses', async (t) => {
  const a = ts.createChannel('deg', { ladder: ['360p', '240p'], overflow: 'degrade', record: false });
  const pubA = push(ts.rtmp(a.key), { seconds: 40, size: '640x360', gop: 45 });
  t.teardown(() => pubA.kill('SIGKILL'));
  await waitFor('the degraded class to be live', async () => (await ts.get('/hls/deg/master.m3u8')).status === 200, 30000);
  const view = ts.server.live.snapshot().channels.find((c) => c.channel === 'deg')!;
  t.same(view.ladder, ['240p'], 'the 360p rung was dropped');
  t.match(view.notes.join(' '), /ladder reduced \(overflow policy: degrade\); dropped 360p/);
  t.ok(ts.server.live.snapshot().used <= 5_000_000, 'within budget');

  const b = ts.createChannel('ref', { ladder: ['360p', '240p'], overflow: 'refuse' });
  const pubB = push(ts.rtmp(b.key), { seconds: 20, size: '640x360', gop: 45 });
  t.teardown(() => pubB.kill('SIGKILL'));
  t.not(await pubB.done, 0, 'the publisher is disconnected');
  const refused = await waitFor('the refused session', () => ts.server.store.sessions.list({ channel: 'ref' })[0]?.endedAt ? ts.server.store.sessions.list({ channel: 'ref' })[0] : undefined);
  t.match(refused.endReason, /refused: .*capacity/);
  t.notOk(existsSync(`${liveDir(ts, 'ref')}/master.m3u8`), 'no output for the refused channel');

  const m = ts.createChannel('muxpol', { ladder: ['360p', '240p'], overflow: 'mux', record: false });

  pubA.kill('SIGKILL');
  await waitFor('the class to end', () => ts.server.live.current('deg') === undefined, 20000);
  const pubM = push(ts.rtmp(m.key), { seconds: 30, size: '640x360', gop: 45 });
  t.teardown(() => pubM.kill('SIGKILL'));
  await waitFor('the mux-policy class to be live', async () => (await ts.get('/hls/muxpol/master.m3u8')).status === 200, 30000);
  const muxView = ts.server.live.snapshot().channels.find((c) => c.channel === 'muxpol')!;
  t.match(muxView.notes.join(' '), /Mux is not configured, so the degrade policy applies/);
  pubM.kill('SIGKILL');
  await waitFor('the class to end', () => ts.server.live.current('muxpol') === undefined, 20000);
});

t.test('the REST API wants a token with the right scope', async (t) => {
  const reader = ts.server.store.apiTokens.create('reader', ['sessions:read']).token;
  const other = ts.server.store.apiTokens.create('other', ['channels:read']).token;
  const none = await ts.get('/api/sessions');
  t.equal(none.status, 401);
  t.equal(none.headers.get('www-authenticate'), 'Bearer');
  t.equal((await ts.get('/api/sessions', { Authorization: 'Bearer kmk_' + 'x'.repeat(43) })).status, 401, 'unknown token');
  t.equal((await ts.get('/api/sessions', { Authorization: `Bearer ${other}` })).status, 403, 'wrong scope');
  const list = await ts.get('/api/sessions?limit=10', { Authorization: `Bearer ${reader}` });
  t.equal(list.status, 200);
  const sessions = (await list.json()) as { id: string; channel: string; endReason: string }[];
  t.ok(sessions.some((s) => s.channel === 'ref' && /refused/.test(s.endReason)));
  const one = await ts.get(`/api/sessions/${sessions[0]!.id}`, { Authorization: `Bearer ${reader}` });
  t.equal(((await one.json()) as { id: string }).id, sessions[0]!.id);
  t.equal((await ts.get('/api/sessions/s_zzzzzzzzzzzzzzzz', { Authorization: `Bearer ${reader}` })).status, 404);
  t.equal((await ts.get('/api/sessions?limit=0', { Authorization: `Bearer ${reader}` })).status, 400);
  t.equal((await ts.get('/api/sessions?limit=abc', { Authorization: `Bearer ${reader}` })).status, 400);
  t.equal((await ts.get('/api/sessions?channel=..%2Fetc', { Authorization: `Bearer ${reader}` })).status, 400, 'an invalid channel filter is refused, not ignored');
  t.same(await (await ts.get('/api/sessions?channel=no-such-channel', { Authorization: `Bearer ${reader}` })).json(), [], 'a valid but unknown channel has no sessions');
  const status = await ts.get('/api/status', { Authorization: `Bearer ${reader}` });
  t.match(await status.json(), { budget: 5_000_000, used: 0, channels: [] });
  const revoked = ts.server.store.apiTokens.revoke('reader');
  t.ok(revoked.revokedAt);
  t.equal((await ts.get('/api/status', { Authorization: `Bearer ${reader}` })).status, 401, 'a revoked token stops working');
});
