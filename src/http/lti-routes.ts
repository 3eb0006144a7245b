// Routes of the LTI 1.3 tool (/lti/login, /lti/launch, /lti/deep-link, /lti/jwks, /lti/config.json), the REST API
// for registering platforms (admin scope), and the scheduled-classes API (ops with an API token, instructors with
// their join token). Handlers parse their input and hand it to the tool or a repository.

import { readBody } from './validate.js';
import type { ScheduledClass } from '../domain/records.js';
import type { ClassRepository, LtiRepository } from '../store/ports.js';
import type { NewPlatform } from '../domain/records.js';
import type { LtiTool } from '../lti/tool.js';
import type { ToolKeys } from '../lti/keys.js';
import { formFields } from '../lti/login.js';
import { bindingCookieName, parseCookies } from '../lti/tool.js';
import { parsePlatform } from '../lti/platforms.js';
import { parseClassInput } from '../classes/schedule.js';
import { classState } from '../classes/resolve.js';
import { UserError } from '../domain/errors.js';
import { SLUG_PATTERN } from '../domain/ids.js';
import { RateLimiter } from '../hub/rate.js';
import { json, type HttpAnswer, type HttpRequest, type Route } from './app.js';
import { ltiError, ltiPicker, ltiReturn, ltiStorageHop } from './lti-pages.js';

export interface LtiRouteDeps {
  tool: LtiTool;
  keys: ToolKeys;
  repo: Pick<LtiRepository, 'platforms' | 'addPlatform' | 'findPlatform' | 'removePlatform' | 'outbox'>;
  classes: Pick<ClassRepository, 'schedule' | 'list' | 'courses' | 'find' | 'cancel'>;
  toolBase: string;
  toolTitle: string;
  frameAncestors(): string;
  /** undefined when the request carries an API token with the scope (or admin); else the refusal. */
  authorizeApi(req: HttpRequest, scope: 'admin' | 'channels:write' | 'sessions:read', channel?: string): Promise<HttpAnswer | undefined>;
  /** True when the request carries an instructor join token for the channel. */
  instructorOf(req: HttpRequest, slug: string): boolean;
  channel(slug: string): { id: number; record: boolean; archive: boolean } | undefined;
  /** Whether a session is still live (a class's state). */
  sessionOpen(sessionId: string): boolean | undefined;
  /** lti.loginsPerMinutePerAddress. */
  loginsPerMinute: number;
  /** A new class is on the schedule (the hub's waiting room shows the next start). */
  scheduled(k: ScheduledClass): void;
}

export const LAUNCH_BODY_BYTES = 64 * 1024;

export function toolConfiguration(base: string, title: string): Record<string, unknown> {
  const host = new URL(base).host;
  return {
    title,
    description: 'Live classes streamed from the school\'s own server: watch page, chat, Q&A, polls, attendance in the gradebook.',
    oidc_initiation_url: `${base}/lti/login`,
    target_link_uri: `${base}/lti/launch`,
    public_jwk_url: `${base}/lti/jwks`,
    scopes: [
      'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem',
      'https://purl.imsglobal.org/spec/lti-ags/scope/score',
      'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly',
    ],
    extensions: [{
      platform: 'canvas.instructure.com',
      privacy_level: 'public',
      domain: host,
      tool_id: 'kmk-live',
      settings: {
        placements: [
          { placement: 'course_navigation', message_type: 'LtiResourceLinkRequest', target_link_uri: `${base}/lti/launch`, text: title },
          { placement: 'link_selection', message_type: 'LtiDeepLinkingRequest', target_link_uri: `${base}/lti/launch`, text: `${title}: add a class` },
          { placement: 'assignment_selection', message_type: 'LtiDeepLinkingRequest', target_link_uri: `${base}/lti/launch`, text: `${title}: add a class` },
        ],
      },
    }],
    custom_fields: {},
  };
}

/** The binding cookie: only for /lti/launch, only over HTTPS, sent in the LMS's frame (partitioned by its site). */
export function bindingCookie(name: string, value: string, maxAge: number): string {
  return `${name}=${value}; Path=/lti/launch; Max-Age=${maxAge}; HttpOnly; Secure; SameSite=None; Partitioned`;
}

