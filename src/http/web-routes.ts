// Routes for the pages and what they call: /watch, /studio, /assets, the QoE beacon, and the studio's
// instructor-only health and key-rotation endpoints (authorised by an instructor join token for that channel).

import { readFile } from 'node:fs/promises';
import { readBody } from './validate.js';
import type { JoinVerifier } from '../auth/join-token.js';
import { SESSION_ID_PATTERN, SLUG_PATTERN } from '../domain/ids.js';
import type { Play } from '../live/playback.js';
import type { Beacon } from '../domain/records.js';
import { RateLimiter } from '../hub/rate.js';
import { json, type HttpAnswer, type HttpRequest, type Route } from './app.js';
import { ICON_SVG, landing, MANIFEST, page, type Asset } from './pages.js';

export interface WebDeps {
  frameAncestors: string;
  /** The CDN origin media comes from (hls.cdnBaseUrl), for the pages' CSP; '' when none. */
  cdnOrigin?: string;
  assets: Map<string, Asset>;
  verifyJoin: JoinVerifier;
  channel(slug: string): { id: number; title: string; allowGuests: boolean; public: boolean } | undefined;
  /** The channel a past session belongs to. */
  sessionChannel(sessionId: string): string | undefined;
  /** A signed playback token for a channel's live HLS ("c:<slug>") or a session's recording ("s:<id>"). */
  playbackToken(scope: `c:${string}` | `s:${string}`, viewer?: string): string;
  addBeacon(b: Beacon): void;
  health(slug: string): unknown;
  rotateKey(slug: string): Promise<{ key: string; fingerprint: string; server: string }>;
  /** What to play for a channel: the local ladder or Mux's playback URL (overflow). */
  playback(slug: string): Promise<Play>;
  /** What to play for a past session: its kept recording or its Mux archive; undefined when neither. */
  replay(sessionId: string): Promise<Play | undefined>;
  /** Verifies and applies a Mux webhook; undefined when Mux is not configured. */
  muxWebhook?(rawBody: string, signature: string): Promise<'ok' | 'duplicate' | 'bad_signature'>;
}

const SLUG = SLUG_PATTERN;
const SESSION = SESSION_ID_PATTERN;

/** The id between prefix and suffix in a path when it matches the pattern (a channel slug unless told). */
function slugFrom(path: string, prefix: string, suffix = '', pattern = SLUG): string | undefined {
  const s = path.slice(prefix.length, suffix ? -suffix.length : undefined);
  return pattern.test(s) ? s : undefined;
}

/** True when the request carries an instructor join token for this channel (studio actions, reports). */
export function instructor(req: Pick<HttpRequest, 'headers'>, slug: string, verifyJoin: JoinVerifier): boolean {
  const m = /^Bearer\s+(\S+)$/.exec(req.headers.authorization);
  if (!m) return false;
  const v = verifyJoin(m[1]!, Math.floor(Date.now() / 1000));
  return v.ok && v.claims.channel === slug && v.claims.role === 'instructor';
}

/** Who may have a playback token: a join token's user for the channel, or anyone on public or guest channels
 * (''); null when nobody may. */
export function viewer(req: Pick<HttpRequest, 'headers'>, slug: string, c: { allowGuests: boolean; public: boolean }, verifyJoin: JoinVerifier): string | null {
  const m = /^Bearer\s+(\S+)$/.exec(req.headers.authorization);
  const v = m ? verifyJoin(m[1]!, Math.floor(Date.now() / 1000)) : undefined;
  if (v?.ok && v.claims.channel === slug) return v.claims.sub;
  return c.public || c.allowGuests ? '' : null;
}

const withPt = (play: Play, pt: string | undefined): Play =>
  (play.mode === 'local' && pt ? { ...play, url: `${play.url}?pt=${encodeURIComponent(pt)}` } : play);

const noViewer = (): HttpAnswer => json(401, { error: 'unauthorized', message: 'this class is private: open it again from the course page (a join token for this channel is required)' });

