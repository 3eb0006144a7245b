// Repository for REST API tokens: named, scoped, optionally limited to some channels, stored hashed, shown once,
// revocable.

import { API_TOKEN_PATTERN, fingerprintOf, generateApiToken, hashSecret, sameHash } from '../../auth/secrets.js';
import { ConflictError, NotFoundError, ValidationError } from '../../domain/errors.js';
import { get, all, run, isUniqueViolation, type Work } from './query.js';
import type { ApiTokenInfo, Scope } from '../../domain/api-tokens.js';

interface Row {
  id: number;
  name: string;
  scopes: string;
  channels: string | null;
  hash: string;
  fingerprint: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

const toInfo = (r: Row): ApiTokenInfo => ({
  id: r.id,
  name: r.name,
  scopes: r.scopes.split(',') as Scope[],
  channels: r.channels === null ? null : r.channels.split(','),
  fingerprint: r.fingerprint,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

export class ApiTokenRepo {
  constructor(private readonly now: () => Date = () => new Date()) {}

  /** Returns the plaintext token once; only its hash is stored. */
  /** `channels`: the only channels the token may act on (checked slugs); absent or null: all. */
  *create(name: string, scopes: Scope[], channels: string[] | null = null): Work<{ token: string; info: ApiTokenInfo }> {
    if (channels && (channels.length === 0 || scopes.includes('admin'))) {
      throw new ValidationError(channels.length === 0 ? 'a token limited to channels needs at least one channel' : 'an admin token cannot be limited to channels: give it the scopes it needs instead');
    }
    const token = generateApiToken();
    const hash = hashSecret(token);
    try {
      const row = (yield* get('INSERT INTO api_tokens (name, scopes, channels, hash, fingerprint, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *', name, scopes.join(','), channels ? [...new Set(channels)].join(',') : null, hash, fingerprintOf(hash), this.now().toISOString())) as Row;
      return { token, info: toInfo(row) };
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new ConflictError(`an active token named "${name}" already exists`);
      }
      throw err;
    }
  }

  *list(includeRevoked = false): Work<ApiTokenInfo[]> {
    const sql = includeRevoked ? 'SELECT * FROM api_tokens ORDER BY id' : 'SELECT * FROM api_tokens WHERE revoked_at IS NULL ORDER BY id';
    return ((yield* all(sql)) as Row[]).map(toInfo);
  }

  /** Revokes by name or fingerprint. */
  *revoke(nameOrFingerprint: string): Work<ApiTokenInfo> {
    const row = (yield* get('SELECT * FROM api_tokens WHERE revoked_at IS NULL AND (name = ? OR fingerprint = ?)', nameOrFingerprint, nameOrFingerprint)) as Row | undefined;
    if (!row) throw new NotFoundError(`no active token "${nameOrFingerprint}" (see: kmk-live token list)`);
    yield* run('UPDATE api_tokens SET revoked_at = ? WHERE id = ?', this.now().toISOString(), row.id);
    return toInfo((yield* get('SELECT * FROM api_tokens WHERE id = ?', row.id)) as Row);
  }

  /** The active token matching the plaintext (constant-time hash comparison), marking it used. */
  *verify(token: string): Work<ApiTokenInfo | undefined> {
    if (!API_TOKEN_PATTERN.test(token)) return undefined;
    const hash = hashSecret(token);
    const row = (yield* get('SELECT * FROM api_tokens WHERE hash = ? AND revoked_at IS NULL', hash)) as Row | undefined;
    if (!row || !sameHash(row.hash, hash)) return undefined;
    yield* run('UPDATE api_tokens SET last_used_at = ? WHERE id = ?', this.now().toISOString(), row.id);
    return toInfo(row);
  }
}
