// Join tokens for the engagement hub: HS256 JWTs signed with the installation's secret. Pure functions; the
// secret is passed in. Verification failures carry a code for logs but callers answer them all alike (401).

import { createHmac, timingSafeEqual } from 'node:crypto';
import { SLUG_PATTERN } from '../domain/ids.js';
import { ROLES, type Role } from '../domain/roles.js';


export interface JoinClaims {
  sub: string;
  name: string;
  role: Role;
  channel: string;
  exp: number;
  iat?: number;
  /** A guest's own token (minted by the hub when a guest first joins): valid only while the channel takes guests. */
  guest?: true;
}

export type VerifyResult = { ok: true; claims: JoinClaims } | { ok: false; code: 'malformed' | 'bad_signature' | 'expired' | 'bad_claims' | 'revoked' };

/** Verifies a join token as this installation does: signature, claims, staff lifetime and the channel's epoch. */
export type JoinVerifier = (token: string, nowSeconds: number) => VerifyResult;

/** Tokens that act on the whole class (a captioner's lines reach every learner): minted with `tokens:staff` only,
 * and short-lived (hub.staffTokenMaxHours). */
export const isStaffRole = (r: Role): boolean => r === 'instructor' || r === 'moderator' || r === 'captioner';

export interface JoinPolicy {
  /** The longest an instructor or moderator token may live (hub.staffTokenMaxHours). */
  staffMaxSeconds: number;
  /** Tokens of the channel issued before this second are void (`kmk-live token revoke-all`); 0: none. */
  tokensAfter(channel: string): number;
  /** Guest tokens are void on a channel that no longer takes guests. */
  allowsGuests(channel: string): boolean;
}

export function joinVerifier(secret: Buffer, policy: JoinPolicy): JoinVerifier {
  return (token, nowSeconds) => {
    const v = verifyJoinToken(token, secret, nowSeconds);
    if (!v.ok) return v;
    const { claims } = v;
    if (isStaffRole(claims.role) && claims.exp > (claims.iat ?? nowSeconds) + policy.staffMaxSeconds + 300) return { ok: false, code: 'bad_claims' };
    const after = policy.tokensAfter(claims.channel);
    if (after > 0 && (claims.iat ?? 0) < after) return { ok: false, code: 'revoked' };
    if (claims.guest && !policy.allowsGuests(claims.channel)) return { ok: false, code: 'revoked' };
    return v;
  };
}

const b64 = (v: Buffer | string): string => Buffer.from(v).toString('base64url');
const HEADER = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

export function signJoinToken(claims: JoinClaims, secret: Buffer): string {
  const body = b64(JSON.stringify(claims));
  const sig = createHmac('sha256', secret).update(`${HEADER}.${body}`).digest();
  return `${HEADER}.${body}.${b64(sig)}`;
}

/** Display names: 1-80 printable characters, trimmed. */
export function validName(v: unknown): v is string {
  return typeof v === 'string' && v.trim().length > 0 && v.length <= 80 && !/[\u0000-\u001f\u007f]/.test(v);
}

export function validClaims(c: unknown): c is JoinClaims {
  if (typeof c !== 'object' || c === null) return false;
  const o = c as Record<string, unknown>;
  return typeof o.sub === 'string' && o.sub.length > 0 && o.sub.length <= 128 && !/[\u0000-\u001f]/.test(o.sub)
    && validName(o.name)
    && typeof o.role === 'string' && (ROLES as readonly string[]).includes(o.role)
    && typeof o.channel === 'string' && SLUG_PATTERN.test(o.channel)
    && typeof o.exp === 'number' && Number.isFinite(o.exp)
    && (o.iat === undefined || (typeof o.iat === 'number' && Number.isFinite(o.iat)))
    && (o.guest === undefined || (o.guest === true && o.role === 'learner' && o.sub.startsWith('guest-')));
}

export function verifyJoinToken(token: string, secret: Buffer, nowSeconds: number): VerifyResult {
  if (token.length > 4096) return { ok: false, code: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== HEADER) return { ok: false, code: 'malformed' };
  const expected = createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2]!, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, code: 'bad_signature' };
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, code: 'malformed' };
  }
  if (!validClaims(claims)) return { ok: false, code: 'bad_claims' };
  if (claims.exp <= nowSeconds) return { ok: false, code: 'expired' };
  // Nothing we mint lives longer than MAX_TTL_SECONDS: a longer life is not a token of ours to honour.
  if (claims.exp > nowSeconds + MAX_TTL_SECONDS + 300) return { ok: false, code: 'bad_claims' };
  return { ok: true, claims };
}

/** The longest a join token may live (minting refuses more; verification refuses tokens claiming more). */
export const MAX_TTL_SECONDS = 30 * 86400;

/** "4h", "90m", "3600s", "2d" → seconds. */
export function parseTtl(input: string): number | undefined {
  const m = /^(\d{1,6})([smhd])$/.exec(input.trim());
  if (!m) return undefined;
  const n = Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return n > 0 && n <= MAX_TTL_SECONDS ? n : undefined;
}
