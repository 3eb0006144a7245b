// LTI as an attacker would try it. A launch is bound to the browser that started its login (login CSRF): over
// HTTPS by a partitioned cookie, in an LMS frame by the platform's postMessage storage, confirmed by the server.
// The browser's side is carried by hand here (cookies and the storage value as a browser would hold them);
// test/lti-browser.test.ts runs the storage path in real Chromium. And service URLs an id_token names get the
// platform's access token only on the platform's own hosts.

import t from 'tap';
import { createServer } from 'node:http';
import { FakePlatform, ROLE } from './helpers/lti-platform.js';
import { PlatformServices } from '../src/lti/services.js';
import { serviceUrlRefusal } from '../src/lti/platforms.js';
import { freePort, startTestServer, type TestServer } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

const lms = await FakePlatform.start();
t.teardown(() => lms.stop());

/** A server whose public URL is HTTPS (a TLS front would serve it); the test talks to it over loopback HTTP. */
async function httpsServer(dir: string, env: Record<string, string> = {}): Promise<{ ts: TestServer; publicBase: string }> {
  const port = await freePort();
  const publicBase = `https://127.0.0.1:${port}`;
  const ts = await startTestServer(dir, { KMK_HTTP_PORT: String(port), KMK_PUBLIC_URL: publicBase, ...env });
  ts.server.store.lti.addPlatform({ issuer: lms.issuer, clientId: lms.clientId, ...lms.urls, deploymentIds: [lms.deploymentId] });
  return { ts, publicBase };
}

interface Login { state: string; nonce: string; cookie?: string; setCookie: string; body: string; status: number; next?: string }

async function login(ts: TestServer, publicBase: string, hint: string, extra: Record<string, string> = {}): Promise<Login> {
  const q = new URLSearchParams({ iss: lms.issuer, login_hint: hint, target_link_uri: `${publicBase}/lti/launch`, client_id: lms.clientId, lti_deployment_id: lms.deploymentId, ...extra });
  const r = await fetch(`${ts.base}/lti/login?${q}`, { redirect: 'manual' });
  const body = await r.text();
  const next = r.headers.get('location') ?? /data-next="([^"]+)"/.exec(body)?.[1]?.replace(/&#(\d+);/g, (_m: string, n: string) => String.fromCharCode(Number(n)));
  const auth = new URL(next!);
  const setCookie = r.headers.get('set-cookie') ?? '';
  return { state: auth.searchParams.get('state')!, nonce: auth.searchParams.get('nonce')!, setCookie, cookie: setCookie.split(';')[0] || undefined, body, status: r.status, next };
}

async function launch(ts: TestServer, l: Login, cookie?: string, mutate?: (c: Record<string, unknown>) => void): Promise<Response> {
  const spec = { user: { sub: 'u-ada', name: 'Ada Lovelace', roles: [ROLE.learner] }, mutate };
  const idToken = await lms.idToken(spec, l.nonce);
  return fetch(`${ts.base}/lti/launch`, {
    method: 'POST', redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...(cookie ? { Cookie: cookie } : {}) },
    body: new URLSearchParams({ id_token: idToken, state: l.state }),
  });
}

t.test('over HTTPS the login sets a partitioned cookie and the launch needs it', async (t) => {
  const { ts, publicBase } = await httpsServer(testdir(t));
  t.teardown(() => ts.server.stop());
  const a = await login(ts, publicBase, 'u-ada');
  t.equal(a.status, 302);
  t.match(a.setCookie, new RegExp(`^kmk_lti_${a.state.slice(0, 16).replace(/[-]/g, '\\-')}=[A-Za-z0-9_-]{32}; `));
  for (const attr of ['Path=/lti/launch', 'Max-Age=600', 'HttpOnly', 'Secure', 'SameSite=None', 'Partitioned']) t.match(a.setCookie, attr, `the cookie is ${attr}`);

  const ok = await launch(ts, a, a.cookie);
  t.equal(ok.status, 303, 'the launch with its cookie goes on');
  t.match(ok.headers.get('location'), /^\/watch\/[a-z0-9-]+\?token=/);
  t.match(ok.headers.get('set-cookie'), /Max-Age=0/, 'and the cookie is cleared');

  // Login CSRF: the attacker's login, the victim's browser (which has no cookie for it, or another login's).
  const b = await login(ts, publicBase, 'u-ada');
  const mallory = await login(ts, publicBase, 'u-ada');
  const wrong = await launch(ts, mallory, `${mallory.cookie!.split('=')[0]}=${b.cookie!.split('=')[1]}`);
  t.equal(wrong.status, 401, 'a cookie of this name with another login\'s value is refused');
  t.match(await wrong.text(), /did not start in this browser/);
  const none = await launch(ts, b);
  t.equal(none.status, 401, 'no cookie and no platform storage: refused over HTTPS');
  t.match(await none.text(), /lti-binding/, 'with the check named for the administrator');
  const courses = ts.server.store.classes.courses().length;
  t.equal(courses, 1, 'a refused launch created nothing (only the first launch made the course)');
});

