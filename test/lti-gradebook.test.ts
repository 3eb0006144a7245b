// What a real Moodle showed: an activity added without deep linking carries its own gradebook column (the launch's
// line item). The class's attendance goes into that column, not into a second "Attendance: <class>" column. Real
// server, real push, the local LTI platform.

import t from 'tap';
import { FakePlatform, ROLE } from './helpers/lti-platform.js';
import { push, startTestServer, waitFor } from './helpers/server.js';
import { Client } from './helpers/ws.js';
import { courseScore } from '../src/reports/attendance.js';
import { testdir } from './helpers/testdir.js';

t.test('the course score of an activity column: the average share of the delivered classes', async (t) => {
  t.same(courseScore([1, 0.5, 0], 50), { scoreGiven: 50, scoreMaximum: 100, comment: 'Came to 2 of 3 classes (50% of class time on average).' });
  t.same(courseScore([0.8], 50), { scoreGiven: 80, scoreMaximum: 100, comment: 'Came to 1 of 1 class (80% of class time on average).' });
  t.match(courseScore([], 50), { scoreGiven: 0, comment: /0 of 0 classes/ });
});

t.test('an activity added without deep linking gets the attendance in its own column, and no second one', async (t) => {
  const lms = await FakePlatform.start();
  t.teardown(() => lms.stop());
  const prof = { sub: 'u-prof', name: 'Prof', roles: [ROLE.instructor] };
  const ada = { sub: 'u-ada', name: 'Ada', roles: [ROLE.learner] };
  const cy = { sub: 'u-cy', name: 'Cy', roles: [ROLE.learner] };
  lms.members.push(prof, ada, cy);
  const ts = await startTestServer(testdir(t), { KMK_INGEST_RECONNECT_GRACE_SECONDS: '1' });
  t.teardown(() => ts.server.stop());
  lms.toolBase = ts.base;
  ts.server.store.lti.addPlatform({ issuer: lms.issuer, clientId: lms.clientId, ...lms.urls, deploymentIds: [lms.deploymentId] });
  // Moodle's "Live class (KMK)" activity: its launches name its own column.
  const column = `${lms.base}/lineitems/77`;
  const inst = new URL((await lms.launch({ user: prof, lineItem: column, resourceLinkId: 'activity-1' })).launch.headers.get('location')!, ts.base);
  const slug = inst.pathname.split('/')[2]!;
  const made = await fetch(`${ts.base}/api/channels/${slug}/classes`, {
    method: 'POST', headers: { Authorization: `Bearer ${inst.searchParams.get('token')}` },
    body: JSON.stringify({ title: 'Osmosis', startsAt: new Date(Date.now() + 60_000).toISOString(), minutes: 30 }),
  });
  t.equal(made.status, 201);
  const learner = new URL((await lms.launch({ user: ada, lineItem: column, resourceLinkId: 'activity-1' })).launch.headers.get('location')!, ts.base);
  const ws = await Client.connect(`ws://127.0.0.1:${ts.server.httpPort}/ws?token=${learner.searchParams.get('token')}`);
  t.teardown(() => ws.close());
  await ws.waitFor('welcome', () => ws.messages.find((m) => m.t === 'welcome'));

  const ch = ts.server.store.channels.get(slug);
  const pub = push(ts.rtmp(ts.server.store.streamKeys.rotate(ch.id).key), { seconds: 8, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  await pub.done;
  await waitFor('two scores', () => lms.scores.length >= 2, 40000);
  await new Promise((r) => setTimeout(r, 1500)); // nothing more arrives
  t.same(lms.lineItems, [], 'no column was created');
  t.same([...new Set(lms.scores.map((s) => s.lineItem))], [column], 'every score went into the activity\'s own column');
  const by = Object.fromEntries(lms.scores.map((s) => [s.body.userId, s.body])) as Record<string, { scoreGiven: number; comment: string }>;
  t.same(Object.keys(by).sort(), ['u-ada', 'u-cy'], 'one score per learner');
  t.ok(by['u-ada']!.scoreGiven > 50, `Ada came (${by['u-ada']!.scoreGiven}%)`);
  t.match(by['u-ada']!.comment, /^Came to 1 of 1 class/);
  t.equal(by['u-cy']!.scoreGiven, 0, 'Cy never came');
  t.match(by['u-cy']!.comment, /^Came to 0 of 1 class/);
});
