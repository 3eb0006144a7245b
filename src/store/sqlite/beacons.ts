// Repository for player quality-of-experience beacons, one row per report, per session and participant.

import type { Db } from './db.js';
import type { Beacon } from '../../domain/records.js';

export class BeaconRepo {
  constructor(private readonly db: Db) {}

  add(b: Beacon): void {
    this.db.prepare(`INSERT INTO beacons (channel_id, session_id, user_id, at, startup_ms, rebuffers, rebuffer_ms, played_ms, bitrate, rendition, latency_ms, errors)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(b.channelId, b.sessionId, b.userId, b.at, b.startupMs, b.rebuffers, b.rebufferMs, b.playedMs, b.bitrate, b.rendition, b.latencyMs, JSON.stringify(b.errors));
  }

  /** Deletes beacons older than `before` (ms); how many went. */
  prune(before: number): number {
    return this.db.prepare('DELETE FROM beacons WHERE at < ?').run(before).changes;
  }

  /** Distinct players of a channel that sent a beacon since `at` (ms): the HLS audience for /metrics. */
  playersSince(channelId: number, at: number): number {
    return (this.db.prepare('SELECT COUNT(DISTINCT user_id) AS n FROM beacons WHERE channel_id = ? AND at >= ?').get(channelId, at) as { n: number }).n;
  }

  forSession(sessionId: string): Beacon[] {
    return (this.db.prepare('SELECT * FROM beacons WHERE session_id = ? ORDER BY at').all(sessionId) as Record<string, unknown>[]).map((r) => ({
      channelId: r.channel_id as number, sessionId: r.session_id as string, userId: r.user_id as string, at: r.at as number,
      startupMs: r.startup_ms as number | null, rebuffers: r.rebuffers as number, rebufferMs: r.rebuffer_ms as number, playedMs: r.played_ms as number,
      bitrate: r.bitrate as number | null, rendition: r.rendition as string | null, latencyMs: r.latency_ms as number | null,
      errors: JSON.parse(r.errors as string) as string[],
    }));
  }
}
