// What an API token may do (its scopes) and what is known of one; the parsing of names and scope lists given by
// an operator. The tokens themselves are kept, hashed, by the store.

import { ValidationError } from './errors.js';

/** tokens:join mints learner and viewer join tokens; tokens:staff also instructor and moderator ones. */
export const SCOPES = ['admin', 'channels:read', 'channels:write', 'sessions:read', 'tokens:join', 'tokens:staff'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiTokenInfo {
  id: number;
  name: string;
  scopes: Scope[];
  /** The only channels this token may act on; null: every channel. */
  channels: string[] | null;
  fingerprint: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export function parseScopes(input: string): Scope[] {
  const parts = input.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const bad = parts.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (parts.length === 0 || bad.length) {
    throw new ValidationError(`invalid scope ${JSON.stringify(bad[0] ?? input)}: expected a comma-separated list of ${SCOPES.join(', ')}`);
  }
  return SCOPES.filter((s) => parts.includes(s));
}

export function parseTokenName(input: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(input)) {
    throw new ValidationError(`invalid token name ${JSON.stringify(input.slice(0, 80))}: use 1-64 characters of A-Z, a-z, 0-9, ., _ and -`);
  }
  return input;
}
