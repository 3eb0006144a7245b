// Repository for live-class sessions: one row per class, from first publish to end.

import { randomBytes } from 'node:crypto';
import { NotFoundError } from '../../domain/errors.js';
import { SESSION_ID_PATTERN } from '../../domain/ids.js';
import type { Db } from './db.js';
import type { SessionRecord } from '../../domain/records.js';

interface Row {
  id: string;
  slug: string;
  started_at: string;
  ended_at: string | null;
  source_codec: string | null;
  source_width: number | null;
  source_height: number | null;
  source_fps: number | null;
  audio_codec: string | null;
  ladder: string;
  top_rung: string | null;
  bytes_in: number;
  reconnects: number;
  restarts: number;
  recorded: number;
  end_reason: string | null;
}

const SELECT = 'SELECT s.*, c.slug FROM sessions s JOIN channels c ON c.id = s.channel_id';

const toRecord = (r: Row): SessionRecord => ({
  id: r.id,
  channel: r.slug,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  source: { codec: r.source_codec, width: r.source_width, height: r.source_height, fps: r.source_fps, audioCodec: r.audio_codec },
  ladder: JSON.parse(r.ladder) as string[],
  topRung: r.top_rung,
  bytesIn: r.bytes_in,
  reconnects: r.reconnects,
  restarts: r.restarts,
  recorded: r.recorded === 1,
  endReason: r.end_reason,
});

/** Session ids appear in URLs (/vod/<id>/): random, URL-safe, not guessable from the channel. */
export const SESSION_ID = SESSION_ID_PATTERN;

export class SessionRepo {
  constructor(private readonly db: Db, private readonly now: () => Date = () => new Date()) {}

  start(channelId: number, recorded: boolean): SessionRecord {
    const id = 's_' + [...randomBytes(16)].map((b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join('');
    this.db.prepare('INSERT INTO sessions (id, channel_id, started_at, recorded) VALUES (?, ?, ?, ?)')
      .run(id, channelId, this.now().toISOString(), recorded ? 1 : 0);
    return this.get(id);
  }

  setSource(id: string, s: { codec: string; width: number; height: number; fps: number; audioCodec: string }, ladder: string[], topRung: string | null = null): void {
    this.db.prepare(`UPDATE sessions SET source_codec = ?, source_width = ?, source_height = ?, source_fps = ?, audio_codec = ?, ladder = ?,
                     top_rung = ? WHERE id = ?`).run(s.codec, s.width, s.height, s.fps, s.audioCodec, JSON.stringify(ladder), topRung, id);
  }

  update(id: string, p: { bytesIn?: number; reconnects?: number; restarts?: number }): void {
    const cur = this.get(id);
    this.db.prepare('UPDATE sessions SET bytes_in = ?, reconnects = ?, restarts = ? WHERE id = ?')
      .run(p.bytesIn ?? cur.bytesIn, p.reconnects ?? cur.reconnects, p.restarts ?? cur.restarts, id);
  }

  end(id: string, reason: string): void {
    this.db.prepare('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL').run(this.now().toISOString(), reason, id);
  }

  /** Sessions still open (at start-up: those a crash interrupted). */
  open(): { id: string; channel: string; recorded: boolean; startedAt: string }[] {
    return (this.db.prepare(`${SELECT} WHERE s.ended_at IS NULL`).all() as Row[]).map((r) => ({ id: r.id, channel: r.slug, recorded: r.recorded === 1, startedAt: r.started_at }));
  }

  /** Ends a session a crash interrupted, at the time its recording last grew, and says whether the recording was kept. */
  endInterrupted(id: string, at: Date, recorded: boolean): void {
    this.db.prepare("UPDATE sessions SET ended_at = ?, end_reason = 'server stopped unexpectedly', recorded = ? WHERE id = ? AND ended_at IS NULL")
      .run(at.toISOString(), recorded ? 1 : 0, id);
  }

  /** Sessions left open by a crash are closed at start-up. */
  endAllOpen(reason: string): number {
    return this.db.prepare('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE ended_at IS NULL').run(this.now().toISOString(), reason).changes;
  }

  find(id: string): SessionRecord | undefined {
    if (!SESSION_ID.test(id)) return undefined;
    const row = this.db.prepare(`${SELECT} WHERE s.id = ?`).get(id) as Row | undefined;
    return row && toRecord(row);
  }

  get(id: string): SessionRecord {
    const s = this.find(id);
    if (!s) throw new NotFoundError(`no session "${id.slice(0, 40)}" (see: kmk-live session list)`);
    return s;
  }

  list(opts: { channel?: string; limit?: number } = {}): SessionRecord[] {
    const limit = Math.min(Math.max(opts.limit ?? 50, 1), 1000);
    const rows = opts.channel
      ? this.db.prepare(`${SELECT} WHERE c.slug = ? ORDER BY s.started_at DESC LIMIT ?`).all(opts.channel, limit)
      : this.db.prepare(`${SELECT} ORDER BY s.started_at DESC LIMIT ?`).all(limit);
    return (rows as Row[]).map(toRecord);
  }
}
