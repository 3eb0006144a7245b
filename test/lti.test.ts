// LTI 1.3 against a local platform over real HTTP: configuration and keys, login, launches that must succeed and
// every launch that must be refused, roles, deep linking, private playback, platform registration.

import t from 'tap';
import { rmSync } from 'node:fs';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { verifyJoinToken } from '../src/auth/join-token.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import { FakePlatform, ROLE, type LaunchSpec } from './helpers/lti-platform.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { cli, cliJson } from './helpers/cli.js';
import { testdir } from './helpers/testdir.js';

let ts: TestServer;
let lms: FakePlatform;
const ada = { sub: 'u-ada', name: 'Ada Lovelace', email: 'ada@school.example', roles: [ROLE.learner] };
const prof = { sub: 'u-prof', name: 'Prof. Turing', roles: [ROLE.instructor] };

t.before(async () => {
  // A fresh server folder each run (tap keeps no state between runs for it).
  rmSync(t.testdirName + '-srv', { recursive: true, force: true });
  lms = await FakePlatform.start();
  ts = await startTestServer(t.testdirName + '-srv');
  lms.toolBase = ts.base;
  ts.server.store.lti.addPlatform({ issuer: lms.issuer, clientId: lms.clientId, ...lms.urls, deploymentIds: [lms.deploymentId] });
});
t.teardown(async () => {
  await ts.server.stop();
  await lms.stop();
  rmSync(t.testdirName + '-srv', { recursive: true, force: true });
});

const secret = (): Buffer => loadJoinSecret('', `${t.testdirName}-srv/data`);

t.test('the tool publishes its configuration and its public keys', async (t) => {
  const cfg = await (await ts.get('/lti/config.json')).json() as Record<string, unknown>;
  t.equal(cfg.oidc_initiation_url, `${ts.base}/lti/login`);
  t.equal(cfg.target_link_uri, `${ts.base}/lti/launch`);
  t.equal(cfg.public_jwk_url, `${ts.base}/lti/jwks`);
  t.match(JSON.stringify(cfg.extensions), 'LtiDeepLinkingRequest', 'Canvas placements include deep linking');
  const jwks = await (await ts.get('/lti/jwks')).json() as { keys: Record<string, unknown>[] };
  t.equal(jwks.keys.length, 1);
  t.match(jwks.keys[0], { kty: 'RSA', alg: 'RS256', use: 'sig', kid: String });
  t.notOk('d' in jwks.keys[0]!, 'no private part is published');
});

