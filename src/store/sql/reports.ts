// Reads for the reports (one class's records, by session) and the traffic counters the origin flushes.
// SQL for engagement_counts and session_traffic lives here.

import { get, all, run, tx, type Work } from './query.js';
import type { ClassData } from '../../domain/class-records.js';
import type { TrafficRow } from '../../domain/records.js';

export class ReportRepo {
  /** Everything a class report needs except the session, roster and clock. */
  *records(sessionId: string): Work<Omit<ClassData, 'session' | 'now' | 'roster'>> {
    const attendance = ((yield* all('SELECT user_id, name, role, joined_at, left_at FROM attendance WHERE session_id = ?', sessionId)) as
      { user_id: string; name: string; role: string; joined_at: number; left_at: number | null }[])
      .map((r) => ({ userId: r.user_id, name: r.name, role: r.role, joinedAt: r.joined_at, leftAt: r.left_at }));
    const chat = ((yield* all('SELECT user_id, at, deleted_at FROM chat_messages WHERE session_id = ?', sessionId)) as { user_id: string; at: number; deleted_at: number | null }[])
      .map((r) => ({ userId: r.user_id, at: r.at, deleted: r.deleted_at !== null }));
    const questions = ((yield* all('SELECT id, user_id FROM questions WHERE session_id = ?', sessionId)) as { id: string; user_id: string }[])
      .map((r) => ({ id: r.id, userId: r.user_id }));
    const questionVotes = ((yield* all('SELECT v.question_id, v.user_id FROM question_votes v JOIN questions q ON q.id = v.question_id WHERE q.session_id = ?', sessionId)) as
      { question_id: string; user_id: string }[]).map((r) => ({ questionId: r.question_id, userId: r.user_id }));
    const polls = ((yield* all('SELECT id, question, options, closed FROM polls WHERE session_id = ? ORDER BY at', sessionId)) as
      { id: string; question: string; options: string; closed: number }[]).map((r) => ({ id: r.id, question: r.question, options: JSON.parse(r.options) as string[], closed: r.closed === 1 }));
    const pollVotes = ((yield* all('SELECT v.poll_id, v.user_id, v.option FROM poll_votes v JOIN polls p ON p.id = v.poll_id WHERE p.session_id = ?', sessionId)) as
      { poll_id: string; user_id: string; option: number }[]).map((r) => ({ pollId: r.poll_id, userId: r.user_id, option: r.option }));
    const tallies = ((yield* all('SELECT user_id, reactions, hands FROM engagement_counts WHERE session_id = ?', sessionId)) as
      { user_id: string; reactions: number; hands: number }[]).map((r) => ({ userId: r.user_id, reactions: r.reactions, hands: r.hands }));
    const beacons = ((yield* all('SELECT user_id, at, startup_ms, rebuffers, rebuffer_ms, played_ms, rendition, errors FROM beacons WHERE session_id = ? ORDER BY at', sessionId)) as
      { user_id: string; at: number; startup_ms: number | null; rebuffers: number; rebuffer_ms: number; played_ms: number; rendition: string | null; errors: string }[])
      .map((r) => ({ userId: r.user_id, at: r.at, startupMs: r.startup_ms, rebuffers: r.rebuffers, rebufferMs: r.rebuffer_ms, playedMs: r.played_ms, rendition: r.rendition, errors: JSON.parse(r.errors) as string[] }));
    return { attendance, chat, questions, questionVotes, polls, pollVotes, tallies, beacons };
  }

  /** Adds counted traffic (one transaction for a whole flush). */
  *addTraffic(rows: readonly TrafficRow[]): Work<void> {
    if (rows.length === 0) return;
    yield* tx(function* () {
      for (const r of rows) {
        yield* run(`INSERT INTO session_traffic (session_id, kind, rendition, bytes, requests) VALUES (?, ?, ?, ?, ?)
          ON CONFLICT(session_id, kind, rendition) DO UPDATE SET bytes = session_traffic.bytes + excluded.bytes,
            requests = session_traffic.requests + excluded.requests`, r.sessionId, r.kind, r.rendition, r.bytes, r.requests);
      }
    });
  }

  *traffic(sessionId: string): Work<TrafficRow[]> {
    return ((yield* all('SELECT * FROM session_traffic WHERE session_id = ? ORDER BY kind, rendition', sessionId)) as
      { session_id: string; kind: 'live' | 'replay'; rendition: string; bytes: number; requests: number }[])
      .map((r) => ({ sessionId: r.session_id, kind: r.kind, rendition: r.rendition, bytes: r.bytes, requests: r.requests }));
  }

  *addEncodeCpu(sessionId: string, ms: number): Work<void> {
    if (ms > 0) (yield* run('UPDATE sessions SET encode_cpu_ms = encode_cpu_ms + ? WHERE id = ?', Math.round(ms), sessionId));
  }

  *encodeCpuMs(sessionId: string): Work<number> {
    return ((yield* get('SELECT encode_cpu_ms FROM sessions WHERE id = ?', sessionId)) as { encode_cpu_ms: number } | undefined)?.encode_cpu_ms ?? 0;
  }

  /** Ended sessions that started in [from, to), oldest first, with what the cost report needs from the row. */
  *sessionsBetween(from: number, to: number): Work<{ id: string; channel: string; start: number; end: number; ladder: string[]; overflow: boolean; archived: boolean; encodeCpuMs: number }[]> {
    return ((yield* all(`SELECT s.id, c.slug, s.started_at, s.ended_at, s.ladder, s.overflow, s.mux_asset_id, s.encode_cpu_ms
        FROM sessions s JOIN channels c ON c.id = s.channel_id
        WHERE s.ended_at IS NOT NULL AND s.started_at >= ? AND s.started_at < ? ORDER BY s.started_at`, new Date(from).toISOString(), new Date(to).toISOString())) as
      { id: string; slug: string; started_at: string; ended_at: string; ladder: string; overflow: number; mux_asset_id: string | null; encode_cpu_ms: number }[])
      .map((r) => ({
        id: r.id, channel: r.slug, start: Date.parse(r.started_at), end: Date.parse(r.ended_at), ladder: JSON.parse(r.ladder) as string[],
        overflow: r.overflow === 1, archived: r.mux_asset_id !== null, encodeCpuMs: r.encode_cpu_ms,
      }));
  }

  *bytesServed(sessionId: string): Work<number> {
    return ((yield* get('SELECT COALESCE(SUM(bytes), 0) AS b FROM session_traffic WHERE session_id = ?', sessionId)) as { b: number }).b;
  }
}
