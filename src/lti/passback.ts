// Attendance passback through a durable outbox in the store. When a class from the LMS ends, one "passback" item is
// queued; working it fetches the roster (NRPS), finds or creates the class's line item (AGS) and queues one
// "score" item per rostered learner, each posted once. Items survive restarts; failures are retried with
// exponential backoff (an LMS that is down gets its scores when it is back); keys make every item unique, so
// nothing is queued or posted twice.

import type { Course, ScheduledClass } from '../domain/records.js';
import type { AttendanceRow } from '../domain/records.js';
import type { ClassRepository, LtiRepository } from '../store/ports.js';
import type { OutboxItem, Platform } from '../domain/records.js';
import type { Logger } from '../log.js';
import { attendanceScore, attendedMs, courseScore, type ScoreMode } from '../reports/attendance.js';
import { AGS_SCOPES, hubUserId, mapRoles, NRPS_SCOPE } from './claims.js';
import { ServiceError, type PlatformServices, type ScoreBody } from './services.js';

export interface PassbackOptions {
  scoreMode: ScoreMode;
  presentPercent: number;
  retryBaseMs: number;
  maxAttempts: number;
  pollMs: number;
}

export interface PassbackDeps {
  repo: Pick<LtiRepository, 'enqueue' | 'nextDueAt' | 'due' | 'done' | 'retry' | 'platform' | 'courseLinkLineItems'>;
  classes: Pick<ClassRepository, 'get' | 'course' | 'replaceRoster' | 'setLineItem' | 'markPassback' | 'roster' | 'list'>;
  services: PlatformServices;
  attendance(sessionId: string): Promise<AttendanceRow[]>;
  /** Start and end (epoch ms) of a session; end null while live. */
  sessionSpan(sessionId: string): Promise<{ start: number; end: number | null } | undefined>;
  /** On a shared store: whether this box may work the outbox now (it holds the outbox's lease). */
  mayRun?(): Promise<boolean>;
  log: Logger;
  now?: () => number;
}

interface ScorePayload {
  lineItem: string;
  score: ScoreBody;
}

export class Passback {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = true;

  constructor(private readonly o: PassbackOptions, private readonly d: PassbackDeps) {}

  private now(): number {
    return this.d.now?.() ?? Date.now();
  }

  /** Queues the passback of a class (once per class). */
  async enqueue(classId: number): Promise<void> {
    if (await this.d.repo.enqueue({ key: `passback:${classId}`, kind: 'passback', classId, payload: '{}' }, this.now())) {
      this.d.log.info('attendance passback queued', { class: classId });
    }
    this.kick();
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private kick(): void {
    if (this.stopped || this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.drain().catch((err: unknown) => this.d.log.warn('could not work the passback outbox; trying again', { err })).finally(() => {
        this.running = undefined;
        this.schedule().catch((err: unknown) => this.d.log.warn('could not read when the next passback is due', { err }));
      });
    }, 0);
  }

  private async schedule(): Promise<void> {
    if (this.stopped) return;
    const next = await this.d.repo.nextDueAt();
    if (this.stopped) return;
    // On a shared store another box may queue work, or die holding it: look again every poll even when empty.
    if (next === undefined && !this.d.mayRun) return;
    const wait = next === undefined ? this.o.pollMs : Math.min(Math.max(0, next - this.now()), this.o.pollMs);
    this.timer = setTimeout(() => this.kick(), wait);
  }

  /** Works every due item once. Exposed for tests and `kmk-live lti outbox --run`. */
  async drain(): Promise<void> {
    if (this.d.mayRun && !(await this.d.mayRun())) return;
    let leasedAt = this.now();
    for (const item of await this.d.repo.due(this.now(), 50)) {
      // A long drain renews the lease as it goes, and stops if another box took it meanwhile.
      if (this.d.mayRun && this.now() - leasedAt > 10_000) {
        if (!(await this.d.mayRun())) return;
        leasedAt = this.now();
      }
      try {
        if (item.kind === 'passback') await this.passback(item);
        else await this.score(item);
        await this.d.repo.done(item.id, this.now());
      } catch (err) {
        const permanent = err instanceof ServiceError && err.permanent;
        const giveUp = permanent || item.attempts + 1 >= this.o.maxAttempts;
        const delay = Math.min(this.o.retryBaseMs * 2 ** item.attempts, 3600 * 1000);
        const message = err instanceof Error ? err.message : String(err);
        await this.d.repo.retry(item.id, message, this.now() + delay, giveUp);
        this.d.log.warn(giveUp ? 'passback item failed for good' : 'passback item will be retried', {
          item: item.key, attempt: item.attempts + 1, retryInMs: giveUp ? null : delay, err: message,
        });
      }
    }
  }

