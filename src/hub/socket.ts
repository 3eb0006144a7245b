// Binds the hub to the HTTP server's WebSocket route /ws: authenticates before the upgrade completes (join token
// or guest name), then forwards open/message/close to the hub. Refusals say nothing that helps forging. A guest who
// joins with a name is given a signed token of their own, so a reconnect is the same person (bans, mutes and rate
// limits hold); new guest identities are rate-limited per address. Sockets whose token a channel has ended since
// (`token revoke-all`) are closed by a sweep.

import { randomBytes } from 'node:crypto';
import { signJoinToken, validName, type JoinVerifier } from '../auth/join-token.js';
import type { HttpRequest, HttpServer, Upgrade, WsConn } from '../http/app.js';
import type { Hub } from './hub.js';
import type { Identity } from './protocol.js';
import { MAX_FRAME_BYTES, type ServerMsg } from './protocol.js';
import { RateLimiter } from './rate.js';

export interface SocketDeps {
  verifyJoin: JoinVerifier;
  allowsGuests(slug: string): boolean | undefined;
  /** Signs guests' own tokens. */
  secret: Buffer;
  /** Join tokens of the channel issued before this second are void (0: none). */
  tokensAfter(slug: string): number;
}

/** How long a guest's own token lives, and how many new guests one address may make (burst, then one per 3 s). */
export const GUEST_TOKEN_SECONDS = 12 * 3600;
export const GUEST_BURST = 20;
const GUEST_WINDOW_MS = 60000;

export function guestLimiter(): RateLimiter {
  return new RateLimiter(GUEST_BURST, GUEST_WINDOW_MS, 50000);
}

export interface SocketOptions {
  maxBackpressureBytes: number;
  idleTimeoutSeconds: number;
}

interface User {
  slug: string;
  identity: Identity;
  /** When the token it joined with was issued (seconds): a later revoke-all of the channel ends the socket. */
  issuedAt: number;
  /** A new guest's own token, sent as the first frame. */
  guestToken?: { token: string; expiresAt: string };
}

export function queryParams(query: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of query.split('&').slice(0, 20)) {
    const eq = pair.indexOf('=');
    const k = eq < 0 ? pair : pair.slice(0, eq);
    const v = eq < 0 ? '' : pair.slice(eq + 1);
    try {
      out.set(decodeURIComponent(k), decodeURIComponent(v.replace(/\+/g, ' ')));
    } catch {
      // a malformed escape makes that parameter absent
    }
  }
  return out;
}

const refuse = (status: number, error: string): Upgrade<User> => ({ ok: false, status, body: JSON.stringify({ error }) });

/** The identity a connection request proves, or why it is refused. Pure given the deps and clock. */
export function authenticate(req: HttpRequest, hub: Pick<Hub, 'admit'>, d: SocketDeps, nowSeconds: number, guests: RateLimiter): Upgrade<User> {
  if (req.query.length > 8192) return refuse(401, 'unauthorized');
  const q = queryParams(req.query);
  const token = q.get('token');
  let slug: string;
  let identity: Identity;
  let issuedAt = nowSeconds;
  let guestToken: User['guestToken'];
  if (token) {
    const v = d.verifyJoin(token, nowSeconds);
    if (!v.ok) return refuse(401, 'unauthorized');
    const asked = q.get('channel');
    if (asked !== undefined && asked !== v.claims.channel) return refuse(401, 'unauthorized');
    slug = v.claims.channel;
    identity = { userId: v.claims.sub, name: v.claims.name.trim(), role: v.claims.role, guest: v.claims.guest === true };
    issuedAt = v.claims.iat ?? 0;
  } else {
    const channel = q.get('channel');
    const name = q.get('name');
    if (!channel || !validName(name) || d.allowsGuests(channel) !== true) return refuse(401, 'unauthorized');
    if (!guests.take(req.client.address, nowSeconds * 1000)) return refuse(429, 'too_many_guests');
    slug = channel;
    identity = { userId: 'guest-' + randomBytes(8).toString('hex'), name: name.trim(), role: 'learner', guest: true };
    const exp = nowSeconds + GUEST_TOKEN_SECONDS;
    guestToken = {
      token: signJoinToken({ sub: identity.userId, name: identity.name, role: 'learner', channel, iat: nowSeconds, exp, guest: true }, d.secret),
      expiresAt: new Date(exp * 1000).toISOString(),
    };
  }
  const admitted = hub.admit(slug, identity.userId);
  if (admitted === 'no_channel') return refuse(401, 'unauthorized');
  if (admitted === 'banned') return refuse(403, 'banned');
  return { ok: true, user: { slug, identity, issuedAt, guestToken } };
}

/** How often connected sockets are checked against their channel's join-token epoch. */
export const REVOKE_SWEEP_MS = 2000;

export function bindHub(http: HttpServer, hub: Hub, d: SocketDeps, o: SocketOptions): { stop(): void } {
  const conns = new Map<number, WsConn<User>>();
  const guests = guestLimiter();
  hub.attach({
    publish: (topic, frame) => http.publish(topic, frame),
    send: (id, frame) => conns.get(id)?.send(frame),
    close: (id, code, reason) => conns.get(id)?.close(code, reason),
    subscribe: (id, topic) => conns.get(id)?.subscribe(topic),
  });
  http.ws<User>('/ws', {
    upgrade: (req) => authenticate(req, hub, d, Math.floor(Date.now() / 1000), guests),
    open: (conn) => {
      conns.set(conn.id, conn);
      const g = conn.user.guestToken;
      if (g) conn.send(JSON.stringify({ v: 1, t: 'guest_token', token: g.token, expiresAt: g.expiresAt } satisfies ServerMsg));
      hub.join(conn.id, conn.user.slug, conn.user.identity);
    },
    message: (conn, text) => hub.message(conn.id, text),
    close: (conn) => {
      conns.delete(conn.id);
      hub.leave(conn.id);
    },
  }, { maxMessageBytes: MAX_FRAME_BYTES, maxBackpressure: o.maxBackpressureBytes, idleTimeoutSeconds: o.idleTimeoutSeconds });
  // `token revoke-all` may run in another process (the CLI): the epoch is read from the store, once per channel.
  const sweep = setInterval(() => {
    const epochs = new Map<string, number>();
    for (const conn of conns.values()) {
      const { slug, issuedAt } = conn.user;
      let after = epochs.get(slug);
      if (after === undefined) {
        try {
          after = d.tokensAfter(slug);
        } catch {
          after = 0; // the store is busy: the next sweep checks again
        }
        epochs.set(slug, after);
      }
      if (after > 0 && issuedAt < after) conn.close(4001, 'join token revoked');
    }
  }, REVOKE_SWEEP_MS);
  sweep.unref();
  return { stop: () => clearInterval(sweep) };
}
