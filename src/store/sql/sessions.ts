// Repository for live-class sessions: one row per class, from first publish to end.

import { randomBytes } from 'node:crypto';
import { NotFoundError } from '../../domain/errors.js';
import { SESSION_ID_PATTERN } from '../../domain/ids.js';
import { get, all, run, type Work } from './query.js';
import type { SessionRecord } from '../../domain/records.js';

interface Row {
  id: string;
  slug: string;
  started_at: string;
  ended_at: string | null;
  source_codec: string | null;
  ingest?: string | null;
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
  source: { codec: r.source_codec, width: r.source_width, height: r.source_height, fps: r.source_fps, audioCodec: r.audio_codec, ingest: r.ingest ?? null },
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

/** Why a session ended when another box closed it for a box that stopped answering. */
export const deadBoxReason = (node: string): string => `box ${node} stopped answering`;

/** A session's record as start() writes it, before its source is known. */
export function startedRecord(id: string, channel: string, startedAt: string, recorded: boolean): SessionRecord {
  return {
    id, channel, startedAt, endedAt: null, source: { codec: null, width: null, height: null, fps: null, audioCodec: null, ingest: null }, ladder: [], topRung: null,
    bytesIn: 0, reconnects: 0, restarts: 0, recorded, endReason: null,
  };
}

export class SessionRepo {
  /** @param node this box's name (node.name): written on the sessions it starts; the open ones it recovers */
  constructor(private readonly node: string | null = null, private readonly now: () => Date = () => new Date()) {}

  /** A new session's id and start time (the start command makes them before the row is written). */
  newStart(): { id: string; at: string } {
    return { id: 's_' + [...randomBytes(16)].map((b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join(''), at: this.now().toISOString() };
  }

  *start(channelId: number, recorded: boolean, made = this.newStart()): Work<SessionRecord> {
    const { id, at } = made;
    yield* run('INSERT INTO sessions (id, channel_id, started_at, recorded, node) VALUES (?, ?, ?, ?, ?)', id, channelId, at, recorded ? 1 : 0, this.node);
    return yield* this.get(id);
  }

  *setSource(id: string, s: { codec: string; width: number; height: number; fps: number; audioCodec: string; ingest?: string }, ladder: string[], topRung: string | null = null): Work<void> {
    (yield* run(`UPDATE sessions SET source_codec = ?, source_width = ?, source_height = ?, source_fps = ?, audio_codec = ?, ladder = ?,
                     top_rung = ?, ingest = ? WHERE id = ?`, s.codec, s.width, s.height, s.fps, s.audioCodec, JSON.stringify(ladder), topRung, s.ingest ?? 'rtmp', id));
  }

  *update(id: string, p: { bytesIn?: number; reconnects?: number; restarts?: number }): Work<void> {
    const cur = yield* this.get(id);
    yield* run('UPDATE sessions SET bytes_in = ?, reconnects = ?, restarts = ? WHERE id = ?', p.bytesIn ?? cur.bytesIn, p.reconnects ?? cur.reconnects, p.restarts ?? cur.restarts, id);
  }

  *end(id: string, reason: string): Work<void> {
    yield* run('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL', this.now().toISOString(), reason, id);
  }

  /** Sessions of this box still open (at start-up: those a crash interrupted); rows without a box too (made
   * before boxes had names). */
  *open(): Work<{ id: string; channel: string; recorded: boolean; startedAt: string }[]> {
    return ((yield* all(`${SELECT} WHERE s.ended_at IS NULL AND (s.node IS NULL OR s.node = ?)`, this.node ?? '')) as Row[]).map((r) => ({ id: r.id, channel: r.slug, recorded: r.recorded === 1, startedAt: r.started_at }));
  }

  /** Ends a session a crash interrupted, at the time its recording last grew, and says whether the recording was kept. */
  *endInterrupted(id: string, at: Date, recorded: boolean): Work<void> {
    yield* run("UPDATE sessions SET ended_at = ?, end_reason = 'server stopped unexpectedly', recorded = ? WHERE id = ? AND ended_at IS NULL", at.toISOString(), recorded ? 1 : 0, id);
  }

  /** This box's recorded sessions another box closed while this one was not answering: their recordings are still
   * in this box's live folders (none on the embedded file). */
  *closedWhileAway(): Work<{ id: string; channel: string }[]> {
    if (this.node === null) return [];
    return ((yield* all(`${SELECT} WHERE s.node = ? AND s.end_reason = ? AND s.recorded = 1`, this.node, deadBoxReason(this.node))) as Row[])
      .map((r) => ({ id: r.id, channel: r.slug }));
  }

  /** Says what became of such a session's recording. */
  *markRecovered(id: string, kept: boolean): Work<void> {
    yield* run('UPDATE sessions SET end_reason = ?, recorded = ? WHERE id = ?', `${deadBoxReason(this.node ?? '')}; ${kept ? 'recording kept' : 'no recording found'} when it came back`, kept ? 1 : 0, id);
  }

  /** Sessions of this box (or of none) left open by a crash are closed at start-up. */
  *endAllOpen(reason: string): Work<number> {
    return (yield* run('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE ended_at IS NULL AND (node IS NULL OR node = ?)', this.now().toISOString(), reason, this.node ?? ''));
  }

  *find(id: string): Work<SessionRecord | undefined> {
    if (!SESSION_ID.test(id)) return undefined;
    const row = (yield* get(`${SELECT} WHERE s.id = ?`, id)) as Row | undefined;
    return row && toRecord(row);
  }

  *get(id: string): Work<SessionRecord> {
    const s = yield* this.find(id);
    if (!s) throw new NotFoundError(`no session "${id.slice(0, 40)}" (see: kmk-live session list)`);
    return s;
  }

  *list(opts: { channel?: string; limit?: number } = {}): Work<SessionRecord[]> {
    const limit = Math.min(Math.max(opts.limit ?? 50, 1), 1000);
    const rows = opts.channel
      ? (yield* all(`${SELECT} WHERE c.slug = ? ORDER BY s.started_at DESC LIMIT ?`, opts.channel, limit))
      : (yield* all(`${SELECT} ORDER BY s.started_at DESC LIMIT ?`, limit));
    return (rows as Row[]).map(toRecord);
  }
}
