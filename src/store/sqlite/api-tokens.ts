// Repository for REST API tokens: named, scoped, optionally limited to some channels, stored hashed, shown once,
// revocable.

import { API_TOKEN_PATTERN, fingerprintOf, generateApiToken, hashSecret, sameHash } from '../../auth/secrets.js';
import { ConflictError, NotFoundError, ValidationError } from '../../domain/errors.js';
import type { Db } from './db.js';
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
  constructor(private readonly db: Db, private readonly now: () => Date = () => new Date()) {}

  /** Returns the plaintext token once; only its hash is stored. */
  /** `channels`: the only channels the token may act on (checked slugs); absent or null: all. */
  create(name: string, scopes: Scope[], channels: string[] | null = null): { token: string; info: ApiTokenInfo } {
    if (channels && (channels.length === 0 || scopes.includes('admin'))) {
      throw new ValidationError(channels.length === 0 ? 'a token limited to channels needs at least one channel' : 'an admin token cannot be limited to channels: give it the scopes it needs instead');
    }
    const token = generateApiToken();
    const hash = hashSecret(token);
    try {
      const id = this.db
        .prepare('INSERT INTO api_tokens (name, scopes, channels, hash, fingerprint, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(name, scopes.join(','), channels ? [...new Set(channels)].join(',') : null, hash, fingerprintOf(hash), this.now().toISOString()).lastInsertRowid;
      return { token, info: toInfo(this.db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(id) as Row) };
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new ConflictError(`an active token named "${name}" already exists`);
      }
      throw err;
    }
  }

  list(includeRevoked = false): ApiTokenInfo[] {
    const sql = includeRevoked ? 'SELECT * FROM api_tokens ORDER BY id' : 'SELECT * FROM api_tokens WHERE revoked_at IS NULL ORDER BY id';
    return (this.db.prepare(sql).all() as Row[]).map(toInfo);
  }

  /** Revokes by name or fingerprint. */
  revoke(nameOrFingerprint: string): ApiTokenInfo {
    const row = this.db
      .prepare('SELECT * FROM api_tokens WHERE revoked_at IS NULL AND (name = ? OR fingerprint = ?)')
      .get(nameOrFingerprint, nameOrFingerprint) as Row | undefined;
    if (!row) throw new NotFoundError(`no active token "${nameOrFingerprint}" (see: kmk-live token list)`);
    this.db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ?').run(this.now().toISOString(), row.id);
    return toInfo(this.db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(row.id) as Row);
  }

  /** The active token matching the plaintext (constant-time hash comparison), marking it used. */
  verify(token: string): ApiTokenInfo | undefined {
    if (!API_TOKEN_PATTERN.test(token)) return undefined;
    const hash = hashSecret(token);
    const row = this.db.prepare('SELECT * FROM api_tokens WHERE hash = ? AND revoked_at IS NULL').get(hash) as Row | undefined;
    if (!row || !sameHash(row.hash, hash)) return undefined;
    this.db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(this.now().toISOString(), row.id);
    return toInfo(row);
  }
}
