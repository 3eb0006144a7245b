// The class report on fixed event logs with hand-computed answers: overlapping intervals, reconnects, a learner
// on two devices, late and early, never came, a class with no viewers, a live (partial) class, engagement counts,
// QoE from beacons, and CSV escaping.

import t from 'tap';
import { classReport, type ClassData } from '../src/reports/class-report.js';
import { csvCell, toCsv } from '../src/reports/csv.js';

const T0 = Date.parse('2026-11-25T09:00:00Z');
const min = 60_000;
const at = (m: number): number => T0 + m * min;

function base(): ClassData {
  return {
    session: { id: 's_0000000000000001', channel: 'bio', startedAt: at(0), endedAt: at(60) },
    now: at(120),
    roster: [{ userId: 'ada', name: 'Ada' }, { userId: 'bob', name: 'Bob' }, { userId: 'cy', name: 'Cy' }, { userId: 'dee', name: 'Dee' }],
    attendance: [
      { userId: 'prof', name: 'Prof', role: 'instructor', joinedAt: at(-10), leftAt: at(61) },
      // Ada: in the waiting room before the start, a reconnect at 30 min, and a phone beside the laptop from 20-40.
      { userId: 'ada', name: 'Ada', role: 'learner', joinedAt: at(-5), leftAt: at(30) },
      { userId: 'ada', name: 'Ada', role: 'learner', joinedAt: at(30), leftAt: null },
      { userId: 'ada', name: 'Ada', role: 'learner', joinedAt: at(20), leftAt: at(40) },
      // Bob: 10 minutes late, leaves 20 minutes early.
      { userId: 'bob', name: 'Bob', role: 'learner', joinedAt: at(10), leftAt: at(40) },
      // Cy: arrives 3 minutes in (not late), gone for 10 minutes in the middle.
      { userId: 'cy', name: 'Cy', role: 'learner', joinedAt: at(3), leftAt: at(20) },
      { userId: 'cy', name: 'Cy', role: 'learner', joinedAt: at(30), leftAt: at(60) },
      // Eve: not on the roster (a guest link), 6 minutes.
      { userId: 'eve', name: '=cmd|calc', role: 'learner', joinedAt: at(54), leftAt: at(70) },
    ],
    chat: [{ userId: 'ada', at: at(5), deleted: false }, { userId: 'ada', at: at(6), deleted: true }, { userId: 'bob', at: at(12), deleted: false }, { userId: 'prof', at: at(1), deleted: false }],
    questions: [{ id: 'q1', userId: 'bob' }],
    questionVotes: [{ questionId: 'q1', userId: 'ada' }, { questionId: 'q1', userId: 'cy' }],
    polls: [{ id: 'p1', question: 'Mitosis or meiosis?', options: ['Mitosis', 'Meiosis'], closed: true }],
    pollVotes: [{ pollId: 'p1', userId: 'ada', option: 0 }, { pollId: 'p1', userId: 'bob', option: 0 }, { pollId: 'p1', userId: 'cy', option: 1 }],
    tallies: [{ userId: 'ada', reactions: 4, hands: 1 }],
    beacons: [
      { userId: 'ada', at: at(1), startupMs: 1200, rebuffers: 0, rebufferMs: 0, playedMs: 10000, rendition: '720p', errors: [] },
      { userId: 'ada', at: at(2), startupMs: 1200, rebuffers: 1, rebufferMs: 500, playedMs: 9500, rendition: '720p', errors: [] },
      // A page reload: the counters start again from 0.
      { userId: 'ada', at: at(3), startupMs: 900, rebuffers: 0, rebufferMs: 0, playedMs: 10000, rendition: '480p', errors: ['networkError'] },
      { userId: 'bob', at: at(11), startupMs: 5000, rebuffers: 3, rebufferMs: 3000, playedMs: 7000, rendition: '360p', errors: [] },
      { userId: 'cy', at: at(4), startupMs: null, rebuffers: 0, rebufferMs: 0, playedMs: 0, rendition: null, errors: [] },
    ],
  };
}

t.test('attendance: merged intervals, shares, late, left early, never came, the roster and guests', async (t) => {
  const r = classReport(base());
  const by = Object.fromEntries(r.learners.map((l) => [l.userId, l]));
  t.same(Object.keys(by).sort(), ['ada', 'bob', 'cy', 'dee', 'eve'], 'roster and whoever came; never the instructor');
  t.match(by.ada, { minutes: 60, sharePct: 100, late: false, leftEarly: false, neverCame: false, firstJoin: '2026-11-25T09:00:00.000Z', lastLeave: '2026-11-25T10:00:00.000Z', rostered: true });
  t.match(by.bob, { minutes: 30, sharePct: 50, late: true, leftEarly: true });
  t.match(by.cy, { minutes: 47, sharePct: 78.3, late: false, leftEarly: false });
  t.match(by.dee, { minutes: 0, sharePct: 0, neverCame: true, firstJoin: null, lastLeave: null });
  t.match(by.eve, { minutes: 6, rostered: false, late: true });
  t.match(r.summary, { rostered: 4, attended: 4, neverCame: 1, late: 2, leftEarly: 1 });
  t.equal(r.session.minutes, 60);
  t.equal(r.session.partial, false);
});

t.test('concurrency: 10 s buckets, peak and average', async (t) => {
  const r = classReport(base());
  t.equal(r.timeline.length, 360, 'one bucket per 10 s of a 60 min class');
  t.equal(r.timeline[0]!.viewers, 1, 'at the start: Ada only (the instructor is not an audience member)');
  t.equal(r.timeline[6 * 25]!.viewers, 2, 'at 25 min: Ada and Bob (Cy is away)');
  t.equal(r.timeline[6 * 35]!.viewers, 3, 'at 35 min: Ada, Bob, Cy');
  t.equal(r.timeline[6 * 55]!.viewers, 3, 'at 55 min: Ada, Cy, Eve');
  t.equal(r.summary.peakViewers, 3);
  t.equal(r.summary.averageViewers, 2.4, '(60 + 30 + 47 + 6) min / 60 min');
});