t.test('login redirects to the platform with every OIDC parameter', async (t) => {
  const r = await fetch(lms.loginUrl('someone'), { redirect: 'manual' });
  t.equal(r.status, 302);
  const u = new URL(r.headers.get('location')!);
  t.equal(`${u.origin}${u.pathname}`, lms.urls.authUrl);
  const q = Object.fromEntries(u.searchParams);
  t.match(q, {
    scope: 'openid', response_type: 'id_token', response_mode: 'form_post', prompt: 'none', client_id: lms.clientId,
    redirect_uri: `${ts.base}/lti/launch`, login_hint: 'someone', lti_message_hint: 'msg-someone',
  });
  t.ok(q.state && q.state.length >= 32 && q.nonce && q.nonce.length >= 32 && q.state !== q.nonce, 'fresh state and nonce');
  t.equal(r.headers.get('set-cookie'), null, 'no cookie: the state is kept on the server');
  const post = await fetch(`${ts.base}/lti/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams(new URL(lms.loginUrl('p')).searchParams) });
  t.equal(post.status, 302, 'the login may be a form post too');
});

t.test('bad logins get a clear page and a 4xx', async (t) => {
  const cases: [string, Record<string, string>, number, string][] = [
    ['no issuer', { iss: '' }, 400, 'lti-iss'],
    ['an unregistered issuer', { iss: 'https://other-lms.example' }, 403, 'lti-iss'],
    ['a target that is not this tool', { target_link_uri: 'https://evil.example/lti/launch' }, 400, 'lti-target_link_uri'],
    ['an unregistered deployment', { lti_deployment_id: 'dep-x' }, 403, 'lti-lti_deployment_id'],
    ['no login hint', { login_hint: '' }, 400, 'lti-login_hint'],
  ];
  for (const [what, change, status, code] of cases) {
    const u = new URL(lms.loginUrl('x'));
    for (const [k, v] of Object.entries(change)) u.searchParams.set(k, v);
    const r = await fetch(u, { redirect: 'manual' });
    t.equal(r.status, status, what);
    t.match(r.headers.get('content-type'), 'text/html', `${what}: an HTML page`);
    t.match(await r.text(), code, `${what}: names the check`);
  }
});

t.test('an instructor launch opens the studio of the course channel with an instructor token', async (t) => {
  const { launch } = await lms.launch({ user: prof });
  t.equal(launch.status, 303);
  const to = new URL(launch.headers.get('location')!, ts.base);
  t.match(to.pathname, /^\/studio\/course-[0-9a-f]{8}$/);
  const v = verifyJoinToken(to.searchParams.get('token')!, secret(), Math.floor(Date.now() / 1000));
  t.ok(v.ok);
  if (v.ok) t.match(v.claims, { role: 'instructor', name: 'Prof. Turing', sub: /^lti\d+:u-prof$/ });
  const slug = to.pathname.split('/')[2]!;
  const ch = ts.server.store.channels.get(slug);
  t.equal(ch.public, false, 'a course channel is private');
  t.equal(ch.title, 'Biology 42');
  const again = await lms.launch({ user: prof });
  t.equal(new URL(again.launch.headers.get('location')!, ts.base).pathname, to.pathname, 'the same course keeps its channel');
});

t.test('LTI roles map to KMK roles: learner, teaching assistant, mentor', async (t) => {
  const roleOf = async (roles: string[], page: string): Promise<string> => {
    const { launch } = await lms.launch({ user: { sub: `u-${roles.length}-${page}`, name: 'Someone', roles } });
    const to = new URL(launch.headers.get('location')!, ts.base);
    t.match(to.pathname, new RegExp(`^/${page}/`));
    const v = verifyJoinToken(to.searchParams.get('token')!, secret(), Math.floor(Date.now() / 1000));
    return v.ok ? v.claims.role : 'invalid';
  };
  t.equal(await roleOf([ROLE.learner], 'watch'), 'learner');
  t.equal(await roleOf([ROLE.ta], 'studio'), 'instructor');
  t.equal(await roleOf([ROLE.mentor], 'watch'), 'viewer');
});

t.test('every broken launch is refused with a 4xx page naming the check, never a launch', async (t) => {
  const now = Math.floor(Date.now() / 1000);
  const cases: [string, Partial<LaunchSpec>, string][] = [
    ['bad signature', { rogueKey: true }, 'signature'],
    ['unknown kid', { kid: 'not-published' }, 'kid'],
    ['wrong aud', { mutate: (c) => { c.aud = 'someone-else'; } }, 'aud'],
    ['expired', { mutate: (c) => { c.exp = now - 600; c.iat = now - 900; } }, 'exp'],
    ['mismatched state', { state: 'forged-state-value' }, 'state'],
    ['unregistered deployment', { mutate: (c) => { c['https://purl.imsglobal.org/spec/lti/claim/deployment_id'] = 'dep-unknown'; } }, 'deployment_id'],
    ['wrong message type', { mutate: (c) => { c['https://purl.imsglobal.org/spec/lti/claim/message_type'] = 'LtiSubmissionReviewRequest'; } }, 'message_type'],
    ['wrong version', { mutate: (c) => { c['https://purl.imsglobal.org/spec/lti/claim/version'] = '1.1'; } }, 'version'],
    ['missing roles claim', { mutate: (c) => { delete c['https://purl.imsglobal.org/spec/lti/claim/roles']; } }, 'roles'],
    ['issued in the future', { mutate: (c) => { c.iat = now + 3600; c.exp = now + 7200; } }, 'iat'],
    ['several audiences without azp', { mutate: (c) => { c.aud = [lms.clientId, 'other']; } }, 'azp'],
  ];
  for (const [what, spec, check] of cases) {
    const before = ts.logs.length;
    const { launch } = await lms.launch({ user: ada, ...spec });
    t.ok(launch.status >= 400 && launch.status < 500, `${what}: ${launch.status} is a 4xx`);
    t.equal(launch.headers.get('location'), null, `${what}: no redirect into the class`);
    t.match(await launch.text(), `lti-${check}`, `${what}: the page names the check`);
    t.ok(ts.logs.slice(before).some((l) => l.includes('lti launch refused') && l.includes(check)), `${what}: the log names the check`);
  }
});

t.test('a replayed id_token is refused', async (t) => {
  const first = await lms.launch({ user: ada });
  t.equal(first.launch.status, 303);
  // Same token again, with the same state (already used) and with a fresh login's state (other nonce).
  const sameState = await lms.post(`${ts.base}/lti/launch`, { id_token: first.idToken, state: first.state });
  t.equal(sameState.status, 400);
  t.match(await sameState.text(), 'lti-state');
  const fresh = await fetch(lms.loginUrl(ada.sub), { redirect: 'manual' });
  const state = new URL(fresh.headers.get('location')!).searchParams.get('state')!;
  const replay = await lms.post(`${ts.base}/lti/launch`, { id_token: first.idToken, state });
  t.equal(replay.status, 401);
  t.match(await replay.text(), 'lti-nonce');
});

t.test('an unknown kid makes the tool fetch the JWKS again, once', async (t) => {
  const before = lms.jwksFetches;
  await lms.launch({ user: ada, kid: 'rotated-away' });
  t.ok(lms.jwksFetches - before <= 1, `${lms.jwksFetches - before} refetch`);
  const ok = await lms.launch({ user: ada });
  t.equal(ok.launch.status, 303, 'the cached key still verifies');
});

t.test('a learner cannot use the studio actions', async (t) => {
  const { launch } = await lms.launch({ user: ada });
  const to = new URL(launch.headers.get('location')!, ts.base);
  const slug = to.pathname.split('/')[2]!;
  const auth = { Authorization: `Bearer ${to.searchParams.get('token')}` };
  t.equal((await fetch(`${ts.base}/api/channels/${slug}/stream-key`, { method: 'POST', headers: auth, body: '' })).status, 401);
  t.equal((await fetch(`${ts.base}/api/channels/${slug}/health`, { headers: auth })).status, 401);
  const sched = await fetch(`${ts.base}/api/channels/${slug}/classes`, { method: 'POST', headers: auth, body: JSON.stringify({ title: 'x', startsAt: new Date(Date.now() + 60000).toISOString(), minutes: 30 }) });
  t.equal(sched.status, 401, 'scheduling needs an instructor');
});

t.test('private playback: HLS needs this channel\'s playback token', async (t) => {
  const { launch } = await lms.launch({ user: ada });
  const to = new URL(launch.headers.get('location')!, ts.base);
  const slug = to.pathname.split('/')[2]!;
  const other = ts.createChannel('other-class', { public: false });
  void other;
  t.equal((await ts.get(`/hls/${slug}/master.m3u8`)).status, 403, 'no token');
  const play = await (await fetch(`${ts.base}/api/channels/${slug}/playback`, { headers: { Authorization: `Bearer ${to.searchParams.get('token')}` } })).json() as { url: string };
  const pt = new URL(play.url, ts.base).searchParams.get('pt')!;
  t.ok(pt, 'the playback answer carries a token');
  t.equal((await ts.get(`/hls/${slug}/master.m3u8?pt=${encodeURIComponent(pt)}`)).status, 404, 'with the token the request passes (nothing is live yet)');
  t.equal((await ts.get(`/hls/other-class/master.m3u8?pt=${encodeURIComponent(pt)}`)).status, 403, 'another class\'s token');
  t.equal((await ts.get(`/hls/${slug}/master.m3u8?pt=${encodeURIComponent(pt.slice(0, -2))}xx`)).status, 403, 'a forged token');
  t.equal((await fetch(`${ts.base}/api/channels/${slug}/playback`)).status, 401, 'no join token, no playback token');
});

t.test('HEAD on the pages answers like GET without a body', async (t) => {
  ts.createChannel('heady');
  for (const p of ['/watch/heady', '/studio/heady']) {
    const r = await fetch(ts.base + p, { method: 'HEAD' });
    t.equal(r.status, 200, p);
    t.match(r.headers.get('content-type'), 'text/html');
    t.equal((await r.text()).length, 0);
  }
  t.equal((await fetch(`${ts.base}/watch/nope`, { method: 'HEAD' })).status, 404);
});

t.test('the pages may be framed by the registered LMS', async (t) => {
  ts.createChannel('framed');
  const csp = (await ts.get('/watch/framed')).headers.get('content-security-policy') ?? '';
  t.match(csp, new RegExp(`frame-ancestors 'self' ${lms.base.replace(/[.]/g, '\\.')}`));
});

t.test('deep linking: an instructor schedules a class and the LMS gets a signed resource link with a line item', async (t) => {
  const { launch } = await lms.launch({ user: prof, messageType: 'LtiDeepLinkingRequest' });
  t.equal(launch.status, 200);
  const html = await launch.text();
  t.match(html, 'Add a live class to Biology 42');
  const ctx = /name="ctx" value="([^"]+)"/.exec(html)![1]!;
  const starts = new Date(Date.now() + 3600_000);
  const local = starts.toISOString().slice(0, 16);
  const picked = await lms.post(`${ts.base}/lti/deep-link`, { ctx, class: 'new', title: 'Cell division', startsAt: local, tzOffsetMinutes: '0', minutes: '45', record: 'on' });
  t.equal(picked.status, 200);
  const page = await picked.text();
  t.match(page, `action="${lms.base}/deep-link-return"`);
  t.match(picked.headers.get('content-security-policy'), `form-action ${lms.base}`, 'the form may post to the LMS');
  const jwt = /name="JWT" value="([^"]+)"/.exec(page)![1]!;
  const { payload, protectedHeader } = await jwtVerify(jwt, createRemoteJWKSet(new URL(`${ts.base}/lti/jwks`)), { issuer: lms.clientId, audience: lms.issuer });
  t.equal(protectedHeader.alg, 'RS256');
  t.equal(payload['https://purl.imsglobal.org/spec/lti/claim/message_type'], 'LtiDeepLinkingResponse');
  t.equal(payload['https://purl.imsglobal.org/spec/lti/claim/deployment_id'], lms.deploymentId);
  t.equal(payload['https://purl.imsglobal.org/spec/lti-dl/claim/data'], 'opaque-platform-data');
  const items = payload['https://purl.imsglobal.org/spec/lti-dl/claim/content_items'] as Record<string, unknown>[];
  t.equal(items.length, 1);
  t.match(items[0], { type: 'ltiResourceLink', title: 'Cell division', url: `${ts.base}/lti/launch`, custom: { kmk_class: /^\d+$/ }, lineItem: { scoreMaximum: 100, resourceId: /^kmk-class-\d+$/ } });
  const k = ts.server.store.classes.get(Number((items[0]!.custom as { kmk_class: string }).kmk_class));
  t.match(k, { title: 'Cell division', minutes: 45, record: true, confirmed: false }, 'not confirmed until the LMS launches it');
  t.equal(Math.round(k.startsAt / 60000), Math.round(new Date(local + 'Z').getTime() / 60000), 'the start time as typed, in the browser\'s zone');

  // A learner opening that link lands on the class's waiting page.
  const l = await lms.launch({ user: ada, custom: { kmk_class: String(k.id) }, resourceLinkId: 'link-dl' });
  t.match(new URL(l.launch.headers.get('location')!, ts.base).searchParams.get('class'), String(k.id));
  t.equal(ts.server.store.classes.get(k.id).confirmed, true, 'the first launch that names it confirms it');
  const learnerDl = await lms.launch({ user: ada, messageType: 'LtiDeepLinkingRequest' });
  t.equal(learnerDl.launch.status, 403, 'learners cannot add classes');
  const expired = await lms.post(`${ts.base}/lti/deep-link`, { ctx: ctx.slice(0, -3) + 'abc', class: 'new' });
  t.equal(expired.status, 400, 'a tampered picker context');
});

t.test('platforms are registered from the CLI and the REST API', async (t) => {
  const dir = testdir(t);
  const add = cli(dir, ['lti', 'platform', 'add', '--issuer', 'https://canvas.school.example', '--client-id', '10000000000042',
    '--auth-url', 'https://sso.canvaslms.com/api/lti/authorize_redirect', '--token-url', 'https://sso.canvaslms.com/login/oauth2/token',
    '--jwks-url', 'https://sso.canvaslms.com/api/lti/security/jwks', '--deployment-id', 'd1', '--deployment-id', 'd2']);
  t.equal(add.code, 0, add.stderr);
  t.match(add.stdout, 'Platform 1 registered');
  const list = cliJson<{ id: number; issuer: string; deploymentIds: string[] }[]>(dir, ['lti', 'platform', 'list']);
  t.match(list, [{ id: 1, issuer: 'https://canvas.school.example', deploymentIds: ['d1', 'd2'] }]);
  t.match(cli(dir, ['lti', 'platform', 'show', '1']).stdout, 'https://sso.canvaslms.com/api/lti/security/jwks');
  const bad = cli(dir, ['lti', 'platform', 'add', '--issuer', 'x', '--client-id', 'c', '--auth-url', 'http://a.example', '--token-url', 'y', '--jwks-url', 'z']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /issuer|authUrl/);
  t.equal(cli(dir, ['lti', 'platform', 'remove', '9']).code, 2);
  t.equal(cli(dir, ['lti', 'platform', 'remove', '1']).code, 0);
  t.same(cliJson(dir, ['lti', 'platform', 'list']), []);

  const admin = ts.server.store.apiTokens.create('ops', ['admin']).token;
  const reader = ts.server.store.apiTokens.create('reader', ['sessions:read']).token;
  const body = JSON.stringify({ issuer: 'https://moodle.school.example', clientId: 'abc', authUrl: 'https://moodle.school.example/mod/lti/auth.php',
    tokenUrl: 'https://moodle.school.example/mod/lti/token.php', jwksUrl: 'https://moodle.school.example/mod/lti/certs.php', deploymentIds: ['3'] });
  t.equal((await fetch(`${ts.base}/api/lti/platforms`, { method: 'POST', body, headers: { Authorization: `Bearer ${reader}` } })).status, 403);
  const created = await fetch(`${ts.base}/api/lti/platforms`, { method: 'POST', body, headers: { Authorization: `Bearer ${admin}` } });
  t.equal(created.status, 201);
  const p = await created.json() as { id: number };
  t.equal((await fetch(`${ts.base}/api/lti/platforms`, { method: 'POST', body, headers: { Authorization: `Bearer ${admin}` } })).status, 409);
  t.equal((await fetch(`${ts.base}/api/lti/platforms`, { method: 'POST', body: '{"issuer":1}', headers: { Authorization: `Bearer ${admin}` } })).status, 400);
  t.equal((await fetch(`${ts.base}/api/lti/platforms/${p.id}`, { headers: { Authorization: `Bearer ${admin}` } })).status, 200);
  t.equal((await fetch(`${ts.base}/api/lti/platforms/${p.id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${admin}` } })).status, 204);
  t.equal((await fetch(`${ts.base}/api/lti/platforms/${p.id}`, { headers: { Authorization: `Bearer ${admin}` } })).status, 404);
});

t.test('tool keys rotate; the old key stays in the JWKS', async (t) => {
  const dir = testdir(t);
  t.equal(cli(dir, ['lti', 'keys', 'rotate']).code, 0);
  const r = cli(dir, ['lti', 'keys', 'rotate']);
  t.equal(r.code, 0);
  const keys = cliJson<{ kid: string; retiredAt: string | null; published: boolean }[]>(dir, ['lti', 'keys', 'list']);
  t.equal(keys.length, 2);
  t.equal(keys.filter((k) => k.retiredAt === null).length, 1, 'one active key');
  t.ok(keys.every((k) => k.published), 'the retired key is still published');
});
