// The audience a class expects (for the top rung's decision), from a real SQLite store: the course roster first,
// else the peak of the channel's last classes, else nothing known.
import t from 'tap';
import { join } from 'node:path';
import { asStore, openStore } from '../src/store/index.js';
import { expectedAudience, expectedMinutes, DEFAULT_CLASS_MINUTES } from '../src/classes/audience.js';
import { sessionReport } from '../src/reports/service.js';
import { testdir } from './helpers/testdir.js';

t.test('roster, past classes, nothing', async (t) => {
  const sqlite = openStore(join(testdir(t), 'kmk.db'));
  const store = asStore(sqlite);
  t.teardown(() => store.close());
  const plain = sqlite.channels.create({ slug: 'open-1', title: 'Open', ladder: ['720p'], latency: 'standard', record: true, archive: false, overflow: 'degrade' });
  t.same(await expectedAudience(store, plain, Date.now()), { audience: 0, audienceFrom: 'none' }, 'a new channel: nothing known');

  // Two past classes with 3 and 5 learners at once.
  for (const n of [3, 5]) {
    const s = sqlite.sessions.start(plain.id, true);
    const t0 = Date.parse(s.startedAt);
    sqlite.engagement.apply(Array.from({ length: n }, (_, i) => ({ op: 'attend' as const, key: `${s.id}:${i}`, userId: `u${i}`, name: `L${i}`, role: 'learner' as const, sessionId: s.id, at: t0, channelId: plain.id })));
    await new Promise((r) => setTimeout(r, 20)); // a class of some length: the report counts viewers over it
    sqlite.sessions.end(s.id, 'done');
  }
  t.same(await expectedAudience(store, plain, Date.now()), { audience: 5, audienceFrom: 'past classes' });

  const course = sqlite.classes.createCourse('Biology', plain.id);
  const member = (i: number, active = true, role = 'learner') => ({ userId: `lti1:${i}`, ltiSub: String(i), name: `M${i}`, email: null, role, active });
  sqlite.classes.replaceRoster(course.id, [member(1), member(2), member(3, false), member(4, true, 'instructor'), ...Array.from({ length: 40 }, (_, i) => member(10 + i))], Date.now());
  t.same(await expectedAudience(store, plain, Date.now()), { audience: 42, audienceFrom: 'roster' }, 'active learners on the roster come first');

  const now = Date.parse('2026-12-04T10:05:00Z');
  const k = sqlite.classes.schedule({ courseId: course.id, channelId: plain.id, title: 'Cells', startsAt: Date.parse('2026-12-04T10:00:00Z'), minutes: 90, record: true, archive: false });
  t.equal(expectedMinutes(sqlite.read.classesOf(plain.id), now), 90, 'the scheduled class in its window gives the length');
  t.equal(expectedMinutes(sqlite.read.classesOf(plain.id), now + 86400_000), DEFAULT_CLASS_MINUTES, 'none scheduled now: an hour');
  t.ok(k.id > 0);
});

t.test('the top rung decision is kept with the session and shown in its report', async (t) => {
  const sqlite = openStore(join(testdir(t), 'kmk.db'));
  const store = asStore(sqlite);
  t.teardown(() => store.close());
  const c = sqlite.channels.create({ slug: 'bio', title: 'Bio', ladder: ['720p'], latency: 'standard', record: true, archive: false, overflow: 'degrade' });
  const s = store.sessions.start(c.id, true);
  const why = 'top rung encoded: 42 learners expected (roster) × 60 min: encoding saves 33.1 GB ($2.81 at $0.085/GB) for $0.028 of CPU (0.69 core)';
  store.sessions.setSource(s.id, { codec: 'h264', width: 1280, height: 720, fps: 30, audioCodec: 'aac' }, ['720p'], why);
  t.equal((await store.sessions.get(s.id)).topRung, why);
  t.equal((await sessionReport(store, s.id, Date.now()))?.session.topRung, why);
  const other = store.sessions.start(c.id, true);
  store.sessions.setSource(other.id, { codec: 'h264', width: 1280, height: 720, fps: 30, audioCodec: 'aac' }, ['720p']);
  t.equal((await store.sessions.get(other.id)).topRung, null, 'not decided: null');
});
