// What follows a live session for the scheduled classes and courses: a session that starts in a class's window
// delivers that class; an ended, recorded session is archived when its channel or class asks, and an LMS class's
// attendance goes to the gradebook. Also makes the private channel a new LMS course gets.

import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Channel, EncodeProfile, Latency, Overflow, RungName } from '../domain/channel.js';
import type { ClassRepository } from '../store/ports.js';
import { classForNewSession } from './resolve.js';

export interface FollowDeps {
  channel(slug: string): Pick<Channel, 'id' | 'archive'> | undefined;
  classes: Pick<ClassRepository, 'list' | 'attachSession' | 'bySession' | 'findCourse'>;
  /** Present when Mux archiving is configured. */
  archive?(sessionId: string): Promise<unknown>;
  passback(classId: number): Promise<void>;
  log: Logger;
}

export class ClassFollower {
  constructor(private readonly d: FollowDeps) {}

  async started(e: { channel: string; sessionId: string }, now = Date.now()): Promise<void> {
    const c = this.d.channel(e.channel);
    const k = c && classForNewSession(await this.d.classes.list({ channelId: c.id }), now);
    if (!k) return;
    await this.d.classes.attachSession(k.id, e.sessionId);
    this.d.log.info('session delivers a scheduled class', { channel: e.channel, sessionId: e.sessionId, class: k.id });
  }

  async ended(e: { channel: string; sessionId: string; recorded: boolean }): Promise<void> {
    const ch = this.d.channel(e.channel);
    const k = await this.d.classes.bySession(e.sessionId);
    if (this.d.archive && (ch?.archive || k?.archive) && e.recorded) void this.d.archive(e.sessionId).catch(() => {});
    if (k?.courseId && (await this.d.classes.findCourse(k.courseId))?.platformId != null) await this.d.passback(k.id);
  }
}

export interface CourseChannelDefaults {
  ladder: string;
  latency: Latency;
  overflow: Overflow;
  profile: EncodeProfile;
}

/** The new private, recorded channel of an LMS course (its slug random, its title the course's). */
export function courseChannelInput(title: string, d: CourseChannelDefaults): { slug: string; title: string; ladder: RungName[]; latency: Latency; record: boolean; archive: boolean; overflow: Overflow; profile: EncodeProfile } {
  return {
    slug: `course-${randomBytes(4).toString('hex')}`, title: title.slice(0, 200),
    ladder: d.ladder.split(',') as RungName[], latency: d.latency, record: true, archive: false, overflow: d.overflow, profile: d.profile,
  };
}
