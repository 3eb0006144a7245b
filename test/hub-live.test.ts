import t from 'tap';
import { signJoinToken } from '../src/auth/join-token.js';
import type { Role } from '../src/domain/roles.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import { cli, cliJson } from './helpers/cli.js';
import { push, startTestServer, waitFor } from './helpers/server.js';
import { Client } from './helpers/ws.js';
import { testdir } from './helpers/testdir.js';

const ts = await startTestServer(testdir(t), { KMK_HUB_MAX_BACKPRESSURE_BYTES: '16384', KMK_INGEST_RECONNECT_GRACE_SECONDS: '1' });
t.teardown(() => ts.server.stop());
const wsBase = ts.base.replace('http', 'ws') + '/ws';
const token = (channel: string, sub: string, role: Role = 'learner') =>
  signJoinToken({ sub, name: sub, role, channel, exp: Math.floor(Date.now() / 1000) + 3600 }, loadJoinSecret('', ts.server.config['paths.data']));

t.test('the waiting room gets the class-start event, then attendance is recorded per session', async (t) => {
  const { key } = ts.createChannel('live-class', { ladder: ['360p'], record: true });
  const early = await Client.connect(`${wsBase}?token=${token('live-class', 'early')}`);
  t.teardown(() => early.close());
  await early.waitFor('welcome', () => early.messages.find((m) => m.t === 'welcome'));
  t.match(early.welcome.room, { class: { state: 'waiting', sessionId: null } });
  early.send({ t: 'chat', text: 'anyone here?' });
  await early.event('chat');
  const pub = push(ts.rtmp(key), { seconds: 8, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  const started = await early.waitFor('class start', () => early.events.find((e) => e.t === 'class' && e.state === 'live'), 20000);
  const sessionId = started.sessionId as string;
  t.match(sessionId, /^s_/);
  const during = await Client.connect(`${wsBase}?token=${token('live-class', 'during')}`);
  await during.waitFor('welcome', () => during.messages.find((m) => m.t === 'welcome'));
  t.match(during.welcome.room, { class: { state: 'live', sessionId }, chat: [{ text: 'anyone here?' }] }, 'live state and chat on join');
  during.close();
  await pub.done;
  const ended = await early.waitFor('class end', () => early.events.find((e) => e.t === 'class' && e.state === 'ended'), 30000);
  t.match(ended, { sessionId, replay: `/vod/${sessionId}/master.m3u8` });
  const states = early.events.filter((e) => e.t === 'class').map((e) => e.state);
  t.same(states, ['live', 'reconnecting', 'ended'], 'the publisher dropping is announced before the end');
  early.close();
  const rows = await waitFor('attendance rows', () => {
    const r = ts.server.store.engagement.attendance(sessionId);
    return r.length === 2 && r.every((x) => x.leftAt !== null) ? r : undefined;
  });
  t.same(rows.map((r) => r.userId).sort(), ['during', 'early'], 'one interval per user for the session');
  for (const r of rows) t.ok(r.leftAt! >= r.joinedAt, `${r.userId}: joined ${r.joinedAt}, left ${r.leftAt}`);
});

t.test('a client that stops reading is cut off at the backpressure bound, not buffered', async (t) => {
  ts.createChannel('flood', { record: false });
  const slow = await Client.connect(`${wsBase}?token=${token('flood', 'slow')}`);
  const teacher = await Client.connect(`${wsBase}?token=${token('flood', 'teach', 'instructor')}`);
  t.teardown(() => {
    slow.close();
    teacher.close();
  });
  await slow.waitFor('welcome', () => slow.messages.find((m) => m.t === 'welcome'));
  (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause(); // the learner's tab froze
  const before = ts.server.hub.connections;
  // Loopback kernel buffers hold several MB before uWS sees any backpressure: keep talking until it does.
  let sent = 0;
  await waitFor('the slow client to be dropped', async () => {
    if (ts.server.hub.connections === before - 1) return true;
    for (let i = 0; i < 400 && sent < 100000; i++, sent++) teacher.send({ t: 'chat', text: `${sent} ${'x'.repeat(450)}` });
    await new Promise((r) => setTimeout(r, 20));
    return false;
  }, 60000);
  t.comment(`dropped after ${sent} messages (~${Math.round((sent * 520) / 1e6)} MB sent to it)`);
  t.pass('the server closed the stalled connection');
  t.equal(teacher.closed, undefined, 'the fast client stays');
  const metrics = await (await ts.get('/metrics')).text();
  t.match(metrics, /kmk_hub_sockets 1/);
});

t.test('join tokens from the CLI and the REST API are accepted by /ws', async (t) => {
  ts.createChannel('tokens', { record: false });
  const env = { KMK_PATHS_DATA: ts.server.config['paths.data'], KMK_PATHS_MEDIA: ts.server.config['paths.media'] };
  const fromCli = cliJson<{ token: string; claims: { role: string; exp: number }; watchUrl: string }>(ts.dir,
    ['token', 'join', 'tokens', '--user', '4711', '--name', 'Ada Lovelace', '--role', 'moderator', '--ttl', '90m'], env);
  t.match(fromCli.claims, { role: 'moderator' });
  t.ok(Math.abs(fromCli.claims.exp - Date.now() / 1000 - 5400) < 60, 'ttl 90m');
  t.match(fromCli.watchUrl, /\/watch\/tokens\?token=/);
  const c = await Client.connect(`${wsBase}?token=${fromCli.token}`);
  await c.waitFor('welcome', () => c.messages.find((m) => m.t === 'welcome'));
  t.match(c.welcome.you, { userId: '4711', name: 'Ada Lovelace', role: 'moderator' });
  c.close();
  t.equal(cli(ts.dir, ['token', 'join', 'tokens', '--user', 'x', '--name', 'X', '--role', 'admin'], env).code, 2, 'bad role exits 2');
  t.equal(cli(ts.dir, ['token', 'join', 'tokens', '--user', 'x', '--name', 'X', '--ttl', 'forever'], env).code, 2, 'bad ttl exits 2');
  t.equal(cli(ts.dir, ['token', 'join', 'nope', '--user', 'x', '--name', 'X'], env).code, 2, 'unknown channel exits 2');

  const api = ts.server.store.apiTokens.create('lms', ['tokens:join']).token;
  const post = (body: string, auth = api, slug = 'tokens') => fetch(`${ts.base}/api/channels/${slug}/join-tokens`, {
    method: 'POST', headers: { Authorization: `Bearer ${auth}`, 'Content-Type': 'application/json' }, body,
  });
  const r = await post(JSON.stringify({ user: 'lms-9', name: 'Grace', role: 'learner', ttl: '4h' }));
  t.equal(r.status, 201);
  const minted = (await r.json()) as { token: string; wsUrl: string };
  const c2 = await Client.connect(`${ts.base.replace('http', 'ws')}${minted.wsUrl}`);
  await c2.waitFor('welcome', () => c2.messages.find((m) => m.t === 'welcome'));
  t.match(c2.welcome.you, { userId: 'lms-9', role: 'learner' });
  c2.close();
  t.equal((await post('not json')).status, 400);
  t.equal((await post(JSON.stringify({ user: 'x', name: 'X', role: 'god' }))).status, 400);
  t.equal((await post(JSON.stringify({ user: 'x', name: 'X', role: 'learner' }), api, 'nope')).status, 404);
  t.equal((await post('{}', 'kmk_' + 'y'.repeat(43))).status, 401);
  const reader = ts.server.store.apiTokens.create('reader', ['sessions:read']).token;
  t.equal((await post(JSON.stringify({ user: 'x', name: 'X', role: 'learner' }), reader)).status, 403, 'needs tokens:join');
  t.equal((await post('x'.repeat(20000))).status, 413, 'bodies are bounded');
});
