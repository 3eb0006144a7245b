// Repository for courses (from the LMS or made by ops), their scheduled classes and the course roster (NRPS).
// SQL for these tables lives here and nowhere else.

import { NotFoundError } from '../../domain/errors.js';
import type { Db } from './db.js';
import type { Course, ScheduledClass, NewClass, RosterMember } from '../../domain/records.js';

interface CourseRow {
  id: number; platform_id: number | null; deployment_id: string | null; context_id: string | null; title: string;
  channel_id: number | null; nrps_url: string | null; ags_lineitems: string | null; ags_scopes: string | null;
}
interface ClassRow {
  id: number; course_id: number | null; channel_id: number; slug: string; title: string; starts_at: number; minutes: number;
  record: number; archive: number; status: 'scheduled' | 'cancelled'; session_id: string | null; line_item_url: string | null;
  passback_at: number | null; confirmed: number;
}

const toCourse = (r: CourseRow): Course => ({
  id: r.id, platformId: r.platform_id, deploymentId: r.deployment_id, contextId: r.context_id, title: r.title, channelId: r.channel_id,
  nrpsUrl: r.nrps_url, agsLineItems: r.ags_lineitems, agsScopes: r.ags_scopes ? r.ags_scopes.split(' ') : [],
});
const toClass = (r: ClassRow): ScheduledClass => ({
  id: r.id, courseId: r.course_id, channelId: r.channel_id, channel: r.slug, title: r.title, startsAt: r.starts_at, minutes: r.minutes,
  record: r.record === 1, archive: r.archive === 1, status: r.status, sessionId: r.session_id, lineItemUrl: r.line_item_url,
  passbackAt: r.passback_at, confirmed: r.confirmed === 1,
});
const CLASS_SELECT = 'SELECT k.*, c.slug FROM classes k JOIN channels c ON c.id = k.channel_id';

export class ClassRepo {
  constructor(private readonly db: Db) {}

  /** The course for an LMS context, created or refreshed from the launch. */
  upsertLtiCourse(c: { platformId: number; deploymentId: string; contextId: string; title: string; nrpsUrl: string | null; agsLineItems: string | null; agsScopes: string[] }): Course {
    this.db.prepare(`INSERT INTO courses (platform_id, deployment_id, context_id, title, nrps_url, ags_lineitems, ags_scopes, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (platform_id, context_id) DO UPDATE SET deployment_id = excluded.deployment_id, title = excluded.title,
        nrps_url = COALESCE(excluded.nrps_url, courses.nrps_url), ags_lineitems = COALESCE(excluded.ags_lineitems, courses.ags_lineitems),
        ags_scopes = COALESCE(excluded.ags_scopes, courses.ags_scopes)`)
      .run(c.platformId, c.deploymentId, c.contextId, c.title, c.nrpsUrl, c.agsLineItems, c.agsScopes.length ? c.agsScopes.join(' ') : null, new Date().toISOString());
    const r = this.db.prepare('SELECT * FROM courses WHERE platform_id = ? AND context_id = ?').get(c.platformId, c.contextId) as CourseRow;
    return toCourse(r);
  }

  createCourse(title: string, channelId: number): Course {
    const id = Number(this.db.prepare('INSERT INTO courses (title, channel_id, created_at) VALUES (?, ?, ?)').run(title, channelId, new Date().toISOString()).lastInsertRowid);
    return this.course(id);
  }

  setCourseChannel(courseId: number, channelId: number): void {
    this.db.prepare('UPDATE courses SET channel_id = ? WHERE id = ?').run(channelId, courseId);
  }

  findCourse(id: number): Course | undefined {
    const r = this.db.prepare('SELECT * FROM courses WHERE id = ?').get(id) as CourseRow | undefined;
    return r && toCourse(r);
  }

  course(id: number): Course {
    const c = this.findCourse(id);
    if (!c) throw new NotFoundError(`no course with id ${id}`);
    return c;
  }

  courses(): Course[] {
    return (this.db.prepare('SELECT * FROM courses ORDER BY id').all() as CourseRow[]).map(toCourse);
  }