const num = (v: unknown, max: number): number | null =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= max ? Math.round(v) : null;

export function parseBeacon(body: string, d: Pick<WebDeps, 'channel' | 'verifyJoin' | 'sessionChannel'>, now: number): Beacon | string {
  const o = readBody('Beacon', body);
  if (typeof o === 'string') return o;
  if (typeof o.channel !== 'string' || !SLUG.test(o.channel)) return '"channel" must be a channel slug';
  const channel = d.channel(o.channel);
  if (!channel) return 'no such channel';
  // Every player has a join token: the LMS's, an operator's, or the one the hub gives a guest when they join.
  if (typeof o.token !== 'string' || !o.token) return 'a join token is required (guests: the one the hub gave you when you joined)';
  const v = d.verifyJoin(o.token, Math.floor(now / 1000));
  if (!v.ok || v.claims.channel !== o.channel) return 'invalid join token';
  const userId = v.claims.sub;
  if (o.sessionId !== undefined && o.sessionId !== null && (typeof o.sessionId !== 'string' || !SESSION.test(o.sessionId) || d.sessionChannel(o.sessionId) !== o.channel)) {
    return '"sessionId" must be a session of this channel';
  }
  const sessionId = typeof o.sessionId === 'string' ? o.sessionId : null;
  const errors = Array.isArray(o.errors) ? o.errors.filter((e): e is string => typeof e === 'string').slice(0, 10).map((e) => e.slice(0, 200)) : [];
  return {
    channelId: channel.id, sessionId, userId, at: now,
    startupMs: num(o.startupMs, 600000), rebuffers: num(o.rebuffers, 1e6) ?? 0, rebufferMs: num(o.rebufferMs, 1e9) ?? 0, playedMs: num(o.playedMs, 600000) ?? 0,
    bitrate: num(o.bitrate, 1e9), rendition: typeof o.rendition === 'string' ? o.rendition.slice(0, 20) : null,
    latencyMs: num(o.latencyMs, 3600000), errors,
  };
}

const tooMany = (message: string): HttpAnswer => json(429, { error: 'rate_limited', message }, { 'Retry-After': '10' });

/** Beacons: a player sends one every 10 s; a school behind one NAT address has many players. */
export const BEACON_LIMITS = { perViewer: 12, perAddress: 1200, windowMs: 60000 };

