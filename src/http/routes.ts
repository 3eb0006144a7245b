// The route table: health, metrics, HLS/VOD origin, REST API. Each handler parses its input and answers JSON
// or media; none touches a socket.

import { openApiDocument } from './openapi.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Origin } from '../hls/origin.js';
import { CORS_HEADERS } from '../hls/origin.js';
import type { ApiTokenInfo, Scope } from '../domain/api-tokens.js';
import type { SessionRecord } from '../domain/records.js';
import { json, type HttpAnswer, type HttpRequest, type Route } from './app.js';
import { SLUG_PATTERN } from '../domain/ids.js';
import { joinTokenAnswer } from './join-tokens.js';

export interface RouteDeps {
  channelExists(slug: string): boolean;
  /** Signs join tokens. */
  joinSecret: Buffer;
  /** The longest an instructor or moderator join token may live. */
  staffMaxSeconds: number;
  origin: Origin;
  verifyToken(token: string): Promise<ApiTokenInfo | undefined>;
  status(): unknown;
  sessions: { list(opts: { channel?: string; limit?: number }): Promise<SessionRecord[]>; find(id: string): Promise<SessionRecord | undefined> };
  /** The Prometheus exposition text and its content type. */
  metrics(): Promise<{ text: string; contentType: string }>;
  /** metrics.token: when set, /metrics needs it as a bearer token. */
  metricsToken?: string;
  /** Without a token, /metrics answers everyone (the separate metrics.listen address) rather than local clients. */
  metricsOpen?: boolean;
  /** What /healthz reports besides being alive: a shared store out of reach makes the box degraded. */
  health?(): { ok: true } | { ok: false; error: string };
  /** On a shared store: the public base URL of the box that serves this live class or replay (`rest`: the path
   * after /hls/ or /vod/), when it is another box; asked when this box has none of it. */
  elsewhere?(kind: 'hls' | 'vod', rest: string): Promise<string | undefined>;
}

const API_DOCUMENT = openApiDocument();

/**
 * undefined when the request's API token has the scope (or admin) for what it names; else the refusal. `channel`:
 * the channel the request acts on; absent for box-wide requests, which a token limited to channels may not make.
 */
export async function authorize(req: HttpRequest, deps: Pick<RouteDeps, 'verifyToken'>, scope: Scope, channel?: string): Promise<HttpAnswer | undefined> {
  const m = /^Bearer\s+(\S+)$/.exec(req.headers.authorization);
  const token = m ? await deps.verifyToken(m[1]!) : undefined;
  if (!token) {
    return json(401, { error: 'unauthorized', message: 'send a valid API token: Authorization: Bearer <token>' }, { 'WWW-Authenticate': 'Bearer' });
  }
  if (!token.scopes.includes(scope) && !token.scopes.includes('admin')) {
    return json(403, { error: 'forbidden', message: `this token lacks the "${scope}" scope` });
  }
  if (token.channels && (channel === undefined || !token.channels.includes(channel))) {
    const limited = `this token is limited to the channel${token.channels.length > 1 ? 's' : ''} ${token.channels.join(', ')}`;
    return json(403, { error: 'forbidden', message: channel === undefined ? `${limited}: name one of them` : limited });
  }
  return undefined;
}

