// Repository for courses (from the LMS or made by ops), their scheduled classes and the course roster (NRPS).
// SQL for these tables lives here and nowhere else.

import { NotFoundError } from '../../domain/errors.js';
import { get, all, run, tx, type Work } from './query.js';
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
  /** The course for an LMS context, created or refreshed from the launch. */
  *upsertLtiCourse(c: { platformId: number; deploymentId: string; contextId: string; title: string; nrpsUrl: string | null; agsLineItems: string | null; agsScopes: string[] }): Work<Course> {
    (yield* run(`INSERT INTO courses (platform_id, deployment_id, context_id, title, nrps_url, ags_lineitems, ags_scopes, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (platform_id, context_id) DO UPDATE SET deployment_id = excluded.deployment_id, title = excluded.title,
        nrps_url = COALESCE(excluded.nrps_url, courses.nrps_url), ags_lineitems = COALESCE(excluded.ags_lineitems, courses.ags_lineitems),
        ags_scopes = COALESCE(excluded.ags_scopes, courses.ags_scopes)`, c.platformId, c.deploymentId, c.contextId, c.title, c.nrpsUrl, c.agsLineItems, c.agsScopes.length ? c.agsScopes.join(' ') : null, new Date().toISOString()));
    const r = (yield* get('SELECT * FROM courses WHERE platform_id = ? AND context_id = ?', c.platformId, c.contextId)) as CourseRow;
    return toCourse(r);
  }

  *createCourse(title: string, channelId: number): Work<Course> {
    const { id } = (yield* get('INSERT INTO courses (title, channel_id, created_at) VALUES (?, ?, ?) RETURNING id', title, channelId, new Date().toISOString())) as { id: number };
    return yield* this.course(id);
  }

  *setCourseChannel(courseId: number, channelId: number): Work<void> {
    yield* run('UPDATE courses SET channel_id = ? WHERE id = ?', channelId, courseId);
  }

  *findCourse(id: number): Work<Course | undefined> {
    const r = (yield* get('SELECT * FROM courses WHERE id = ?', id)) as CourseRow | undefined;
    return r && toCourse(r);
  }

  *course(id: number): Work<Course> {
    const c = yield* this.findCourse(id);
    if (!c) throw new NotFoundError(`no course with id ${id}`);
    return c;
  }

  *courses(): Work<Course[]> {
    return ((yield* all('SELECT * FROM courses ORDER BY id')) as CourseRow[]).map(toCourse);
  }

  *schedule(k: NewClass): Work<ScheduledClass> {
    const { id } = (yield* get(`INSERT INTO classes (course_id, channel_id, title, starts_at, minutes, record, archive, status, created_at, confirmed)
      VALUES (?, ?, ?, ?, ?, ?, ?, 'scheduled', ?, ?) RETURNING id`, k.courseId, k.channelId, k.title, k.startsAt, k.minutes, k.record ? 1 : 0,
      k.archive ? 1 : 0, new Date().toISOString(), k.confirmed === false ? 0 : 1)) as { id: number };
    return yield* this.get(id);
  }

  /** A launch named the class (the LMS kept the deep link): it is the course's for good. */
  *confirm(id: number): Work<void> {
    yield* run('UPDATE classes SET confirmed = 1 WHERE id = ?', id);
  }

  /** Deletes deep-linked classes no launch ever named and no session delivered, once their time is over (the
   * instructor left the LMS's form without saving). Returns how many. */
  *dropUnconfirmed(now: number): Work<number> {
    return (yield* run('DELETE FROM classes WHERE confirmed = 0 AND session_id IS NULL AND starts_at + minutes * 60000 < ?', now));
  }

  *find(id: number): Work<ScheduledClass | undefined> {
    const r = (yield* get(`${CLASS_SELECT} WHERE k.id = ?`, id)) as ClassRow | undefined;
    return r && toClass(r);
  }

  *get(id: number): Work<ScheduledClass> {
    const k = yield* this.find(id);
    if (!k) throw new NotFoundError(`no class with id ${id} (see: kmk-live class list)`);
    return k;
  }

  *list(opts: { channelId?: number; courseId?: number; includeCancelled?: boolean } = {}): Work<ScheduledClass[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (opts.channelId !== undefined) { where.push('k.channel_id = ?'); args.push(opts.channelId); }
    if (opts.courseId !== undefined) { where.push('k.course_id = ?'); args.push(opts.courseId); }
    if (!opts.includeCancelled) where.push("k.status = 'scheduled'");
    const sql = `${CLASS_SELECT}${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY k.starts_at, k.id`;
    return ((yield* all(sql, ...args)) as ClassRow[]).map(toClass);
  }

  *cancel(id: number): Work<ScheduledClass> {
    const k = yield* this.get(id);
    yield* run("UPDATE classes SET status = 'cancelled' WHERE id = ?", k.id);
    return yield* this.get(id);
  }

  /** Ties a live session to the class it delivers (first session wins; a reconnect keeps the same session). */
  *attachSession(id: number, sessionId: string): Work<void> {
    yield* run('UPDATE classes SET session_id = ?, confirmed = 1 WHERE id = ? AND session_id IS NULL', sessionId, id);
  }

  *bySession(sessionId: string): Work<ScheduledClass | undefined> {
    const r = (yield* get(`${CLASS_SELECT} WHERE k.session_id = ?`, sessionId)) as ClassRow | undefined;
    return r && toClass(r);
  }

  *setLineItem(id: number, url: string): Work<void> {
    yield* run('UPDATE classes SET line_item_url = ? WHERE id = ?', url, id);
  }

  *markPassback(id: number, at: number): Work<void> {
    yield* run('UPDATE classes SET passback_at = ? WHERE id = ?', at, id);
  }

  // Roster ----------------------------------------------------------------------------------------------------

  *replaceRoster(courseId: number, members: readonly RosterMember[], at: number): Work<void> {
    yield* tx(function* () {
      yield* run('DELETE FROM roster WHERE course_id = ?', courseId);
      for (const m of members) {
        yield* run(`INSERT INTO roster (course_id, user_id, lti_sub, name, email, role, active, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT (course_id, user_id) DO UPDATE SET lti_sub = excluded.lti_sub, name = excluded.name, email = excluded.email,
            role = excluded.role, active = excluded.active, fetched_at = excluded.fetched_at`, courseId, m.userId, m.ltiSub, m.name, m.email, m.role, m.active ? 1 : 0, at);
      }
    });
  }

  *roster(courseId: number): Work<RosterMember[]> {
    return ((yield* all('SELECT * FROM roster WHERE course_id = ? ORDER BY name, user_id', courseId)) as
      { user_id: string; lti_sub: string; name: string; email: string | null; role: string; active: number }[])
      .map((r) => ({ userId: r.user_id, ltiSub: r.lti_sub, name: r.name, email: r.email, role: r.role, active: r.active === 1 }));
  }
}