export function webRoutes(d: WebDeps): Route[] {
  const beaconsOf = new RateLimiter(BEACON_LIMITS.perViewer, BEACON_LIMITS.windowMs);
  const beaconsFrom = new RateLimiter(BEACON_LIMITS.perAddress, BEACON_LIMITS.windowMs);
  const pageFor = (kind: 'watch' | 'studio') => (req: HttpRequest): HttpAnswer => {
    const slug = slugFrom(req.path, `/${kind}/`);
    const c = slug ? d.channel(slug) : undefined;
    if (!slug || !c) return { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'no such channel\n' };
    if (!d.assets.has(`${kind}.js`)) return { status: 503, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'web assets are not built; run: npm run build\n' };
    return page(kind, slug, c.title, d.frameAncestors, c.allowGuests, d.cdnOrigin ?? '', req.headers.host ?? '');
  };
  const icon = (): HttpAnswer => ({ status: 200, headers: { 'Content-Type': 'image/svg+xml', 'Cache-Control': 'public, max-age=86400' }, body: ICON_SVG });
  return [
    { method: 'get', pattern: '/', handler: () => landing(d.frameAncestors) },
    { method: 'get', pattern: '/favicon.svg', handler: icon },
    { method: 'get', pattern: '/favicon.ico', handler: icon },
    { method: 'get', pattern: '/manifest.webmanifest', handler: () => ({ status: 200, headers: { 'Content-Type': 'application/manifest+json', 'Cache-Control': 'public, max-age=86400' }, body: MANIFEST }) },
    { method: 'get', pattern: '/watch/:slug', handler: pageFor('watch') },
    { method: 'head', pattern: '/watch/:slug', handler: pageFor('watch') },
    { method: 'get', pattern: '/studio/:slug', handler: pageFor('studio') },
    { method: 'head', pattern: '/studio/:slug', handler: pageFor('studio') },
    {
      method: 'get', pattern: '/assets/:name', handler: async (req): Promise<HttpAnswer> => {
        const a = d.assets.get(req.path.slice('/assets/'.length));
        const body = a && (a.body ?? (await readFile(a.file).catch(() => undefined)));
        return a && body ? { status: 200, headers: { 'Content-Type': a.type, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' }, body }
          : { status: 404, headers: { 'Content-Type': 'text/plain' }, body: 'not found\n' };
      },
    },
    {
      method: 'post', pattern: '/api/beacon', handler: (req) => {
        const now = Date.now();
        if (!beaconsFrom.take(req.client.address, now)) return tooMany('too many beacons from this address');
        const b = parseBeacon(req.body ?? '', d, now);
        if (typeof b === 'string') return json(400, { error: 'bad_request', message: b });
        if (!beaconsOf.take(`${b.channelId}:${b.userId}`, now)) return tooMany('at most 12 beacons a minute per viewer');
        d.addBeacon(b);
        return { status: 204 };
      },
    },
    {
      method: 'get', pattern: '/api/channels/:slug/playback', handler: async (req) => {
        const slug = slugFrom(req.path, '/api/channels/', '/playback');
        const c = slug ? d.channel(slug) : undefined;
        if (!slug || !c) return json(404, { error: 'not_found', message: 'no such channel' });
        const who = viewer(req, slug, c, d.verifyJoin);
        if (who === null) return noViewer();
        return json(200, withPt(await d.playback(slug), c.public ? undefined : d.playbackToken(`c:${slug}`, who || undefined)));
      },
    },
    {
      method: 'get', pattern: '/api/sessions/:id/replay', handler: async (req) => {
        const id = slugFrom(req.path, '/api/sessions/', '/replay', SESSION);
        const slug = id ? d.sessionChannel(id) : undefined;
        const c = slug ? d.channel(slug) : undefined;
        if (!id || !slug || !c) return json(404, { error: 'not_found', message: 'no replay for this session' });
        const who = viewer(req, slug, c, d.verifyJoin);
        if (who === null) return noViewer();
        const play = await d.replay(id);
        return play ? json(200, withPt(play, c.public ? undefined : d.playbackToken(`s:${id}`, who || undefined))) : json(404, { error: 'not_found', message: 'no replay for this session' });
      },
    },
    {
      method: 'post', pattern: '/webhooks/mux', handler: async (req) => {
        if (!d.muxWebhook) return json(404, { error: 'not_found', message: 'Mux is not configured on this server' });
        const r = await d.muxWebhook(req.body ?? '', req.headers.muxSignature);
        if (r === 'bad_signature') return json(401, { error: 'unauthorized', message: 'signature does not verify' });
        return json(200, { ok: true, duplicate: r === 'duplicate' });
      },
    },
    {
      method: 'get', pattern: '/api/channels/:slug/health', handler: (req) => {
        const slug = slugFrom(req.path, '/api/channels/', '/health');
        if (!slug || !d.channel(slug)) return json(404, { error: 'not_found', message: 'no such channel' });
        if (!instructor(req, slug, d.verifyJoin)) return json(401, { error: 'unauthorized', message: 'an instructor join token for this channel is required' });
        return json(200, d.health(slug));
      },
    },
    {
      method: 'post', pattern: '/api/channels/:slug/stream-key', handler: async (req) => {
        const slug = slugFrom(req.path, '/api/channels/', '/stream-key');
        if (!slug || !d.channel(slug)) return json(404, { error: 'not_found', message: 'no such channel' });
        if (!instructor(req, slug, d.verifyJoin)) return json(401, { error: 'unauthorized', message: 'an instructor join token for this channel is required' });
        return json(200, await d.rotateKey(slug));
      },
    },
  ];
}