export function ltiRoutes(d: LtiRouteDeps): Route[] {
  const logins = new RateLimiter(d.loginsPerMinute, 60000, 50000);
  const login = async (req: HttpRequest): Promise<HttpAnswer> => {
    // Unauthenticated and stored for 10 minutes: one address may not flood it (the tool also caps what is pending).
    if (!logins.take(req.client.address, Date.now())) {
      const busy = ltiError(429, 'rate', 'Too many sign-ins from your network right now. Open the class again in a minute.', d.frameAncestors());
      return { ...busy, headers: { ...busy.headers, 'Retry-After': '30' } };
    }
    const f = formFields(req.method === 'POST' ? req.body ?? '' : req.query);
    const r = await d.tool.login(f);
    if (r.kind === 'error') return ltiError(r.status, r.check, r.message, d.frameAncestors());
    const cookie: Record<string, string> = r.cookie ? { 'Set-Cookie': bindingCookie(r.cookie.name, r.cookie.value, 600) } : {};
    if (r.kind === 'storage') {
      const hop = ltiStorageHop('put', { key: r.state, value: r.binding, target: r.target, origin: r.origin, next: r.url }, d.frameAncestors());
      return { ...hop, headers: { ...hop.headers, ...cookie } };
    }
    return { status: 302, headers: { Location: r.url, 'Cache-Control': 'no-store', ...cookie } };
  };
  /** What a launch (or its confirmation) ends in: the page it goes to, the class picker, or why not. */
  const launched = (r: Awaited<ReturnType<LtiTool['launch']>>, headers: Record<string, string> = {}): HttpAnswer => {
    if (r.kind === 'error') return ltiError(r.status, r.check, r.message, d.frameAncestors());
    if (r.kind === 'pick') return ltiPicker({ ctx: r.ctx, courseTitle: r.course.title, classes: r.classes, title: r.title }, d.frameAncestors());
    if (r.kind === 'confirm') {
      return ltiStorageHop('get', { key: r.storage.state, target: r.storage.target, origin: r.storage.origin, next: `/lti/continue?ticket=${r.ticket}` }, d.frameAncestors());
    }
    return { status: 303, headers: { Location: r.url, 'Cache-Control': 'no-store', ...headers } };
  };
  const classesOf = async (slug: string | undefined, req: HttpRequest, write: boolean): Promise<HttpAnswer | { id: number; record: boolean; archive: boolean; slug: string }> => {
    const c = slug && SLUG_PATTERN.test(slug) ? d.channel(slug) : undefined;
    if (!slug || !c) return json(404, { error: 'not_found', message: 'no such channel' });
    if (d.instructorOf(req, slug)) return { ...c, slug };
    const denied = await d.authorizeApi(req, write ? 'channels:write' : 'sessions:read', slug);
    return denied ?? { ...c, slug };
  };
  return [
    { method: 'get', pattern: '/lti/login', handler: login },
    { method: 'post', pattern: '/lti/login', handler: login, maxBodyBytes: LAUNCH_BODY_BYTES },
    {
      method: 'post', pattern: '/lti/launch', maxBodyBytes: LAUNCH_BODY_BYTES, handler: async (req) => {
        const fields = formFields(req.body ?? '');
        const cookies = parseCookies(req.headers.cookie ?? '');
        const r = await d.tool.launch(fields, cookies);
        // The binding cookie has done its work: clear it.
        const name = bindingCookieName(fields.state ?? '');
        return launched(r, cookies.has(name) ? { 'Set-Cookie': bindingCookie(name, '', 0) } : {});
      },
    },
    {
      method: 'get', pattern: '/lti/continue', handler: async (req) => {
        const q = formFields(req.query);
        return launched(await d.tool.confirm(q.ticket ?? '', q.proof ?? ''));
      },
    },
    { method: 'get', pattern: '/lti/launch', handler: () => ltiError(405, 'method', 'Launches arrive from the LMS as a form post; open the class from the course page.', d.frameAncestors()) },
    {
      method: 'post', pattern: '/lti/deep-link', maxBodyBytes: LAUNCH_BODY_BYTES, handler: async (req) => {
        const r = await d.tool.deepLink(formFields(req.body ?? ''), async (courseId, channelId, f) => {
          // An unticked checkbox sends nothing: no "record" field means off.
          const parsed = parseClassInput({ ...f, record: f.record ?? 'off' }, { record: true, archive: false }, Date.now());
          if (typeof parsed === 'string') return parsed;
          // Unconfirmed until the LMS's launch names it: a deep link the LMS never saved leaves no class behind.
          const k = await d.classes.schedule({ courseId, channelId, ...parsed, confirmed: false });
          d.scheduled(k);
          return k;
        });
        if (r.kind === 'error') return ltiError(r.status, r.check, r.message, d.frameAncestors());
        return ltiReturn(r.returnUrl, r.jwt, r.title, d.frameAncestors());
      },
    },
    {
      method: 'get', pattern: '/lti/jwks', handler: async () => {
        await d.keys.ensure();
        return json(200, await d.keys.jwks(), { 'Cache-Control': 'public, max-age=300', 'Access-Control-Allow-Origin': '*' });
      },
    },
    { method: 'get', pattern: '/lti/config.json', handler: () => json(200, toolConfiguration(d.toolBase, d.toolTitle)) },

    // Platform registration (admin) ------------------------------------------------------------------------
    { method: 'get', pattern: '/api/lti/platforms', handler: async (req) => (await d.authorizeApi(req, 'admin')) ?? json(200, await d.repo.platforms()) },
    {
      method: 'post', pattern: '/api/lti/platforms', handler: async (req) => {
        const denied = await d.authorizeApi(req, 'admin');
        if (denied) return denied;
        const body = readBody('PlatformRequest', req.body);
        if (typeof body === 'string') return json(400, { error: 'bad_request', message: body });
        let p: NewPlatform;
        try {
          p = parsePlatform({ issuer: body.issuer, clientId: body.clientId, authUrl: body.authUrl, tokenUrl: body.tokenUrl, jwksUrl: body.jwksUrl, deploymentIds: body.deploymentIds, serviceHosts: body.serviceHosts });
          return json(201, await d.repo.addPlatform(p));
        } catch (err) {
          if (err instanceof UserError) return json(err.name === 'ConflictError' ? 409 : 400, { error: err.name === 'ConflictError' ? 'conflict' : 'bad_request', message: err.message });
          throw err;
        }
      },
    },
    {
      method: 'get', pattern: '/api/lti/platforms/:id', handler: async (req) => {
        const denied = await d.authorizeApi(req, 'admin');
        if (denied) return denied;
        const p = await d.repo.findPlatform(Number(req.path.slice('/api/lti/platforms/'.length)));
        return p ? json(200, p) : json(404, { error: 'not_found', message: 'no such platform' });
      },
    },
    {
      method: 'del', pattern: '/api/lti/platforms/:id', handler: async (req) => {
        const denied = await d.authorizeApi(req, 'admin');
        if (denied) return denied;
        const id = Number(req.path.slice('/api/lti/platforms/'.length));
        if (!(await d.repo.findPlatform(id))) return json(404, { error: 'not_found', message: 'no such platform' });
        await d.repo.removePlatform(id);
        return { status: 204 };
      },
    },
    { method: 'get', pattern: '/api/lti/outbox', handler: async (req) => (await d.authorizeApi(req, 'admin')) ?? json(200, await d.repo.outbox()) },

    // Scheduled classes ---------------------------------------------------------------------------------------
    {
      method: 'get', pattern: '/api/channels/:slug/classes', handler: async (req) => {
        const c = await classesOf(req.path.split('/')[3], req, false);
        if ('status' in c) return c;
        const now = Date.now();
        return json(200, (await d.classes.list({ channelId: c.id })).map((k) => ({ ...k, state: classState(k, now, d.sessionOpen) })));
      },
    },
    {
      method: 'post', pattern: '/api/channels/:slug/classes', handler: async (req) => {
        const c = await classesOf(req.path.split('/')[3], req, true);
        if ('status' in c) return c;
        const body = readBody('ClassRequest', req.body);
        if (typeof body === 'string') return json(400, { error: 'bad_request', message: body });
        const parsed = parseClassInput(body, { record: c.record, archive: c.archive }, Date.now());
        if (typeof parsed === 'string') return json(400, { error: 'bad_request', message: parsed });
        const course = (await d.classes.courses()).find((k) => k.channelId === c.id);
        const k = await d.classes.schedule({ courseId: course?.id ?? null, channelId: c.id, ...parsed });
        d.scheduled(k);
        return json(201, k);
      },
    },
    {
      method: 'del', pattern: '/api/classes/:id', handler: async (req) => {
        const k = await d.classes.find(Number(req.path.slice('/api/classes/'.length)));
        if (!k) return json(404, { error: 'not_found', message: 'no such class' });
        const c = await classesOf(k.channel, req, true);
        if ('status' in c) return c;
        const cancelled = await d.classes.cancel(k.id);
        d.scheduled(cancelled);
        return json(200, cancelled);
      },
    },
  ];
}