t.test('in an LMS frame the platform storage binds the launch, confirmed by the server', async (t) => {
  const { ts, publicBase } = await httpsServer(testdir(t));
  t.teardown(() => ts.server.stop());
  const a = await login(ts, publicBase, 'u-ada', { lti_storage_target: '_parent' });
  t.equal(a.status, 200, 'the login answers the page that writes to the platform storage');
  const value = /data-value="([^"]+)"/.exec(a.body)?.[1];
  t.match(value, /^[A-Za-z0-9_-]{32}$/, 'it stores a binding, not the state');
  t.not(value, a.state);
  // The browser's cookie is blocked in the frame (Safari): the launch asks the storage instead.
  const hop = await launch(ts, a);
  t.equal(hop.status, 200);
  const html = await hop.text();
  t.match(html, /data-action="get"/);
  t.notMatch(html, /token=/, 'the page holds nothing a forged launch could use');
  const next = /data-next="([^"]+)"/.exec(html)![1]!.replace(/&#(\d+);/g, (_m: string, n: string) => String.fromCharCode(Number(n)));
  t.match(next, /^\/lti\/continue\?ticket=[A-Za-z0-9_-]+$/);
  const bad = await fetch(`${ts.base}${next}&proof=nope`, { redirect: 'manual' });
  t.equal(bad.status, 401, 'a browser whose platform storage lacks the binding is refused');
  t.equal((await fetch(`${ts.base}${next}&proof=${value}`, { redirect: 'manual' })).status, 400, 'and a ticket is good for one try');

  const b = await login(ts, publicBase, 'u-ada', { lti_storage_target: '_parent' });
  const bValue = /data-value="([^"]+)"/.exec(b.body)![1]!;
  const bNext = /data-next="([^"]+)"/.exec(await (await launch(ts, b)).text())![1]!.replace(/&#(\d+);/g, (_m: string, n: string) => String.fromCharCode(Number(n)));
  const good = await fetch(`${ts.base}${bNext}&proof=${bValue}`, { redirect: 'manual' });
  t.equal(good.status, 303, 'the right binding from the storage goes on');
  t.match(good.headers.get('location'), /^\/watch\/[a-z0-9-]+\?token=/);
});

t.test('lti.requireBrowserBinding off lets an unbound HTTPS launch through', async (t) => {
  const { ts, publicBase } = await httpsServer(testdir(t), { KMK_LTI_REQUIRE_BROWSER_BINDING: 'false' });
  t.teardown(() => ts.server.stop());
  const a = await login(ts, publicBase, 'u-ada');
  t.equal((await launch(ts, a)).status, 303);
  t.match(ts.logs.join(''), /lti launch not bound to the browser/);
});

t.test('service URLs are called only on the platform\'s own hosts, over https', async (t) => {
  const p = { issuer: 'https://canvas.instructure.com', authUrl: 'https://sso.canvaslms.com/a', tokenUrl: 'https://sso.canvaslms.com/t', jwksUrl: 'https://sso.canvaslms.com/j', serviceHosts: ['learn.school.edu'] };
  t.equal(serviceUrlRefusal(p, 'https://school.instructure.com/api/lti/courses/1/names_and_roles'), null, 'a school\'s host beside the cloud issuer');
  t.equal(serviceUrlRefusal({ ...p, issuer: 'https://blackboard.com' }, 'https://school.blackboard.com/x'), null, 'a subdomain of the issuer');
  t.match(serviceUrlRefusal({ ...p, issuer: 'https://moodle.co.uk' }, 'https://evil.co.uk/x'), /not a host/, 'never a whole public suffix');
  t.equal(serviceUrlRefusal(p, 'https://sso.canvaslms.com/x'), null, 'a registration host');
  t.equal(serviceUrlRefusal(p, 'https://learn.school.edu/learn/api/v1/lti/courses/1/lineitems'), null, 'a listed service host');
  t.match(serviceUrlRefusal(p, 'http://school.instructure.com/x'), 'not https');
  t.match(serviceUrlRefusal(p, 'https://evil.example/x'), /evil\.example is not a host of this platform's registration.*service-host/);
  t.match(serviceUrlRefusal(p, 'https://instructure.com.evil.example/x'), /not a host/, 'a look-alike suffix is no subdomain');
  t.match(serviceUrlRefusal(p, 'https://u:p@school.instructure.com/x'), 'credentials');
  t.match(serviceUrlRefusal(p, 'http://127.0.0.1:9/x'), 'not https', 'loopback only where the registration itself is on loopback');

  // A real launch naming a roster URL on another host: the tool keeps nothing of it and never calls it.
  let evilCalls = 0;
  const evil = createServer((_q, r) => { evilCalls += 1; r.end('{}'); });
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
  t.teardown(() => evil.close());
  const evilUrl = `http://localhost:${(evil.address() as { port: number }).port}/nrps`;
  const port = await freePort();
  const ts = await startTestServer(testdir(t), { KMK_HTTP_PORT: String(port), KMK_PUBLIC_URL: `http://127.0.0.1:${port}` });
  t.teardown(() => ts.server.stop());
  const platform = ts.server.store.lti.addPlatform({ issuer: lms.issuer, clientId: lms.clientId, ...lms.urls, deploymentIds: [lms.deploymentId] });
  const l = await login(ts, `http://127.0.0.1:${port}`, 'u-ada');
  const r = await launch(ts, l, undefined, (c) => {
    c['https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice'] = { context_memberships_url: evilUrl, service_versions: ['2.0'] };
  });
  t.equal(r.status, 303, 'the learner still gets in');
  t.equal(ts.server.store.classes.courses()[0]!.nrpsUrl, null, 'the foreign roster URL is not kept');
  t.match(ts.logs.join(''), /names a service URL the tool will not call/);
  // And the service layer refuses it outright, before any request (even with a token at hand).
  const services = new PlatformServices({ sign: async () => 'x' } as never);
  await t.rejects(services.members(platform, evilUrl, 'scope'), { message: /refusing to call/, status: 400 });
  t.equal(evilCalls, 0, 'the foreign host never saw a request');
});
