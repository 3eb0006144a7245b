// Playback tokens for private channels: a short HMAC-signed grant for one channel's live HLS ("c:<slug>") or one
// session's recording ("s:<sessionId>"), with an expiry. Pure; the secret is passed in. The token travels in the
// query (`?pt=`) of the master playlist, and the origin copies it onto every URI in the playlists it serves, so
// segment URLs stay the same for everyone apart from the query (a CDN can cache on the path alone).

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type PlaybackScope = `c:${string}` | `s:${string}`;

const sig = (payload: string, secret: Buffer): Buffer => createHmac('sha256', secret).update(`playback.${payload}`).digest();

/** `viewer`: who the token was handed to (a join token's user), kept as a short hash so each learner's token differs
 * and the origin's logs can tell viewers apart without carrying LMS ids in URLs. */
export function signPlayback(scope: PlaybackScope, expSeconds: number, secret: Buffer, viewer?: string): string {
  const u = viewer ? createHash('sha256').update(viewer).digest('base64url').slice(0, 11) : undefined;
  const payload = Buffer.from(JSON.stringify({ s: scope, e: expSeconds, ...(u ? { u } : {}) })).toString('base64url');
  return `${payload}.${sig(payload, secret).subarray(0, 16).toString('base64url')}`;
}

export type PlaybackCheck = 'ok' | 'missing' | 'malformed' | 'bad_signature' | 'expired' | 'wrong_scope';

/** Checks a token against the scopes the request may use (a channel's live stream, or a session's replay). */
export function checkPlayback(token: string | undefined, allowed: readonly PlaybackScope[], secret: Buffer, nowSeconds: number): PlaybackCheck {
  if (!token) return 'missing';
  if (token.length > 512) return 'malformed';
  const [payload, mac, extra] = token.split('.');
  if (!payload || !mac || extra !== undefined) return 'malformed';
  const expected = sig(payload, secret).subarray(0, 16);
  const given = Buffer.from(mac, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad_signature';
  let claims: { s?: unknown; e?: unknown };
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { s?: unknown; e?: unknown };
  } catch {
    return 'malformed';
  }
  if (typeof claims.s !== 'string' || typeof claims.e !== 'number') return 'malformed';
  if (claims.e <= nowSeconds) return 'expired';
  return (allowed as readonly string[]).includes(claims.s) ? 'ok' : 'wrong_scope';
}