  private async passback(item: OutboxItem): Promise<void> {
    const cls = await this.d.classes.get(item.classId);
    if (!cls.courseId || !cls.sessionId) return; // nothing to pass back: not an LMS class, or it never ran
    const course = await this.d.classes.course(cls.courseId);
    if (course.platformId === null) return;
    const platform = await this.d.repo.platform(course.platformId);
    // The roster first: the report lists who never came even when the gradebook cannot be written.
    if (course.nrpsUrl) {
      const members = await this.d.services.members(platform, course.nrpsUrl, NRPS_SCOPE);
      await this.d.classes.replaceRoster(course.id, members.map((m) => ({
        userId: hubUserId(platform.id, m.userId), ltiSub: m.userId, name: m.name.slice(0, 200), email: m.email,
        role: mapRoles(m.roles), active: !/Inactive|Deleted/i.test(m.status),
      })), this.now());
    }
    // An activity added without deep linking is one column for every class launched through it: the course's
    // attendance goes there, not into a new column per class.
    const links = cls.lineItemUrl ? [] : await this.d.repo.courseLinkLineItems(course.id);
    const canScore = course.agsScopes.includes(AGS_SCOPES.score) && (cls.lineItemUrl || links.length || (course.agsLineItems && course.agsScopes.includes(AGS_SCOPES.lineItem)));
    if (!canScore) {
      this.d.log.info('no gradebook passback: the LMS did not offer AGS scores for this course', { class: cls.id });
      return;
    }
    if (links.length) return await this.courseColumns(platform, course, cls, links);
    let lineItem = cls.lineItemUrl;
    if (!lineItem) {
      lineItem = await this.d.services.lineItem(platform, course.agsLineItems!, AGS_SCOPES.lineItem, {
        resourceId: `kmk-class-${cls.id}`, label: `Attendance: ${cls.title}`, scoreMaximum: this.o.scoreMode === 'minutes' ? cls.minutes : this.o.scoreMode === 'presence' ? 1 : 100,
      });
      await this.d.classes.setLineItem(cls.id, lineItem);
    }
    const span = await this.d.sessionSpan(cls.sessionId);
    if (!span) return;
    const end = span.end ?? this.now();
    const rows = await this.d.attendance(cls.sessionId);
    const learners = await this.learners(platform.id, course.id, rows);
    const at = new Date(this.now()).toISOString();
    for (const l of learners) {
      const ms = attendedMs(rows.filter((r) => r.userId === l.userId), span.start, end);
      const s = attendanceScore(this.o.scoreMode, ms, end - span.start, this.o.presentPercent);
      const payload: ScorePayload = {
        lineItem,
        score: { userId: l.sub, scoreGiven: s.scoreGiven, scoreMaximum: s.scoreMaximum, comment: s.comment, timestamp: at, activityProgress: 'Completed', gradingProgress: 'FullyGraded' },
      };
      await this.d.repo.enqueue({ key: `score:${cls.id}:${l.userId}`, kind: 'score', classId: cls.id, payload: JSON.stringify(payload) }, this.now());
    }
    await this.d.classes.markPassback(cls.id, this.now());
    this.d.log.info('attendance scores queued', { class: cls.id, learners: learners.length });
  }

  /** The learners to score: the roster's active learners, or without NRPS those of this LMS who came. */
  private async learners(platformId: number, courseId: number, rows: AttendanceRow[]): Promise<{ userId: string; sub: string }[]> {
    const roster = (await this.d.classes.roster(courseId)).filter((m) => m.role === 'learner' && m.active);
    if (roster.length) return roster.map((m) => ({ userId: m.userId, sub: m.ltiSub }));
    return [...new Map(rows.filter((r) => r.role === 'learner' && r.userId.startsWith(`lti${platformId}:`))
      .map((r) => [r.userId, { userId: r.userId, sub: r.userId.slice(`lti${platformId}:`.length) }])).values()];
  }

  /** Scores for the course's activity columns: each learner's average over the course's delivered classes. */
  private async courseColumns(platform: Platform, course: Course, cls: ScheduledClass, links: string[]): Promise<void> {
    const delivered: { rows: AttendanceRow[]; start: number; end: number }[] = [];
    for (const k of await this.d.classes.list({ courseId: course.id })) {
      const span = k.sessionId ? await this.d.sessionSpan(k.sessionId) : undefined;
      if (k.sessionId && span && span.end !== null) delivered.push({ rows: await this.d.attendance(k.sessionId), start: span.start, end: span.end });
    }
    const everyone = delivered.flatMap((k) => k.rows);
    const at = new Date(this.now()).toISOString();
    const learners = await this.learners(platform.id, course.id, everyone);
    for (const l of learners) {
      const shares = delivered.map((k) => {
        const length = k.end - k.start;
        return length > 0 ? attendedMs(k.rows.filter((r) => r.userId === l.userId), k.start, k.end) / length : 0;
      });
      const s = courseScore(shares, this.o.presentPercent);
      for (const [i, lineItem] of links.entries()) {
        const payload: ScorePayload = {
          lineItem,
          score: { userId: l.sub, scoreGiven: s.scoreGiven, scoreMaximum: s.scoreMaximum, comment: s.comment, timestamp: at, activityProgress: 'Completed', gradingProgress: 'FullyGraded' },
        };
        await this.d.repo.enqueue({ key: `score:${cls.id}:${l.userId}:link${i}`, kind: 'score', classId: cls.id, payload: JSON.stringify(payload) }, this.now());
      }
    }
    await this.d.classes.markPassback(cls.id, this.now());
    this.d.log.info('attendance scores queued for the course\'s activity columns', { class: cls.id, learners: learners.length, columns: links.length, classes: delivered.length });
  }

  private async score(item: OutboxItem): Promise<void> {
    const p = JSON.parse(item.payload) as ScorePayload;
    const cls = await this.d.classes.get(item.classId);
    const course = await this.d.classes.course(cls.courseId!);
    const platform = await this.d.repo.platform(course.platformId!);
    await this.d.services.postScore(platform, p.lineItem, AGS_SCOPES.score, p.score);
  }
}
