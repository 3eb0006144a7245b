// Repository for player quality-of-experience beacons, one row per report, per session and participant.

import { get, all, run, type Work } from './query.js';
import type { Beacon } from '../../domain/records.js';

export class BeaconRepo {
  *add(b: Beacon): Work<void> {
    (yield* run(`INSERT INTO beacons (channel_id, session_id, user_id, at, startup_ms, rebuffers, rebuffer_ms, played_ms, bitrate, rendition, latency_ms, errors)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, b.channelId, b.sessionId, b.userId, b.at, b.startupMs, b.rebuffers, b.rebufferMs, b.playedMs, b.bitrate, b.rendition, b.latencyMs, JSON.stringify(b.errors)));
  }

  /** Deletes beacons older than `before` (ms); how many went. */
  *prune(before: number): Work<number> {
    return (yield* run('DELETE FROM beacons WHERE at < ?', before));
  }

  /** Distinct players of a channel that sent a beacon since `at` (ms): the HLS audience for /metrics. */
  *playersSince(channelId: number, at: number): Work<number> {
    return ((yield* get('SELECT COUNT(DISTINCT user_id) AS n FROM beacons WHERE channel_id = ? AND at >= ?', channelId, at)) as { n: number }).n;
  }

  *forSession(sessionId: string): Work<Beacon[]> {
    return ((yield* all('SELECT * FROM beacons WHERE session_id = ? ORDER BY at', sessionId)) as Record<string, unknown>[]).map((r) => ({
      channelId: r.channel_id as number, sessionId: r.session_id as string, userId: r.user_id as string, at: r.at as number,
      startupMs: r.startup_ms as number | null, rebuffers: r.rebuffers as number, rebufferMs: r.rebuffer_ms as number, playedMs: r.played_ms as number,
      bitrate: r.bitrate as number | null, rendition: r.rendition as string | null, latencyMs: r.latency_ms as number | null,
      errors: JSON.parse(r.errors as string) as string[],
    }));
  }
}
