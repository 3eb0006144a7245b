// WHIP (RFC 9725): POST /whip/<channel> with an SDP offer and `Authorization: Bearer <stream key or instructor join
// token>` answers 201 with the SDP answer and the session's URL; PATCH on it takes trickled ICE candidates; DELETE
// ends the class. OPTIONS says what the endpoint takes and lists the ICE servers. Refusals carry the reason as text.

import { createHash } from 'node:crypto';
import type { HttpAnswer, HttpRequest, Route } from './app.js';
import { MAX_SDP_BYTES } from '../ingest/sdp.js';
import type { IceServer, WhipAnswer, WhipWho } from '../ingest/webrtc.js';

export interface WhipEndpoint {
  publish(offer: string, who: WhipWho): Promise<WhipAnswer>;
  patch(id: string, fragment: string): Promise<{ status: number; reason?: string }>;
  end(id: string): Promise<boolean>;
  ownedBy(id: string, owner: string): boolean;
}

export interface WhipRouteDeps {
  /** Undefined when webrtc.enabled is off. */
  whip?: WhipEndpoint;
  channel(slug: string): { id: number } | undefined;
  instructorOf(req: Pick<HttpRequest, 'headers'>, slug: string): boolean;
  iceServers: IceServer[];
}

export const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
const SESSION = /^whip-[0-9a-f]{32}$/;
/** A plain-text answer, never cached (the WebRTC endpoints' refusals carry their reason as text). */
export const text = (status: number, body: string, headers: Record<string, string> = {}): HttpAnswer =>
  ({ status, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers }, body: `${body}\n` });

/** RFC 9725 4.6: each ICE server as a Link header value. */
export function iceLinks(servers: readonly IceServer[]): string {
  return servers.map((s) => {
    const cred = s.username ? `; username="${s.username}"; credential="${s.credential ?? ''}"; credential-type="password"` : '';
    return `<${s.urls}>; rel="ice-server"${cred}`;
  }).join(', ');
}

export const bearer = (req: HttpRequest): string | undefined => /^Bearer\s+(\S{1,4096})$/.exec(req.headers.authorization)?.[1];
/** The hash of a bearer that made a WebRTC session: later requests on the session must carry the same. */
export const ownerOf = (token: string): string => createHash('sha256').update(token).digest('hex');

function parts(path: string): { slug?: string; id?: string } {
  const [, , slug, id, extra] = path.split('/');
  if (extra !== undefined || !slug || !SLUG.test(slug)) return {};
  if (id === undefined) return { slug };
  return SESSION.test(id) ? { slug, id } : { slug: undefined };
}

export function whipRoutes(d: WhipRouteDeps): Route[] {
  const off = (): HttpAnswer => text(404, 'WebRTC publishing is turned off on this server (webrtc.enabled)');
  const links = (): Record<string, string> => (d.iceServers.length ? { Link: iceLinks(d.iceServers) } : {});
  const session = (req: HttpRequest): { id: string } | HttpAnswer => {
    if (!d.whip) return off();
    const { slug, id } = parts(req.path);
    if (!slug || !id) return text(404, 'no such WHIP session');
    const token = bearer(req);
    if (!token) return text(401, 'send the same Authorization: Bearer token as the POST', { 'WWW-Authenticate': 'Bearer' });
    if (!d.whip.ownedBy(id, ownerOf(token))) return text(404, 'no such WHIP session');
    return { id };
  };
  return [
    {
      method: 'options', pattern: '/whip/:channel', handler: () => (d.whip
        ? { status: 204, headers: { 'Accept-Post': 'application/sdp', Allow: 'OPTIONS, POST', ...links() } } : off()),
    },
    {
      method: 'post', pattern: '/whip/:channel', maxBodyBytes: MAX_SDP_BYTES, handler: async (req) => {
        if (!d.whip) return off();
        const { slug } = parts(req.path);
        const c = slug ? d.channel(slug) : undefined;
        if (!slug || !c) return text(404, 'no such channel');
        const type = (req.headers.contentType ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/sdp') return text(415, 'send the SDP offer as Content-Type: application/sdp', { 'Accept-Post': 'application/sdp' });
        const token = bearer(req);
        if (!token) return text(401, 'send the channel\'s stream key (or an instructor join token) as Authorization: Bearer <token>', { 'WWW-Authenticate': 'Bearer' });
        const byInstructor = d.instructorOf(req, slug);
        const r = await d.whip.publish(req.body ?? '', {
          key: byInstructor ? '' : token, channelId: c.id, byInstructor, address: req.client.address, owner: ownerOf(token),
        });
        if (!r.ok) return text(r.status, r.reason, r.status === 401 ? { 'WWW-Authenticate': 'Bearer error="invalid_token"' } : {});
        return {
          status: 201,
          headers: { 'Content-Type': 'application/sdp', Location: `/whip/${slug}/${r.id}`, ETag: `"${r.id.slice(5, 21)}"`, 'Cache-Control': 'no-store', ...links() },
          body: r.answer,
        };
      },
    },
    {
      method: 'patch', pattern: '/whip/:channel/:id', maxBodyBytes: MAX_SDP_BYTES, handler: async (req) => {
        const s = session(req);
        if (!('id' in s)) return s;
        const type = (req.headers.contentType ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/trickle-ice-sdpfrag') return text(415, 'send candidates as Content-Type: application/trickle-ice-sdpfrag');
        const r = await d.whip!.patch(s.id, req.body ?? '');
        return r.status === 204 ? { status: 204 } : text(r.status, r.reason ?? '');
      },
    },
    {
      method: 'del', pattern: '/whip/:channel/:id', handler: async (req) => {
        const s = session(req);
        if (!('id' in s)) return s;
        await d.whip!.end(s.id);
        return text(200, 'the class has ended');
      },
    },
    // A WHIP URL opened in a browser: say what it is for.
    { method: 'get', pattern: '/whip/:channel', handler: () => text(405, 'this is a WHIP endpoint: publish to it (POST an SDP offer) from the studio or OBS (Output → WHIP)', { Allow: 'OPTIONS, POST' }) },
    { method: 'get', pattern: '/whip/:channel/:id', handler: () => text(405, 'use PATCH or DELETE on a WHIP session', { Allow: 'PATCH, DELETE' }) },
  ];
}