  schedule(k: NewClass): ScheduledClass {
    const id = Number(this.db.prepare(`INSERT INTO classes (course_id, channel_id, title, starts_at, minutes, record, archive, status, created_at, confirmed)
      VALUES (?, ?, ?, ?, ?, ?, ?, 'scheduled', ?, ?)`).run(k.courseId, k.channelId, k.title, k.startsAt, k.minutes, k.record ? 1 : 0,
      k.archive ? 1 : 0, new Date().toISOString(), k.confirmed === false ? 0 : 1).lastInsertRowid);
    return this.get(id);
  }

  /** A launch named the class (the LMS kept the deep link): it is the course's for good. */
  confirm(id: number): void {
    this.db.prepare('UPDATE classes SET confirmed = 1 WHERE id = ?').run(id);
  }

  /** Deletes deep-linked classes no launch ever named and no session delivered, once their time is over (the
   * instructor left the LMS's form without saving). Returns how many. */
  dropUnconfirmed(now: number): number {
    return this.db.prepare('DELETE FROM classes WHERE confirmed = 0 AND session_id IS NULL AND starts_at + minutes * 60000 < ?').run(now).changes;
  }

  find(id: number): ScheduledClass | undefined {
    const r = this.db.prepare(`${CLASS_SELECT} WHERE k.id = ?`).get(id) as ClassRow | undefined;
    return r && toClass(r);
  }

  get(id: number): ScheduledClass {
    const k = this.find(id);
    if (!k) throw new NotFoundError(`no class with id ${id} (see: kmk-live class list)`);
    return k;
  }

  list(opts: { channelId?: number; courseId?: number; includeCancelled?: boolean } = {}): ScheduledClass[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (opts.channelId !== undefined) { where.push('k.channel_id = ?'); args.push(opts.channelId); }
    if (opts.courseId !== undefined) { where.push('k.course_id = ?'); args.push(opts.courseId); }
    if (!opts.includeCancelled) where.push("k.status = 'scheduled'");
    const sql = `${CLASS_SELECT}${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY k.starts_at, k.id`;
    return (this.db.prepare(sql).all(...args) as ClassRow[]).map(toClass);
  }

  cancel(id: number): ScheduledClass {
    const k = this.get(id);
    this.db.prepare("UPDATE classes SET status = 'cancelled' WHERE id = ?").run(k.id);
    return this.get(id);
  }

  /** Ties a live session to the class it delivers (first session wins; a reconnect keeps the same session). */
  attachSession(id: number, sessionId: string): void {
    this.db.prepare('UPDATE classes SET session_id = ?, confirmed = 1 WHERE id = ? AND session_id IS NULL').run(sessionId, id);
  }

  bySession(sessionId: string): ScheduledClass | undefined {
    const r = this.db.prepare(`${CLASS_SELECT} WHERE k.session_id = ?`).get(sessionId) as ClassRow | undefined;
    return r && toClass(r);
  }

  setLineItem(id: number, url: string): void {
    this.db.prepare('UPDATE classes SET line_item_url = ? WHERE id = ?').run(url, id);
  }

  markPassback(id: number, at: number): void {
    this.db.prepare('UPDATE classes SET passback_at = ? WHERE id = ?').run(at, id);
  }

  // Roster ----------------------------------------------------------------------------------------------------

  replaceRoster(courseId: number, members: readonly RosterMember[], at: number): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM roster WHERE course_id = ?').run(courseId);
      const add = this.db.prepare(`INSERT OR REPLACE INTO roster (course_id, user_id, lti_sub, name, email, role, active, fetched_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
      for (const m of members) add.run(courseId, m.userId, m.ltiSub, m.name, m.email, m.role, m.active ? 1 : 0, at);
    })();
  }

  roster(courseId: number): RosterMember[] {
    return (this.db.prepare('SELECT * FROM roster WHERE course_id = ? ORDER BY name, user_id').all(courseId) as
      { user_id: string; lti_sub: string; name: string; email: string | null; role: string; active: number }[])
      .map((r) => ({ userId: r.user_id, ltiSub: r.lti_sub, name: r.name, email: r.email, role: r.role, active: r.active === 1 }));
  }
}
