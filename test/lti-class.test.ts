// A class from the LMS, end to end with real parts: instructor launch → schedule → learner launches → OBS-like
// push → learners in the hub and on private HLS → class ends while the LMS is down → the server restarts → the
// gradebook gets one attendance score per rostered learner (the absentee too), once each.

import t from 'tap';
import { FakePlatform, ROLE } from './helpers/lti-platform.js';
import { push, startTestServer, waitFor, type TestServer } from './helpers/server.js';
import { Client } from './helpers/ws.js';
import { cliAsync, cliJson } from './helpers/cli.js';
import { testdir } from './helpers/testdir.js';

const prof = { sub: 'u-prof', name: 'Prof. Turing', roles: [ROLE.instructor] };
const ada = { sub: 'u-ada', name: 'Ada Lovelace', roles: [ROLE.learner] };
const bob = { sub: 'u-bob', name: '=HYPERLINK("x")', roles: [ROLE.learner] };
const cy = { sub: 'u-cy', name: 'Cy Absent', roles: [ROLE.learner] };

t.test('attendance from a live class reaches the gradebook once each, even across an LMS outage and a restart', async (t) => {
  const lms = await FakePlatform.start();
  t.teardown(() => lms.stop());
  lms.members.push(prof, ada, bob, cy);
  const dir = testdir(t);
  const env = { KMK_LTI_RETRY_BASE_SECONDS: '1', KMK_INGEST_RECONNECT_GRACE_SECONDS: '1' };
  let ts: TestServer = await startTestServer(dir, env);
  let stopped = false;
  t.teardown(() => (stopped ? undefined : ts.server.stop()));
  lms.toolBase = ts.base;
  ts.server.store.lti.addPlatform({ issuer: lms.issuer, clientId: lms.clientId, ...lms.urls, deploymentIds: [lms.deploymentId] });

  // The instructor opens the tool from the course and schedules today's class from the studio's API.
  const inst = new URL((await lms.launch({ user: prof })).launch.headers.get('location')!, ts.base);
  const slug = inst.pathname.split('/')[2]!;
  const instructorToken = inst.searchParams.get('token')!;
  const made = await fetch(`${ts.base}/api/channels/${slug}/classes`, {
    method: 'POST', headers: { Authorization: `Bearer ${instructorToken}` },
    body: JSON.stringify({ title: 'Mitosis', startsAt: new Date(Date.now() + 60_000).toISOString(), minutes: 30 }),
  });
  t.equal(made.status, 201);
  const cls = await made.json() as { id: number };

  // Learners open it: the waiting page of that class.
  const watchOf = async (user: typeof ada): Promise<URL> => new URL((await lms.launch({ user })).launch.headers.get('location')!, ts.base);
  const adaUrl = await watchOf(ada);
  t.equal(adaUrl.pathname, `/watch/${slug}`);
  t.equal(adaUrl.searchParams.get('class'), String(cls.id), 'the launch resolves to the next class');
  const bobUrl = await watchOf(bob);
  const wsUrl = (u: URL): string => `ws://127.0.0.1:${ts.server.httpPort}/ws?token=${u.searchParams.get('token')}`;
  const adaWs = await Client.connect(wsUrl(adaUrl));
  const bobWs = await Client.connect(wsUrl(bobUrl));
  t.teardown(() => { adaWs.close(); bobWs.close(); });
  await adaWs.waitFor('welcome', () => adaWs.messages.find((m) => m.t === 'welcome'));
  const welcome = adaWs.welcome as { room: { class: { state: string; startsAt: string | null } } };
  t.equal(welcome.room.class.state, 'waiting');
  t.ok(welcome.room.class.startsAt, 'the waiting room knows when the class starts');

  // The instructor goes live (OBS-like push).
  const ch = ts.server.store.channels.get(slug);
  const pub = push(ts.rtmp(ts.server.store.streamKeys.rotate(ch.id).key), { seconds: 16, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  const session = await waitFor('the class to be tied to its session', () => ts.server.store.classes.get(cls.id).sessionId ?? undefined, 30000);
  await adaWs.waitFor('class start', () => adaWs.events.find((e) => e.t === 'class' && e.state === 'live'), 20000);
  adaWs.send({ t: 'chat', text: 'Hello from Ada' });

  // Private HLS: the learner's page gets a playback URL with a token; nothing plays without it.
  const play = await (await fetch(`${ts.base}/api/channels/${slug}/playback`, { headers: { Authorization: `Bearer ${adaUrl.searchParams.get('token')}` } })).json() as { url: string };
  await waitFor('the master playlist', async () => (await ts.get(play.url)).status === 200, 30000);
  const master = await (await ts.get(play.url)).text();
  const variant = master.split('\n').find((l) => l && !l.startsWith('#'))!;
  t.match(variant, /\?pt=/, 'variant URIs carry the playback token');
  const base = play.url.slice(0, play.url.lastIndexOf('/') + 1).split('?')[0];
  t.equal((await ts.get(`${base}${variant}`)).status, 200, 'the variant plays with the token');
  t.equal((await ts.get(`${base}${variant.split('?')[0]}`)).status, 403, 'and not without it');
  ts.createChannel('elsewhere', { public: false });
  t.equal((await ts.get(`/hls/elsewhere/master.m3u8?${play.url.split('?')[1]}`)).status, 403, 'another class\'s token is refused');

  // Bob leaves early; the LMS goes down before the class ends.
  await new Promise((r) => setTimeout(r, 3000));
  bobWs.close();
  lms.down = true;
  await pub.done;
  await waitFor('the session to end', () => ts.server.store.sessions.find(session)?.endedAt ?? undefined, 30000);
  const pending = await waitFor('a failed passback attempt', () => ts.server.store.lti.outbox().find((i) => i.attempts >= 1 && /503/.test(i.lastError ?? '')), 30000);
  t.equal(pending.status, 'pending', 'kept for a retry');
  t.equal(lms.scores.length, 0);
  const shown = cliJson<{ kind: string; status: string }[]>(dir, ['lti', 'outbox'], { KMK_PATHS_DATA: `${dir}/data` });
  t.match(shown, [{ kind: 'passback', status: 'pending' }], 'kmk-live lti outbox shows it');

  // The server restarts; the LMS comes back: the scores arrive.
  await ts.server.stop();
  stopped = true;
  lms.down = false;
  ts = await startTestServer(dir, env);
  stopped = false;
  lms.toolBase = ts.base;
  await waitFor('three scores', () => lms.scores.length >= 3, 30000);
  await new Promise((r) => setTimeout(r, 2500));
  t.equal(lms.scores.length, 3, 'one score per rostered learner, none twice');
  t.equal(lms.lineItems.length, 1, 'one line item for the class');
  t.match(lms.lineItems[0], { resourceId: `kmk-class-${cls.id}`, scoreMaximum: 100 });
  const by = Object.fromEntries(lms.scores.map((s) => [s.body.userId, s.body])) as Record<string, { scoreGiven: number; scoreMaximum: number; activityProgress: string; gradingProgress: string; comment: string; timestamp: string }>;
  t.same(Object.keys(by).sort(), ['u-ada', 'u-bob', 'u-cy'], 'the instructor gets no score');
  t.ok(by['u-ada']!.scoreGiven >= 80, `Ada attended the whole class (${by['u-ada']!.scoreGiven}%)`);
  t.ok(by['u-bob']!.scoreGiven > 5 && by['u-bob']!.scoreGiven < 70, `Bob left early (${by['u-bob']!.scoreGiven}%)`);
  t.equal(by['u-cy']!.scoreGiven, 0, 'Cy never came');
  for (const s of Object.values(by)) {
    t.match(s, { scoreMaximum: 100, activityProgress: 'Completed', gradingProgress: 'FullyGraded', comment: /^Attended \d+ s of \d+ s \(\d+(\.\d)?%\)\.$/ }, 'a class under two minutes is counted in seconds');
    t.ok(Date.parse(s.timestamp) > 0);
  }
  t.ok(lms.tokenRequests.every((r) => r.ok), 'every client assertion verified against /lti/jwks');
  const roster = ts.server.store.classes.roster(ts.server.store.classes.get(cls.id).courseId!);
  t.ok(roster.some((m) => m.ltiSub === 'u-cy' && m.role === 'learner'), 'NRPS: the absentee is on the roster');
  t.equal(ts.server.store.lti.outbox().length, 0, 'nothing left pending');
  t.ok(ts.server.store.classes.get(cls.id).passbackAt, 'the class records its passback');
  lms.members.push({ sub: 'u-dee', name: 'Dee Late', roles: [ROLE.learner] });
  const courseId = String(ts.server.store.classes.get(cls.id).courseId);
  // Asynchronously: the LMS and the server run in this process and must keep answering.
  const run = await cliAsync(dir, ['lti', 'roster', courseId, '--refresh', '--json']);
  t.equal(run.code, 0, run.stderr);
  const fresh = JSON.parse(run.stdout) as { ltiSub: string }[];
  t.ok(fresh.some((m) => m.ltiSub === 'u-dee'), 'the roster can be fetched on demand (kmk-live lti roster --refresh)');
});