t.test('engagement per learner and per class', async (t) => {
  const r = classReport(base());
  const by = Object.fromEntries(r.learners.map((l) => [l.userId, l]));
  t.match(by.ada, { chat: 1, questions: 0, upvotes: 1, pollAnswers: 1, reactions: 4, hands: 1, activity: 8 }, 'a deleted message does not count');
  t.match(by.bob, { chat: 1, questions: 1, upvotes: 0, pollAnswers: 1, activity: 3 });
  t.match(r.summary, { chat: 2, questions: 1, upvotes: 2, pollAnswers: 3, reactions: 4, hands: 1 }, 'the instructor\'s chat is not a learner\'s');
  t.same(r.polls, [{ id: 'p1', question: 'Mitosis or meiosis?', closed: true, total: 3, options: [{ text: 'Mitosis', votes: 2, pct: 66.7 }, { text: 'Meiosis', votes: 1, pct: 33.3 }] }]);
  t.same(r.mostActive, ['Ada', 'Bob', 'Cy']);
  t.same(r.silent, ['=cmd|calc'], 'came and did nothing');
});

t.test('quality of experience from beacons', async (t) => {
  const r = classReport(base());
  const by = Object.fromEntries(r.learners.map((l) => [l.userId, l]));
  t.match(by.ada, { startupMs: 1200, rebuffers: 1, watchMinutes: 0.5, playbackErrors: 1, rebufferPct: 1.7, badExperience: false }, '500 ms of 29.5 s + 0.5 s');
  t.match(by.bob, { startupMs: 5000, rebuffers: 3, rebufferPct: 30, badExperience: true });
  t.match(by.cy, { startupMs: null, exitedBeforeStart: true, rebufferPct: null });
  t.match(by.dee, { exitedBeforeStart: false }, 'never came is not "left before the video started"');
  const played = 10000 + 9500 + 10000 + 7000;
  t.same(r.renditions.map((x) => x.rendition), ['720p', '480p', '360p'], 'highest first');
  t.equal(r.renditions[0]!.sharePct, Math.round((19500 / played) * 1000) / 10);
  t.equal(r.summary.medianStartupMs, 3100, 'median of 1200 and 5000');
  t.equal(r.summary.rebufferPct, Math.round((3500 / (played + 3500)) * 1000) / 10);
  t.match(r.summary, { playbackErrors: 1, exitsBeforeStart: 2, badExperience: 1 }, 'Cy and Eve never started the video');
  t.same(r.startup.map((b) => b.count), [0, 1, 0, 1, 0]);
});

t.test('a class with nobody, and a class still live', async (t) => {
  const empty = classReport({ ...base(), roster: [], attendance: [], chat: [], questions: [], questionVotes: [], polls: [], pollVotes: [], tallies: [], beacons: [] });
  t.match(empty.summary, { attended: 0, peakViewers: 0, averageViewers: 0, medianStartupMs: null, rebufferPct: null });
  t.same(empty.learners, []);
  const live = classReport({ ...base(), session: { ...base().session, endedAt: null }, now: at(30) });
  t.equal(live.session.partial, true);
  t.equal(live.session.end, null);
  t.equal(live.session.minutes, 30);
  const bob = live.learners.find((l) => l.userId === 'bob')!;
  t.match(bob, { minutes: 20, leftEarly: false }, 'nobody has left early from a class that has not ended');
  const zero = classReport({ ...base(), session: { ...base().session, endedAt: at(0) } });
  t.equal(zero.timeline.length, 0, 'a zero-length class has no buckets');
  t.ok(zero.learners.every((l) => l.sharePct === 0));
});

t.test('clock edges: joins exactly at the start and leaves exactly at the end', async (t) => {
  const d = base();
  d.attendance = [{ userId: 'ada', name: 'Ada', role: 'learner', joinedAt: at(0), leftAt: at(60) }, { userId: 'bob', name: 'Bob', role: 'learner', joinedAt: at(60), leftAt: at(70) }];
  const r = classReport(d);
  t.match(r.learners.find((l) => l.userId === 'ada'), { minutes: 60, late: false, leftEarly: false });
  t.match(r.learners.find((l) => l.userId === 'bob'), { minutes: 0, neverCame: true }, 'joining at the very end is not attending');
  t.equal(r.timeline[r.timeline.length - 1]!.viewers, 1);
});

t.test('CSV: quoting, and formulas defused', async (t) => {
  t.equal(csvCell('plain'), 'plain');
  t.equal(csvCell('a,b'), '"a,b"');
  t.equal(csvCell('say "hi"'), '"say ""hi"""');
  t.equal(csvCell('line\nbreak'), '"line\nbreak"');
  t.equal(csvCell('=HYPERLINK("x")'), '"\'=HYPERLINK(""x"")"');
  t.equal(csvCell('+1'), '"\'+1"');
  t.equal(csvCell('-2+3'), '"\'-2+3"');
  t.equal(csvCell('@SUM(A1)'), '"\'@SUM(A1)"');
  t.equal(csvCell(-2), '-2', 'a negative number stays a number');
  t.equal(csvCell(null), '');
  t.equal(csvCell(true), 'yes');
  t.equal(toCsv(['a', 'b'], [[1, 'x'], [null, '=1']]), 'a,b\r\n1,x\r\n,"\'=1"\r\n');
});
