// Repository for stream keys: at most one active key per channel, stored only as SHA-256 hash + fingerprint.
// The plaintext is returned once by rotate() and never written anywhere.

import { fingerprintOf, generateStreamKey, hashSecret, sameHash, STREAM_KEY_PATTERN } from '../../auth/secrets.js';
import { get, all, run, tx, type Work } from './query.js';
import type { StreamKeyInfo } from '../../domain/records.js';

interface Row {
  id: number;
  channel_id: number;
  hash: string;
  fingerprint: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

const toInfo = (r: Row): StreamKeyInfo => ({
  fingerprint: r.fingerprint,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
  active: r.revoked_at === null,
});

export class StreamKeyRepo {
  constructor(private readonly now: () => Date = () => new Date()) {}

  /** Revokes the active key (if any) and issues a new one, atomically. Returns the plaintext: show it once. */
  *rotate(channelId: number): Work<{ key: string; info: StreamKeyInfo }> {
    const key = generateStreamKey();
    const hash = hashSecret(key);
    const at = this.now().toISOString();
    const row = yield* tx(function* () {
      yield* run('UPDATE stream_keys SET revoked_at = ? WHERE channel_id = ? AND revoked_at IS NULL', at, channelId);
      return (yield* get('INSERT INTO stream_keys (channel_id, hash, fingerprint, created_at) VALUES (?, ?, ?, ?) RETURNING *', channelId, hash, fingerprintOf(hash), at)) as Row;
    });
    return { key, info: toInfo(row) };
  }

  /** Revokes the active key; returns false when the channel had none. */
  *revoke(channelId: number): Work<boolean> {
    const changes = (yield* run('UPDATE stream_keys SET revoked_at = ? WHERE channel_id = ? AND revoked_at IS NULL', this.now().toISOString(), channelId));
    return changes > 0;
  }

  *list(channelId: number): Work<StreamKeyInfo[]> {
    return ((yield* all('SELECT * FROM stream_keys WHERE channel_id = ? ORDER BY id DESC', channelId)) as Row[]).map(toInfo);
  }

  /** Notes that the channel's active key was just used to publish. */
  *markUsed(channelId: number): Work<void> {
    yield* run('UPDATE stream_keys SET last_used_at = ? WHERE channel_id = ? AND revoked_at IS NULL', this.now().toISOString(), channelId);
  }

  /**
   * The channel id an active key belongs to, or undefined. The lookup is by the key's hash (so timing reveals
   * nothing about the plaintext) and the stored hash is then compared in constant time.
   */
  *channelForKey(key: string, markUsed = true): Work<number | undefined> {
    if (!STREAM_KEY_PATTERN.test(key)) return undefined;
    const hash = hashSecret(key);
    const row = (yield* get('SELECT * FROM stream_keys WHERE hash = ? AND revoked_at IS NULL', hash)) as Row | undefined;
    if (!row || !sameHash(row.hash, hash)) return undefined;
    if (markUsed) (yield* run('UPDATE stream_keys SET last_used_at = ? WHERE id = ?', this.now().toISOString(), row.id));
    return row.channel_id;
  }
}
