// Attendance arithmetic, pure: how long a learner was in a class (join/leave intervals merged, so two devices or
// a reconnect are not counted twice, and clipped to the class), and the score that goes to the gradebook.

import type { Interval } from '../domain/class-records.js';

export type { Interval } from '../domain/class-records.js';

/** Milliseconds covered by the union of the intervals within [from, to). */
export function attendedMs(intervals: readonly Interval[], from: number, to: number): number {
  const clipped = intervals
    .map((i) => [Math.max(i.joinedAt, from), Math.min(i.leftAt ?? to, to)] as const)
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let total = 0;
  let curA = -Infinity;
  let curB = -Infinity;
  for (const [a, b] of clipped) {
    if (a > curB) {
      if (curB > curA) total += curB - curA;
      curA = a;
      curB = b;
    } else if (b > curB) {
      curB = b;
    }
  }
  if (curB > curA) total += curB - curA;
  return total;
}

export type ScoreMode = 'percent' | 'minutes' | 'presence';

export interface Score {
  scoreGiven: number;
  scoreMaximum: number;
  comment: string;
}

/** Both figures in one unit, rounded alike, fine enough to agree with the share: seconds under two minutes (not
 * "1 of 1 min" for 39 s of 55 s), tenths of a minute under ten, whole minutes above. Pure. */
export function spentText(attended: number, length: number): string {
  if (length < 120000) return `${Math.round(attended / 1000)} s of ${Math.max(1, Math.round(length / 1000))} s`;
  if (length < 600000) return `${(attended / 60000).toFixed(1)} of ${(length / 60000).toFixed(1)} min`;
  return `${Math.round(attended / 60000)} of ${Math.round(length / 60000)} min`;
}

/** The gradebook score for attending `attended` ms of a class of `length` ms. */
export function attendanceScore(mode: ScoreMode, attended: number, length: number, presentPercent: number): Score {
  const minutes = Math.round(attended / 60000);
  const total = Math.max(1, Math.round(length / 60000));
  const share = length > 0 ? Math.min(1, attended / length) : 0;
  const pct = Math.round(share * 1000) / 10;
  const spent = spentText(Math.min(attended, length), length);
  const comment = `Attended ${spent} (${pct}%).`;
  switch (mode) {
    case 'percent':
      return { scoreGiven: pct, scoreMaximum: 100, comment };
    case 'minutes':
      return { scoreGiven: Math.min(minutes, total), scoreMaximum: total, comment };
    case 'presence':
      return { scoreGiven: share * 100 >= presentPercent ? 1 : 0, scoreMaximum: 1, comment: `${share * 100 >= presentPercent ? 'Present' : 'Absent'}: ${comment}` };
  }
}

/**
 * One gradebook column for many classes (an LMS activity added without deep linking, launched for every class):
 * the learner's average share of the course's delivered classes, in percent, and how many they came to (at least
 * `presentPercent` of a class). Pure.
 */
export function courseScore(shares: readonly number[], presentPercent: number): Score {
  const n = shares.length;
  const mean = n ? shares.reduce((a, b) => a + Math.min(1, Math.max(0, b)), 0) / n : 0;
  const pct = Math.round(mean * 1000) / 10;
  const came = shares.filter((x) => x * 100 >= presentPercent).length;
  return { scoreGiven: pct, scoreMaximum: 100, comment: `Came to ${came} of ${n} class${n === 1 ? '' : 'es'} (${pct}% of class time on average).` };
}
