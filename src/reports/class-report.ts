// The report of one class: attendance (roster ∪ who came), engagement, quality of experience, concurrency.
// Pure over the records the caller reads from the store; no clock of its own (`now` ends a class still live).
// QoE names follow Mux Data's: video startup time, rebuffer percentage and count, watch time, playback errors,
// exits before video start.

import { attendedMs } from './attendance.js';
import type { ClassData } from '../domain/class-records.js';
import type { ClassReport, LearnerRow } from '../domain/reports.js';

export type { ClassData } from '../domain/class-records.js';

export const BUCKET_MS = 10_000;
/** Arriving this long after the start is late; leaving this long before the end is early. */
export const GRACE_MS = 5 * 60_000;
/** A learner whose rebuffering passes this share of watch time had a bad experience. */
export const BAD_REBUFFER_PCT = 5;

const round1 = (n: number): number => Math.round(n * 10) / 10;
const iso = (ms: number): string => new Date(ms).toISOString();
const STAFF = new Set(['instructor', 'moderator']);

/** Sum of a cumulative counter over beacons, where a smaller value means the player started again from 0. */
function cumulative(values: number[]): number {
  let total = 0;
  let prev = 0;
  for (const v of values) {
    total += v >= prev ? v - prev : v;
    prev = v;
  }
  return total;
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : Math.round((s[m - 1]! + s[m]!) / 2);
}

