// How many learners a class expects, for the top rung's pass-or-encode decision (transcode/top-rung.ts): the
// active learners on its LMS course's roster, else the largest audience of the channel's last five classes.

import type { Channel } from '../domain/channel.js';
import type { Expectation } from '../live/admission.js';
import { sessionReport, type ReportStore } from '../reports/service.js';
import type { ClassRepository, SessionRepository } from '../store/ports.js';
import { classForNewSession } from './resolve.js';
import type { ScheduledClass } from '../domain/records.js';

export interface AudienceStore extends ReportStore {
  classes: ReportStore['classes'] & Pick<ClassRepository, 'courses'>;
  sessions: ReportStore['sessions'] & Pick<SessionRepository, 'list'>;
}

/** Minutes a class without a scheduled length is priced for. */
export const DEFAULT_CLASS_MINUTES = 60;

export async function expectedAudience(store: AudienceStore, channel: Pick<Channel, 'id' | 'slug'>, now: number): Promise<Pick<Expectation, 'audience' | 'audienceFrom'>> {
  const course = (await store.classes.courses()).find((c) => c.channelId === channel.id);
  if (course) {
    const learners = (await store.classes.roster(course.id)).filter((m) => m.role === 'learner' && m.active).length;
    if (learners > 0) return { audience: learners, audienceFrom: 'roster' };
  }
  const past = (await store.sessions.list({ channel: channel.slug, limit: 6 })).filter((s) => s.endedAt !== null).slice(0, 5);
  let peak = 0;
  for (const s of past) peak = Math.max(peak, (await sessionReport(store, s.id, now))?.summary.peakViewers ?? 0);
  return peak > 0 ? { audience: peak, audienceFrom: 'past classes' } : { audience: 0, audienceFrom: 'none' };
}

/** The length of the scheduled class this session delivers, if one is in its window now. */
export function expectedMinutes(classes: readonly ScheduledClass[], now: number): number {
  return classForNewSession(classes, now)?.minutes ?? DEFAULT_CLASS_MINUTES;
}
