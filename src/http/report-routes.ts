// Report endpoints: a class's report as JSON or CSV tables, and a course's attendance roll-up as CSV. Readable
// with an API token (sessions:read) or by the class's instructor with their join token.

import { SESSION_ID_PATTERN } from '../domain/ids.js';
import type { ClassReport, CostReport } from '../domain/reports.js';
import { REPORT_TABLES, type ReportTable } from '../reports/service.js';
import { parsePeriod } from '../reports/cost.js';
import { SLUG_PATTERN } from '../domain/ids.js';
import { json, type HttpAnswer, type HttpRequest, type Route } from './app.js';

export interface ReportRouteDeps {
  /** `channel`: what the request acts on (absent: the whole box, which a token limited to channels may not read). */
  authorizeApi(req: HttpRequest, scope: 'sessions:read' | 'admin', channel?: string): Promise<HttpAnswer | undefined>;
  instructorOf(req: HttpRequest, slug: string): boolean;
  sessionChannel(id: string): string | undefined;
  report(sessionId: string): Promise<ClassReport | undefined>;
  reportCsv(r: ClassReport, table: ReportTable): string;
  courseChannel(courseId: number): Promise<string | null | undefined>;
  courseCsv(courseId: number): Promise<string>;
  /** The cost of [from, to), for one channel or (undefined) all; a string when a price is unusable. */
  cost(from: number, to: number, channel: string | undefined): Promise<CostReport | string>;
  costCsv(r: CostReport): string;
  /** The channel's recent sessions, newest first. */
  channelSessions(slug: string): Promise<unknown[] | undefined>;
}

const param = (query: string, name: string): string | null => new URLSearchParams(query).get(name);

export function csvAnswer(body: string, filename: string): HttpAnswer {
  return {
    status: 200,
    headers: { 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': `attachment; filename="${filename}"`, 'Cache-Control': 'no-store' },
    // A byte-order mark so spreadsheets read names with accents as UTF-8.
    body: `\ufeff${body}`,
  };
}

export function reportRoutes(d: ReportRouteDeps): Route[] {
  const allowed = async (req: HttpRequest, slug: string | null | undefined): Promise<HttpAnswer | undefined> =>
    (slug && d.instructorOf(req, slug) ? undefined : d.authorizeApi(req, 'sessions:read', slug ?? undefined));
  return [
    {
      method: 'get', pattern: '/api/reports/cost', handler: async (req) => {
        const channel = param(req.query, 'channel') ?? undefined;
        if (channel !== undefined && !SLUG_PATTERN.test(channel)) return json(400, { error: 'bad_request', message: 'channel must be a channel slug' });
        // The whole box needs an API token; one channel's classes are also its instructor's to see.
        const denied = await allowed(req, channel);
        if (denied) return denied;
        const period = parsePeriod(param(req.query, 'from') ?? undefined, param(req.query, 'to') ?? undefined);
        if (typeof period === 'string') return json(400, { error: 'bad_request', message: period });
        const r = await d.cost(period.from, period.to, channel);
        if (typeof r === 'string') return json(503, { error: 'not_configured', message: r });
        return (param(req.query, 'format') ?? 'json') === 'csv' ? csvAnswer(d.costCsv(r), `cost-${r.from}-${r.to}.csv`) : json(200, r);
      },
    },
    {
      method: 'get', pattern: '/api/channels/:slug/sessions', handler: async (req) => {
        const slug = req.path.split('/')[3] ?? '';
        const denied = await allowed(req, slug);
        if (denied) return denied;
        const list = await d.channelSessions(slug);
        return list ? json(200, list) : json(404, { error: 'not_found', message: 'no such channel' });
      },
    },
    {
      method: 'get', pattern: '/api/sessions/:id/report', handler: async (req) => {
        const id = req.path.split('/')[3] ?? '';
        const slug = SESSION_ID_PATTERN.test(id) ? d.sessionChannel(id) : undefined;
        const denied = await allowed(req, slug);
        if (denied) return denied;
        const r = slug ? await d.report(id) : undefined;
        if (!r) return json(404, { error: 'not_found', message: 'no such session' });
        const format = param(req.query, 'format') ?? 'json';
        if (format === 'json') return json(200, r);
        if (format !== 'csv') return json(400, { error: 'bad_request', message: 'format must be json or csv' });
        const table = (param(req.query, 'table') ?? 'learners') as ReportTable;
        if (!REPORT_TABLES.includes(table)) return json(400, { error: 'bad_request', message: `table must be one of ${REPORT_TABLES.join(', ')}` });
        return csvAnswer(d.reportCsv(r, table), `${id}-${table}.csv`);
      },
    },
    {
      method: 'get', pattern: '/api/courses/:id/attendance.csv', handler: async (req) => {
        const raw = req.path.split('/')[3] ?? '';
        const id = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
        const slug = Number.isNaN(id) ? undefined : await d.courseChannel(id);
        const denied = await allowed(req, slug);
        if (denied) return denied;
        if (slug === undefined) return json(404, { error: 'not_found', message: 'no such course' });
        return csvAnswer(await d.courseCsv(id), `course-${id}-attendance.csv`);
      },
    },
  ];
}
