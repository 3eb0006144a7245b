// Binds the hub to the HTTP server's WebSocket route /ws: authenticates before the upgrade completes (join token
// or guest name), then forwards open/message/close to the hub. Refusals say nothing that helps forging.

import { randomBytes } from 'node:crypto';
import { validName, verifyJoinToken } from '../auth/join-token.js';
import type { HttpRequest, HttpServer, Upgrade, WsConn } from '../http/app.js';
import type { Hub, Identity } from './hub.js';
import { MAX_FRAME_BYTES } from './protocol.js';

export interface SocketDeps {
  secret: Buffer;
  allowsGuests(slug: string): boolean | undefined;
}

export interface SocketOptions {
  maxBackpressureBytes: number;
  idleTimeoutSeconds: number;
}

interface User {
  slug: string;
  identity: Identity;
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
export function authenticate(req: HttpRequest, hub: Pick<Hub, 'admit'>, d: SocketDeps, nowSeconds: number): Upgrade<User> {
  if (req.query.length > 8192) return refuse(401, 'unauthorized');
  const q = queryParams(req.query);
  const token = q.get('token');
  let slug: string;
  let identity: Identity;
  if (token) {
    const v = verifyJoinToken(token, d.secret, nowSeconds);
    if (!v.ok) return refuse(401, 'unauthorized');
    const asked = q.get('channel');
    if (asked !== undefined && asked !== v.claims.channel) return refuse(401, 'unauthorized');
    slug = v.claims.channel;
    identity = { userId: v.claims.sub, name: v.claims.name.trim(), role: v.claims.role, guest: false };
  } else {
    const channel = q.get('channel');
    const name = q.get('name');
    if (!channel || !validName(name) || d.allowsGuests(channel) !== true) return refuse(401, 'unauthorized');
    slug = channel;
    identity = { userId: 'guest-' + randomBytes(8).toString('hex'), name: name.trim(), role: 'learner', guest: true };
  }
  const admitted = hub.admit(slug, identity.userId);
  if (admitted === 'no_channel') return refuse(401, 'unauthorized');
  if (admitted === 'banned') return refuse(403, 'banned');
  return { ok: true, user: { slug, identity } };
}

export function bindHub(http: HttpServer, hub: Hub, d: SocketDeps, o: SocketOptions): void {
  const conns = new Map<number, WsConn<User>>();
  hub.attach({
    publish: (topic, frame) => http.publish(topic, frame),
    send: (id, frame) => conns.get(id)?.send(frame),
    close: (id, code, reason) => conns.get(id)?.close(code, reason),
    subscribe: (id, topic) => conns.get(id)?.subscribe(topic),
  });
  http.ws<User>('/ws', {
    upgrade: (req) => authenticate(req, hub, d, Math.floor(Date.now() / 1000)),
    open: (conn) => {
      conns.set(conn.id, conn);
      hub.join(conn.id, conn.user.slug, conn.user.identity);
    },
    message: (conn, text) => hub.message(conn.id, text),
    close: (conn) => {
      conns.delete(conn.id);
      hub.leave(conn.id);
    },
  }, { maxMessageBytes: MAX_FRAME_BYTES, maxBackpressure: o.maxBackpressureBytes, idleTimeoutSeconds: o.idleTimeoutSeconds });
}