function queryParam(query: string, name: string): string | undefined {
  for (const pair of query.split('&')) {
    const [k, v = ''] = pair.split('=');
    if (k === name) {
      try {
        return decodeURIComponent(v.replace(/\+/g, ' '));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Constant-time comparison of two strings of any length. */
function safeEqual(a: string, b: string): boolean {
  const h = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

/** GET /metrics: the series name every live class, so it is not for everyone: a bearer token (metrics.token), or
 * a client on this box, or the separate metrics.listen address. */
export function metricsRoute(deps: Pick<RouteDeps, 'metrics' | 'metricsToken' | 'metricsOpen'>): Route {
  return {
    method: 'get', pattern: '/metrics', handler: async (req) => {
      if (deps.metricsToken) {
        if (!safeEqual(req.headers.authorization, `Bearer ${deps.metricsToken}`)) {
          return json(401, { error: 'unauthorized', message: '/metrics needs the bearer token set in metrics.token' }, { 'WWW-Authenticate': 'Bearer' });
        }
      } else if (!deps.metricsOpen && !req.client.local) {
        return json(403, { error: 'forbidden', message: '/metrics answers only this box (loopback) unless metrics.token is set or metrics.listen names an address for it' });
      }
      const m = await deps.metrics();
      return { status: 200, headers: { 'Content-Type': m.contentType, 'Cache-Control': 'no-cache' }, body: m.text };
    },
  };
}

export function routes(deps: RouteDeps): Route[] {
  const media = (kind: 'hls' | 'vod') => async (req: HttpRequest): Promise<HttpAnswer> => {
    const rest = req.path.slice(kind.length + 2); // strip "/hls/" or "/vod/"
    const pt = queryParam(req.query, 'pt');
    // The origin resolves the path, then checks the playback token against the owner it resolved to.
    const answer = await deps.origin.serve(kind, rest, req.headers.range, pt, req.method === 'HEAD', { query: req.query, signal: req.signal, ifNoneMatch: req.headers.ifNoneMatch });
    if (answer.status !== 404 || !deps.elsewhere) return answer;
    // Another box runs the class or holds the recording: the player follows (its playback token is good there too).
    const there = await deps.elsewhere(kind, rest);
    return there ? { status: 302, headers: { Location: `${there}${req.path}${req.query ? `?${req.query}` : ''}`, 'Cache-Control': 'no-store', ...CORS_HEADERS }, body: '' } : answer;
  };
  const preflight = (): HttpAnswer => ({ status: 204, headers: CORS_HEADERS });
  return [
    {
      // Liveness: 200 while the process answers; "degraded" (with why) while the shared store is out of reach.
      method: 'get', pattern: '/healthz', handler: () => {
        const h = deps.health?.() ?? { ok: true };
        return json(200, h.ok ? { status: 'ok' } : { status: 'degraded', store: `unreachable: ${h.error}` });
      },
    },
    metricsRoute(deps),
    { method: 'get', pattern: '/api/openapi.json', handler: () => json(200, API_DOCUMENT, { 'Cache-Control': 'public, max-age=300', 'Access-Control-Allow-Origin': '*' }) },
    { method: 'get', pattern: '/hls/*', handler: media('hls') },
    { method: 'head', pattern: '/hls/*', handler: media('hls') },
    { method: 'options', pattern: '/hls/*', handler: preflight },
    { method: 'get', pattern: '/vod/*', handler: media('vod') },
    { method: 'head', pattern: '/vod/*', handler: media('vod') },
    { method: 'options', pattern: '/vod/*', handler: preflight },
    {
      method: 'get', pattern: '/api/status', handler: async (req) => (await authorize(req, deps, 'sessions:read')) ?? json(200, deps.status()),
    },
    {
      method: 'get', pattern: '/api/sessions', handler: async (req) => {
        const channel = queryParam(req.query, 'channel');
        if (channel !== undefined && !SLUG_PATTERN.test(channel)) {
          return json(400, { error: 'bad_request', message: 'channel must be a channel slug (a-z, 0-9 and -)' });
        }
        const denied = await authorize(req, deps, 'sessions:read', channel);
        if (denied) return denied;
        const limitText = queryParam(req.query, 'limit');
        const limit = limitText === undefined ? 50 : Number(limitText);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
          return json(400, { error: 'bad_request', message: 'limit must be an integer from 1 to 1000' });
        }
        return json(200, await deps.sessions.list({ channel, limit }));
      },
    },
    {
      method: 'post', pattern: '/api/channels/:slug/join-tokens', handler: async (req) => {
        const slug = req.path.slice('/api/channels/'.length, -'/join-tokens'.length);
        const denied = await authorize(req, deps, 'tokens:join', slug);
        if (denied) return denied;
        const staff = (await authorize(req, deps, 'tokens:staff', slug)) === undefined;
        return joinTokenAnswer(slug, req.body ?? '', deps.channelExists(slug), deps.joinSecret, Math.floor(Date.now() / 1000), { staff, staffMaxSeconds: deps.staffMaxSeconds });
      },
    },
    {
      method: 'get', pattern: '/api/sessions/:id', handler: async (req) => {
        const id = req.path.slice('/api/sessions/'.length);
        const s = await deps.sessions.find(id);
        const denied = await authorize(req, deps, 'sessions:read', s?.channel);
        if (denied) return denied;
        return s ? json(200, s) : json(404, { error: 'not_found', message: 'no such session' });
      },
    },
  ];
}
