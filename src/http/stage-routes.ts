// The stage's media endpoint (issue 27): POST /stage/<channel> with a member's SDP offer and `Authorization: Bearer
// <join token>` answers 201 with the SDP answer and the connection's URL; DELETE on it hangs up. Whether the user may
// publish is the hub's word (the stage invitation), checked by the SFU on join and while connected. `?host=1` from
// an instructor: the class's own publisher at the studio (heard by the stage, not mixed into the broadcast again).

import type { HttpAnswer, Route } from './app.js';
import { MAX_SDP_BYTES } from '../ingest/sdp.js';
import type { StageJoin, StageWho } from '../ingest/stage-sfu.js';
import type { JoinVerifier } from '../auth/join-token.js';
import { bearer, iceLinks, ownerOf, SLUG, text } from './whip-routes.js';
import type { IceServer } from '../config/webrtc.js';

export interface StageEndpoint {
  join(offer: string, who: StageWho): Promise<StageJoin>;
  leave(id: string): Promise<boolean>;
  ownedBy(id: string, owner: string): boolean;
}

export interface StageRouteDeps {
  /** Undefined when webrtc.enabled is off. */
  stage?: StageEndpoint;
  channel(slug: string): { id: number } | undefined;
  verifyJoin: JoinVerifier;
  iceServers: IceServer[];
}

const CONNECTION = /^stage-[0-9a-f]{32}$/;

function parts(path: string): { slug?: string; id?: string } {
  const [, , slug, id, extra] = path.split('/');
  if (extra !== undefined || !slug || !SLUG.test(slug)) return {};
  if (id === undefined) return { slug };
  return CONNECTION.test(id) ? { slug, id } : {};
}

export function stageRoutes(d: StageRouteDeps): Route[] {
  const off = (): HttpAnswer => text(404, 'the stage needs WebRTC, which is turned off on this server (webrtc.enabled)');
  const links = (): Record<string, string> => (d.iceServers.length ? { Link: iceLinks(d.iceServers) } : {});
  return [
    {
      method: 'options', pattern: '/stage/:channel', handler: () => (d.stage
        ? { status: 204, headers: { 'Accept-Post': 'application/sdp', Allow: 'OPTIONS, POST', ...links() } } : off()),
    },
    {
      method: 'post', pattern: '/stage/:channel', maxBodyBytes: MAX_SDP_BYTES, handler: async (req) => {
        if (!d.stage) return off();
        const { slug } = parts(req.path);
        if (!slug || !d.channel(slug)) return text(404, 'no such channel');
        const type = (req.headers.contentType ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/sdp') return text(415, 'send the SDP offer as Content-Type: application/sdp', { 'Accept-Post': 'application/sdp' });
        const token = bearer(req);
        const v = token ? d.verifyJoin(token, Math.floor(Date.now() / 1000)) : undefined;
        if (!token || !v?.ok || v.claims.channel !== slug) {
          return text(401, 'send your join token for this class as Authorization: Bearer <token> (open the class from the course page)', { 'WWW-Authenticate': 'Bearer' });
        }
        const host = /(?:^|&)host=1(?:&|$)/.test(req.query ?? '');
        if (host && v.claims.role !== 'instructor') return text(403, 'only the class\'s instructor joins the stage as its host');
        const r = await d.stage.join(req.body ?? '', { slug, userId: v.claims.sub, name: v.claims.name, host, owner: ownerOf(token) });
        if (!r.ok) return text(r.status, r.reason);
        return { status: 201, headers: { 'Content-Type': 'application/sdp', Location: `/stage/${slug}/${r.id}`, 'Cache-Control': 'no-store', ...links() }, body: r.answer };
      },
    },
    {
      method: 'del', pattern: '/stage/:channel/:id', handler: async (req) => {
        if (!d.stage) return off();
        const { id } = parts(req.path);
        const token = bearer(req);
        if (!id) return text(404, 'no such stage connection');
        if (!token) return text(401, 'send the same Authorization: Bearer token as the POST', { 'WWW-Authenticate': 'Bearer' });
        if (!d.stage.ownedBy(id, ownerOf(token))) return text(404, 'no such stage connection');
        await d.stage.leave(id);
        return text(200, 'you left the stage');
      },
    },
    { method: 'get', pattern: '/stage/:channel', handler: () => text(405, 'this is the stage\'s WebRTC endpoint: the watch page connects to it when you are invited on stage', { Allow: 'OPTIONS, POST' }) },
  ];
}
