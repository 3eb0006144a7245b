// Which scheduled class a launch or a live session belongs to. Pure over the class list and the clock.

import type { ScheduledClass } from '../domain/records.js';

/** A class may go live this long before its scheduled start and still count as that class. */
export const EARLY_MS = 30 * 60 * 1000;

const window = (k: ScheduledClass): [number, number] => [k.startsAt - EARLY_MS, k.startsAt + k.minutes * 60000];

/** The class a session starting now delivers: the scheduled one whose window holds now and has no session yet. */
export function classForNewSession(classes: readonly ScheduledClass[], now: number): ScheduledClass | undefined {
  return classes
    .filter((k) => k.status === 'scheduled' && k.sessionId === null && window(k)[0] <= now && now < window(k)[1])
    .sort((a, b) => Math.abs(a.startsAt - now) - Math.abs(b.startsAt - now))[0];
}

/** The channel as a session starting now runs it: a scheduled class decides whether that session is recorded. */
export function channelForSession<C extends { record: boolean }>(channel: C, classes: readonly ScheduledClass[], now: number): C {
  const k = classForNewSession(classes, now);
  return k ? { ...channel, record: k.record } : channel;
}

export type LaunchTarget =
  | { kind: 'now'; cls: ScheduledClass }
  | { kind: 'next'; cls: ScheduledClass }
  | { kind: 'last'; cls: ScheduledClass }
  | { kind: 'none' };

/**
 * What a launch opens: the class running now (or live on its channel), else the next one (waiting page with a
 * countdown), else the last one (its replay). `liveSession` is the session live on the channel now, if any.
 */
export function launchTarget(classes: readonly ScheduledClass[], now: number, liveSession: string | null): LaunchTarget {
  const active = classes.filter((k) => k.status === 'scheduled');
  const live = liveSession ? active.find((k) => k.sessionId === liveSession) : undefined;
  if (live) return { kind: 'now', cls: live };
  const running = active.find((k) => k.sessionId === null && window(k)[0] <= now && now < window(k)[1]);
  if (running) return { kind: 'now', cls: running };
  const next = active.filter((k) => k.startsAt > now && k.sessionId === null).sort((a, b) => a.startsAt - b.startsAt)[0];
  if (next) return { kind: 'next', cls: next };
  const last = active.filter((k) => k.startsAt <= now).sort((a, b) => b.startsAt - a.startsAt)[0];
  return last ? { kind: 'last', cls: last } : { kind: 'none' };
}

/** The next scheduled start on a channel (ISO), for the waiting room. */
export function nextStart(classes: readonly ScheduledClass[], now: number): string | null {
  const next = classes.filter((k) => k.status === 'scheduled' && k.confirmed && k.sessionId === null && k.startsAt + k.minutes * 60000 > now)
    .sort((a, b) => a.startsAt - b.startsAt)[0];
  return next ? new Date(next.startsAt).toISOString() : null;
}

/** Where a class stands, as the CLI, the REST API and the studio all say it. */
export type ClassState = 'scheduled' | 'live' | 'delivered' | 'missed' | 'cancelled';

/** `sessionOpen(id)`: whether that session is still live (undefined when unknown: taken as ended). Pure. */
export function classState(k: ScheduledClass, now: number, sessionOpen: (sessionId: string) => boolean | undefined): ClassState {
  if (k.status === 'cancelled') return 'cancelled';
  if (k.sessionId) return sessionOpen(k.sessionId) ? 'live' : 'delivered';
  return now >= window(k)[1] ? 'missed' : 'scheduled';
}