export function classReport(d: ClassData): ClassReport {
  const start = d.session.startedAt;
  const end = d.session.endedAt ?? d.now;
  const length = Math.max(0, end - start);
  const audience = d.attendance.filter((a) => !STAFF.has(a.role));
  const learnersSeen = new Map<string, string>();
  for (const a of audience) if (a.role === 'learner' || a.role === 'viewer') learnersSeen.set(a.userId, a.name);
  const people = new Map<string, { name: string; rostered: boolean }>();
  for (const r of d.roster) people.set(r.userId, { name: r.name, rostered: true });
  for (const [id, name] of learnersSeen) if (!people.has(id)) people.set(id, { name, rostered: false });

  const questionOwner = new Map(d.questions.map((q) => [q.id, q.userId]));
  const count = <T>(xs: T[], key: (x: T) => string | undefined): Map<string, number> => {
    const m = new Map<string, number>();
    for (const x of xs) {
      const k = key(x);
      if (k !== undefined) m.set(k, (m.get(k) ?? 0) + 1);
    }
    return m;
  };
  const chatBy = count(d.chat.filter((c) => !c.deleted), (c) => c.userId);
  const questionsBy = count(d.questions, (q) => q.userId);
  const upvotesBy = count(d.questionVotes.filter((v) => questionOwner.has(v.questionId)), (v) => v.userId);
  const pollIds = new Set(d.polls.map((p) => p.id));
  const answersBy = count(d.pollVotes.filter((v) => pollIds.has(v.pollId)), (v) => v.userId);
  const tally = new Map(d.tallies.map((x) => [x.userId, x]));
  const beaconsBy = new Map<string, ClassData['beacons']>();
  for (const b of d.beacons) beaconsBy.set(b.userId, [...(beaconsBy.get(b.userId) ?? []), b]);

  const learners: LearnerRow[] = [...people.entries()].map(([userId, p]) => {
    const mine = audience.filter((a) => a.userId === userId);
    const ms = attendedMs(mine, start, end);
    const joins = mine.map((a) => Math.max(a.joinedAt, start)).filter((x) => x < end);
    const leaves = mine.map((a) => Math.min(a.leftAt ?? end, end)).filter((x) => x > start);
    const firstJoin = joins.length && ms > 0 ? Math.min(...joins) : null;
    const lastLeave = leaves.length && ms > 0 ? Math.max(...leaves) : null;
    const bs = (beaconsBy.get(userId) ?? []).sort((a, b) => a.at - b.at);
    const startups = bs.map((b) => b.startupMs).filter((x): x is number => x !== null);
    const played = bs.reduce((s, b) => s + b.playedMs, 0);
    const rebufferMs = cumulative(bs.map((b) => b.rebufferMs));
    const rebuffers = cumulative(bs.map((b) => b.rebuffers));
    const rebufferPct = played + rebufferMs > 0 ? round1((rebufferMs / (played + rebufferMs)) * 100) : null;
    const t = tally.get(userId);
    const row = {
      chat: chatBy.get(userId) ?? 0, questions: questionsBy.get(userId) ?? 0, upvotes: upvotesBy.get(userId) ?? 0,
      pollAnswers: answersBy.get(userId) ?? 0, reactions: t?.reactions ?? 0, hands: t?.hands ?? 0,
    };
    const came = ms > 0;
    return {
      userId, name: p.name, rostered: p.rostered,
      firstJoin: firstJoin === null ? null : iso(firstJoin), lastLeave: lastLeave === null ? null : iso(lastLeave),
      minutes: round1(ms / 60000), sharePct: length > 0 ? round1((ms / length) * 100) : 0,
      late: firstJoin !== null && firstJoin > start + GRACE_MS,
      leftEarly: lastLeave !== null && d.session.endedAt !== null && lastLeave < end - GRACE_MS,
      neverCame: !came, ...row,
      activity: row.chat + row.questions + row.upvotes + row.pollAnswers + row.reactions + row.hands,
      startupMs: startups.length ? startups[0]! : null, rebufferPct, rebuffers, watchMinutes: round1(played / 60000),
      playbackErrors: bs.reduce((s, b) => s + b.errors.length, 0),
      exitedBeforeStart: came && startups.length === 0,
      badExperience: rebufferPct !== null && rebufferPct > BAD_REBUFFER_PCT,
    };
  }).sort((a, b) => a.name.localeCompare(b.name) || a.userId.localeCompare(b.userId));

  // Concurrency: distinct audience members connected at any time within each 10 s bucket.
  const timeline: ClassReport['timeline'] = [];
  for (let b = start; b < end; b += BUCKET_MS) {
    const e = Math.min(b + BUCKET_MS, end);
    const here = new Set(audience.filter((a) => a.joinedAt < e && (a.leftAt ?? end) > b).map((a) => a.userId));
    timeline.push({ at: iso(b), viewers: here.size });
  }
  const everyone = new Set(audience.map((a) => a.userId));
  const totalMs = [...everyone].reduce((s, id) => s + attendedMs(audience.filter((a) => a.userId === id), start, end), 0);

  const polls = d.polls.map((p) => {
    const votes = d.pollVotes.filter((v) => v.pollId === p.id);
    return {
      id: p.id, question: p.question, closed: p.closed, total: votes.length,
      options: p.options.map((text, i) => {
        const n = votes.filter((v) => v.option === i).length;
        return { text, votes: n, pct: votes.length ? round1((n / votes.length) * 100) : 0 };
      }),
    };
  });
  const perRendition = new Map<string, number>();
  for (const b of d.beacons) if (b.rendition && b.playedMs > 0) perRendition.set(b.rendition, (perRendition.get(b.rendition) ?? 0) + b.playedMs);
  const playedAll = [...perRendition.values()].reduce((s, x) => s + x, 0);
  const renditions = [...perRendition.entries()].sort((a, b) => parseInt(b[0]) - parseInt(a[0]))
    .map(([rendition, ms]) => ({ rendition, minutes: round1(ms / 60000), sharePct: playedAll ? round1((ms / playedAll) * 100) : 0 }));
  const startupsAll = learners.map((l) => l.startupMs).filter((x): x is number => x !== null);
  const buckets: [string, number, number][] = [['< 1 s', 0, 1000], ['1–2 s', 1000, 2000], ['2–4 s', 2000, 4000], ['4–8 s', 4000, 8000], ['≥ 8 s', 8000, Infinity]];
  const came = learners.filter((l) => !l.neverCame);
  const totalPlayed = d.beacons.reduce((s, b) => s + b.playedMs, 0);
  const totalRebuffer = [...beaconsBy.values()].reduce((s, bs) => s + cumulative([...bs].sort((a, b) => a.at - b.at).map((b) => b.rebufferMs)), 0);
  const sum = (k: keyof LearnerRow): number => learners.reduce((s, l) => s + (l[k] as number), 0);
  return {
    session: { id: d.session.id, channel: d.session.channel, start: iso(start), end: d.session.endedAt === null ? null : iso(end), minutes: round1(length / 60000), partial: d.session.endedAt === null },
    summary: {
      rostered: d.roster.length, attended: came.length, neverCame: learners.filter((l) => l.neverCame).length,
      late: learners.filter((l) => l.late).length, leftEarly: learners.filter((l) => l.leftEarly).length,
      peakViewers: Math.max(0, ...timeline.map((x) => x.viewers)), averageViewers: length > 0 ? round1(totalMs / length) : 0,
      audienceMinutes: round1(totalMs / 60000),
      chat: sum('chat'), questions: sum('questions'), upvotes: sum('upvotes'), pollAnswers: sum('pollAnswers'), reactions: sum('reactions'), hands: sum('hands'),
      medianStartupMs: median(startupsAll),
      rebufferPct: totalPlayed + totalRebuffer > 0 ? round1((totalRebuffer / (totalPlayed + totalRebuffer)) * 100) : null,
      playbackErrors: sum('playbackErrors'), exitsBeforeStart: learners.filter((l) => l.exitedBeforeStart).length,
      badExperience: learners.filter((l) => l.badExperience).length,
    },
    timeline, learners, polls, renditions,
    startup: buckets.map(([bucket, lo, hi]) => ({ bucket, count: startupsAll.filter((x) => x >= lo && x < hi).length })),
    mostActive: [...came].filter((l) => l.activity > 0).sort((a, b) => b.activity - a.activity || a.name.localeCompare(b.name)).slice(0, 5).map((l) => l.name),
    silent: came.filter((l) => l.activity === 0).map((l) => l.name),
  };
}
