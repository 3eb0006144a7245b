// Repository for everything Mux: a channel's live stream ids, a session's overflow flag and asset ids, archive
// upload jobs (resumable across restarts) and the ids of webhook events already handled.

import { get, all, run, type Work } from './query.js';
import type { ArchiveStatus, ArchiveJob } from '../../domain/records.js';

const toJob = (r: Record<string, unknown>): ArchiveJob => ({
  sessionId: r.session_id as string, status: r.status as ArchiveStatus, file: r.file as string | null, size: r.size as number | null,
  sha256: r.sha256 as string | null, uploadId: r.upload_id as string | null, uploadUrl: r.upload_url as string | null,
  bytesSent: r.bytes_sent as number, assetId: r.asset_id as string | null, playbackId: r.playback_id as string | null,
  attempts: r.attempts as number, error: r.error as string | null, leaseUntil: r.lease_until as number,
});

const COLUMNS: Record<keyof Omit<ArchiveJob, 'sessionId'>, string> = {
  status: 'status', file: 'file', size: 'size', sha256: 'sha256', uploadId: 'upload_id', uploadUrl: 'upload_url', bytesSent: 'bytes_sent',
  assetId: 'asset_id', playbackId: 'playback_id', attempts: 'attempts', error: 'error', leaseUntil: 'lease_until',
};

export class MuxRepo {
  *channelStream(slug: string): Work<{ liveStreamId: string | null; playbackId: string | null }> {
    const r = (yield* get('SELECT mux_live_stream_id AS s, mux_playback_id AS p FROM channels WHERE slug = ?', slug)) as { s: string | null; p: string | null } | undefined;
    return { liveStreamId: r?.s ?? null, playbackId: r?.p ?? null };
  }

  *setChannelStream(slug: string, liveStreamId: string, playbackId: string | null): Work<void> {
    yield* run('UPDATE channels SET mux_live_stream_id = ?, mux_playback_id = ? WHERE slug = ?', liveStreamId, playbackId, slug);
  }

  /**
   * Records what Mux last said about a channel's live stream (active, idle, disconnected). Webhooks can arrive out
   * of order: an event older than the stored one changes nothing. Returns whether it was applied.
   */
  *setStreamStatus(liveStreamId: string, status: string, at: string): Work<boolean> {
    return (yield* run(`UPDATE channels SET mux_stream_status = ?, mux_stream_status_at = ?
      WHERE mux_live_stream_id = ? AND (mux_stream_status_at IS NULL OR mux_stream_status_at <= ?)`, status, at, liveStreamId, at)) > 0;
  }

  *channelByLiveStream(liveStreamId: string): Work<string | undefined> {
    return ((yield* get('SELECT slug FROM channels WHERE mux_live_stream_id = ?', liveStreamId)) as { slug: string } | undefined)?.slug;
  }

  *markOverflow(sessionId: string): Work<void> {
    yield* run('UPDATE sessions SET overflow = 1 WHERE id = ?', sessionId);
  }

  *setSessionAsset(sessionId: string, assetId: string, playbackId: string | null): Work<void> {
    yield* run('UPDATE sessions SET mux_asset_id = ?, mux_playback_id = ? WHERE id = ?', assetId, playbackId, sessionId);
  }

  *sessionMux(sessionId: string): Work<{ overflow: boolean; assetId: string | null; playbackId: string | null } | undefined> {
    const r = (yield* get('SELECT overflow, mux_asset_id, mux_playback_id FROM sessions WHERE id = ?', sessionId)) as
      { overflow: number; mux_asset_id: string | null; mux_playback_id: string | null } | undefined;
    return r && { overflow: r.overflow === 1, assetId: r.mux_asset_id, playbackId: r.mux_playback_id };
  }

  /** Overflow sessions of a live stream, newest first (Mux's live-stream asset belongs to the latest). */
  *overflowSessionOf(slug: string): Work<string | undefined> {
    return ((yield* get(`SELECT s.id FROM sessions s JOIN channels c ON c.id = s.channel_id
      WHERE c.slug = ? AND s.overflow = 1 ORDER BY s.started_at DESC LIMIT 1`, slug)) as { id: string } | undefined)?.id;
  }

  *createJob(sessionId: string): Work<ArchiveJob> {
    (yield* run(`INSERT INTO archive_jobs (session_id, status, updated_at) VALUES (?, 'pending', ?)
      ON CONFLICT(session_id) DO UPDATE SET status = CASE WHEN archive_jobs.status IN ('errored') THEN 'pending' ELSE archive_jobs.status END, updated_at = excluded.updated_at`, sessionId, Date.now()));
    return (yield* this.job(sessionId))!;
  }

  *job(sessionId: string): Work<ArchiveJob | undefined> {
    const r = (yield* get('SELECT * FROM archive_jobs WHERE session_id = ?', sessionId)) as Record<string, unknown> | undefined;
    return r && toJob(r);
  }

  *jobByUpload(uploadId: string): Work<ArchiveJob | undefined> {
    const r = (yield* get('SELECT * FROM archive_jobs WHERE upload_id = ?', uploadId)) as Record<string, unknown> | undefined;
    return r && toJob(r);
  }

  *jobByAsset(assetId: string): Work<ArchiveJob | undefined> {
    const r = (yield* get('SELECT * FROM archive_jobs WHERE asset_id = ?', assetId)) as Record<string, unknown> | undefined;
    return r && toJob(r);
  }

  *unfinishedJobs(): Work<ArchiveJob[]> {
    return ((yield* all("SELECT * FROM archive_jobs WHERE status NOT IN ('ready', 'errored') ORDER BY updated_at")) as Record<string, unknown>[]).map(toJob);
  }

  *updateJob(sessionId: string, patch: Partial<Omit<ArchiveJob, 'sessionId'>>): Work<void> {
    const keys = Object.keys(patch) as (keyof typeof COLUMNS)[];
    if (keys.length === 0) return;
    const sets = keys.map((k) => `${COLUMNS[k]} = ?`).join(', ');
    yield* run(`UPDATE archive_jobs SET ${sets}, updated_at = ? WHERE session_id = ?`, ...keys.map((k) => patch[k] ?? null), Date.now(), sessionId);
  }

  /** Takes the job for this process if nobody holds it; false when another process is working on it. */
  *lease(sessionId: string, ms: number): Work<boolean> {
    const now = Date.now();
    return (yield* run('UPDATE archive_jobs SET lease_until = ? WHERE session_id = ? AND lease_until < ?', now + ms, sessionId, now)) === 1;
  }

  /** Records a webhook event id; false when it was already handled. */
  *firstSeen(eventId: string, type: string): Work<boolean> {
    return (yield* run('INSERT INTO mux_events (id, type, received_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', eventId, type, Date.now())) === 1;
  }
}
