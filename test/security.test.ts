// The security review's findings over real HTTP and WebSockets against a real server and SQLite file: what an API
// token, a join token, a guest and an unauthenticated caller can and cannot reach.

import t from 'tap';
import { signJoinToken } from '../src/auth/join-token.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import { startTestServer, waitFor } from './helpers/server.js';
import { cliAsync } from './helpers/cli.js';
import { Client } from './helpers/ws.js';
import { testdir } from './helpers/testdir.js';

const ts = await startTestServer(testdir(t), { KMK_LTI_LOGINS_PER_MINUTE_PER_ADDRESS: '20' });
t.teardown(() => ts.server.stop());
const secret = loadJoinSecret('', ts.server.config['paths.data']);
const now = (): number => Math.floor(Date.now() / 1000);
const join = (channel: string, sub: string, role = 'learner', o: Record<string, unknown> = {}): string =>
  signJoinToken({ sub, name: sub, role: role as never, channel, iat: now(), exp: now() + 3600, ...o }, secret);
const api = (token: string) => ({ Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' });
const wsUrl = (q: string): string => `ws://127.0.0.1:${ts.server.httpPort}/ws?${q}`;

t.test('tokens:join mints learner tokens only; instructor and moderator tokens need tokens:staff', async (t) => {
  ts.createChannel('scopes-a', { public: false });
  const lms = ts.server.store.apiTokens.create('lms', ['channels:read', 'tokens:join']).token;
  const staff = ts.server.store.apiTokens.create('lms-staff', ['tokens:join', 'tokens:staff']).token;
  const mint = (tok: string, body: object) => fetch(`${ts.base}/api/channels/scopes-a/join-tokens`, { method: 'POST', headers: api(tok), body: JSON.stringify({ user: 'u1', name: 'Ada', ...body }) });
  t.equal((await mint(lms, { role: 'learner' })).status, 201, 'a learner token with tokens:join');
  t.equal((await mint(lms, { role: 'viewer' })).status, 201, 'a viewer token too');
  for (const role of ['instructor', 'moderator']) {
    const r = await mint(lms, { role });
    t.equal(r.status, 403, `no ${role} token with tokens:join alone`);
    t.match((await r.json() as { message: string }).message, /tokens:staff/, 'and the answer names the scope');
  }
  const ok = await mint(staff, { role: 'instructor', ttl: '8h' });
  t.equal(ok.status, 201, 'an instructor token with tokens:staff');
  const long = await mint(staff, { role: 'instructor', ttl: '2d' });
  t.equal(long.status, 400, 'an instructor token lives at most 12 h');
  t.match((await long.json() as { message: string }).message, /at most 12h/);
  // A well-signed instructor token that claims 2 days is not honoured by the studio API.
  const forged = join('scopes-a', 'prof', 'instructor', { exp: now() + 2 * 86400 });
  t.equal((await fetch(`${ts.base}/api/channels/scopes-a/health`, { headers: api(forged) })).status, 401, 'a staff token beyond the limit is refused');
  t.equal((await fetch(`${ts.base}/api/channels/scopes-a/health`, { headers: api(join('scopes-a', 'prof', 'instructor')) })).status, 200, 'a normal one is taken');
});

t.test('an API token limited to channels acts on those channels only', async (t) => {
  const { id } = ts.createChannel('limit-a', { public: false });
  ts.createChannel('limit-b', { public: false });
  const s = ts.server.store.sessions.start(id, false).id;
  const b = ts.server.store.sessions.start(ts.server.store.channels.get('limit-b').id, false).id;
  const tok = ts.server.store.apiTokens.create('dept', ['sessions:read', 'tokens:join'], ['limit-a']).token;
  const mint = (slug: string) => fetch(`${ts.base}/api/channels/${slug}/join-tokens`, { method: 'POST', headers: api(tok), body: '{"user":"u","name":"U","role":"learner"}' });
  t.equal((await mint('limit-a')).status, 201, 'its own channel');
  const other = await mint('limit-b');
  t.equal(other.status, 403, 'another channel');
  t.match((await other.json() as { message: string }).message, /limited to the channel limit-a/);
  t.equal((await fetch(`${ts.base}/api/sessions?channel=limit-a`, { headers: api(tok) })).status, 200, 'its channel\'s sessions');
  t.equal((await fetch(`${ts.base}/api/sessions`, { headers: api(tok) })).status, 403, 'not every channel\'s');
  t.equal((await fetch(`${ts.base}/api/sessions/${s}`, { headers: api(tok) })).status, 200, 'a session of its channel');
  t.equal((await fetch(`${ts.base}/api/sessions/${b}`, { headers: api(tok) })).status, 403, 'not one of another');
  t.equal((await fetch(`${ts.base}/api/sessions/${b}/report`, { headers: api(tok) })).status, 403, 'nor its report');
  t.equal((await fetch(`${ts.base}/api/status`, { headers: api(tok) })).status, 403, 'nor the box-wide status');
  t.equal((await fetch(`${ts.base}/api/reports/cost?from=2026-01-01&to=2026-02-01`, { headers: api(tok) })).status, 403, 'nor the box-wide cost');
  t.throws(() => ts.server.store.apiTokens.create('bad', ['admin'], ['limit-a']), /admin token cannot be limited/);
});

t.test('token revoke-all ends every join token of a channel, connected sockets included', async (t) => {
  ts.createChannel('revoke-me', { public: false });
  const learner = join('revoke-me', 'l1');
  const teacher = join('revoke-me', 't1', 'instructor');
  const bystander = join('scopes-a', 'l9');
  const c = await Client.connect(wsUrl(`token=${learner}`));
  await c.waitFor('welcome', () => c.messages.find((m) => m.t === 'welcome'));
  const other = await Client.connect(wsUrl(`token=${bystander}`));
  t.teardown(() => other.close());
  const r = await cliAsync(ts.dir, ['token', 'revoke-all', 'revoke-me']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /Every join token of "revoke-me" issued before .* is void now/);
  await c.waitFor('the socket to be closed', () => c.closed, 8000);
  t.equal(c.closed?.code, 4001, 'the connected learner is closed with 4001');
  t.equal(await Client.status(wsUrl(`token=${learner}`)), 401, 'and cannot join again');
  t.equal((await fetch(`${ts.base}/api/channels/revoke-me/health`, { headers: api(teacher) })).status, 401, 'the instructor token is void for the studio API');
  t.equal((await fetch(`${ts.base}/api/channels/revoke-me/playback`, { headers: api(learner) })).status, 401, 'and for playback');
  await new Promise((res) => setTimeout(res, 1100)); // tokens carry whole seconds: the next second's are new
  t.equal(await Client.status(wsUrl(`token=${join('revoke-me', 'l1')}`)), 101, 'a token issued after it works');
  t.equal(other.closed, undefined, 'another channel\'s socket stays');
  const unknown = await cliAsync(ts.dir, ['token', 'revoke-all', 'no-such']);
  t.equal(unknown.code, 2, 'an unknown channel is a usage error');
});

t.test('beacons: a token of the channel, a session of the channel, at most 12 a minute', async (t) => {
  const { id } = ts.createChannel('qoe-a', { public: false });
  const { id: idB } = ts.createChannel('qoe-b', { public: false });
  const sa = ts.server.store.sessions.start(id, false).id;
  const sb = ts.server.store.sessions.start(idB, false).id;
  const post = (body: object, headers: Record<string, string> = {}) => fetch(`${ts.base}/api/beacon`, { method: 'POST', headers, body: JSON.stringify({ channel: 'qoe-a', startupMs: 900, ...body }) });
  const tok = join('qoe-a', 'ann');
  const into = await post({ token: tok, sessionId: sb });
  t.equal(into.status, 400, 'a learner of A cannot write into B\'s session');
  t.match((await into.json() as { message: string }).message, /session of this channel/);
  t.same(ts.server.store.beacons.forSession(sb), [], 'nothing was written to B');
  t.equal((await post({ guestId: 'guest-0011223344556677', sessionId: sa })).status, 400, 'a guest id without a token is refused');
  const statuses: number[] = [];
  for (let i = 0; i < 14; i++) statuses.push((await post({ token: tok, sessionId: sa })).status);
  t.same(statuses.slice(0, 12), Array(12).fill(204), '12 beacons a minute are taken');
  t.equal(statuses[12], 429, 'the 13th is refused');
  t.equal(ts.server.store.beacons.forSession(sa).length, 12, 'and not stored');
});

t.test('guests keep one signed identity across reconnects, and new guests are rate-limited per address', async (t) => {
  ts.createChannel('open-day', { public: true });
  ts.server.store.channels.update('open-day', { allowGuests: true });
  const first = await Client.connect(wsUrl('channel=open-day&name=Visitor'), { 'X-Forwarded-For': '198.51.100.7' });
  const gt = await first.waitFor('the guest token', () => first.messages.find((m) => m.t === 'guest_token'));
  const welcome = await first.waitFor('welcome', () => first.messages.find((m) => m.t === 'welcome'));
  const id = (welcome.you as { userId: string }).userId;
  t.match(id, /^guest-[0-9a-f]{16}$/);
  first.close();
  const again = await Client.connect(wsUrl(`token=${encodeURIComponent(gt.token as string)}`));
  const w2 = await again.waitFor('welcome', () => again.messages.find((m) => m.t === 'welcome'));
  t.equal((w2.you as { userId: string }).userId, id, 'the reconnect is the same guest');
  t.equal((w2.you as { guest: boolean }).guest, true);
  t.notOk(again.messages.some((m) => m.t === 'guest_token'), 'and is not given a new identity');
  // A ban holds across the reconnect.
  const teacher = await Client.connect(wsUrl(`token=${join('open-day', 'prof', 'instructor')}`));
  t.teardown(() => teacher.close());
  await teacher.waitFor('welcome', () => teacher.messages.find((m) => m.t === 'welcome'));
  teacher.send({ t: 'ban', userId: id });
  await again.waitFor('the ban', () => again.closed, 5000);
  t.equal(await Client.status(wsUrl(`token=${encodeURIComponent(gt.token as string)}`)), 403, 'the banned guest cannot come back with their token');
  // The guest's token also carries beacons.
  const b = await fetch(`${ts.base}/api/beacon`, { method: 'POST', body: JSON.stringify({ channel: 'open-day', token: gt.token, startupMs: 500 }) });
  t.equal(b.status, 204, 'a guest\'s beacon with their token');
  // New guest identities from one address: a burst, then 429.
  const codes: number[] = [];
  for (let i = 0; i < 22; i++) codes.push(await Client.status(wsUrl(`channel=open-day&name=G${i}`), { 'X-Forwarded-For': '203.0.113.50' }));
  t.same(codes.slice(0, 20), Array(20).fill(101), '20 new guests from one address');
  t.equal(codes[20], 429, 'then they wait');
  t.equal(await Client.status(wsUrl('channel=open-day&name=Other'), { 'X-Forwarded-For': '203.0.113.51' }), 101, 'another address is not held back');
  // A channel that stops taking guests ends their tokens.
  const g3 = await Client.connect(wsUrl('channel=open-day&name=Late'), { 'X-Forwarded-For': '198.51.100.9' });
  const late = await g3.waitFor('the guest token', () => g3.messages.find((m) => m.t === 'guest_token'));
  g3.close();
  ts.server.store.channels.update('open-day', { allowGuests: false });
  t.equal(await Client.status(wsUrl(`token=${encodeURIComponent(late.token as string)}`)), 401, 'guest tokens are void once guests are off');
});

t.test('unauthenticated LTI logins are limited per address', async (t) => {
  ts.server.store.lti.addPlatform({ issuer: 'https://lms.flood.example', clientId: 'c1', authUrl: 'https://lms.flood.example/auth', tokenUrl: 'https://lms.flood.example/token', jwksUrl: 'https://lms.flood.example/jwks', deploymentIds: [] });
  const body = new URLSearchParams({ iss: 'https://lms.flood.example', login_hint: 'x', target_link_uri: `${ts.base}/lti/launch`, client_id: 'c1' });
  const login = (addr: string) => fetch(`${ts.base}/lti/login`, { method: 'POST', redirect: 'manual', headers: { 'X-Forwarded-For': addr, 'Content-Type': 'application/x-www-form-urlencoded' }, body });
  const before = (ts.server.store.db.prepare('SELECT COUNT(*) AS n FROM lti_logins').get() as { n: number }).n;
  const codes: number[] = [];
  for (let i = 0; i < 25; i++) codes.push((await login('203.0.113.77')).status);
  t.same(codes.slice(0, 20), Array(20).fill(302), 'lti.loginsPerMinutePerAddress logins go to the LMS');
  t.same(codes.slice(20), Array(5).fill(429), 'the rest are refused');
  const r = await login('203.0.113.77');
  t.equal(r.headers.get('retry-after'), '30');
  t.match(await r.text(), /Too many sign-ins/);
  t.equal((ts.server.store.db.prepare('SELECT COUNT(*) AS n FROM lti_logins').get() as { n: number }).n - before, 20, 'only the admitted ones are stored');
  t.equal((await login('203.0.113.78')).status, 302, 'another address is not held back');
  await waitFor('healthz', async () => (await fetch(`${ts.base}/healthz`)).status === 200, 2000);
});
