// Minting join tokens from a request (REST or CLI): validates the fields into claims. Pure given the clock.

import { isStaffRole, parseTtl, signJoinToken, validName, type JoinClaims } from './join-token.js';
import { ROLES, type Role } from '../domain/roles.js';
import { ForbiddenError, ValidationError } from '../domain/errors.js';

export interface MintInput {
  channel: string;
  user: unknown;
  name: unknown;
  role: unknown;
  ttl?: unknown;
}

/** What the minting side may issue: instructor and moderator tokens at all, and how long they may live. */
export interface MintPolicy {
  staff: boolean;
  staffMaxSeconds: number;
}

export const DEFAULT_STAFF_MAX_SECONDS = 12 * 3600;
const ANY: MintPolicy = { staff: true, staffMaxSeconds: DEFAULT_STAFF_MAX_SECONDS };

export function claimsFrom(input: MintInput, nowSeconds: number, policy: MintPolicy = ANY): JoinClaims {
  if (typeof input.user !== 'string' || input.user.length === 0 || input.user.length > 128 || /[\u0000-\u001f]/.test(input.user)) {
    throw new ValidationError('"user" must be the LMS user id (1-128 characters)');
  }
  if (!validName(input.name)) throw new ValidationError('"name" must be a display name of 1-80 printable characters');
  if (typeof input.role !== 'string' || !(ROLES as readonly string[]).includes(input.role)) {
    throw new ValidationError(`"role" must be one of ${ROLES.join(', ')}`);
  }
  const ttlText = input.ttl === undefined ? '4h' : input.ttl;
  const ttl = typeof ttlText === 'string' ? parseTtl(ttlText) : undefined;
  if (ttl === undefined) throw new ValidationError('"ttl" must look like 90m, 4h or 2d (at most 30d)');
  if (isStaffRole(input.role as Role)) {
    if (!policy.staff) throw new ForbiddenError(`minting a ${input.role as string} token needs the "tokens:staff" scope (tokens:join mints learner and viewer tokens)`);
    if (ttl > policy.staffMaxSeconds) throw new ValidationError(`an ${input.role as string} token lives at most ${policy.staffMaxSeconds / 3600}h (hub.staffTokenMaxHours)`);
  }
  return { sub: input.user, name: input.name.trim(), role: input.role as Role, channel: input.channel, iat: nowSeconds, exp: nowSeconds + ttl };
}

export function mint(input: MintInput, secret: Buffer, nowSeconds: number, policy: MintPolicy = ANY): { token: string; claims: JoinClaims } {
  const claims = claimsFrom(input, nowSeconds, policy);
  return { token: signJoinToken(claims, secret), claims };
}
