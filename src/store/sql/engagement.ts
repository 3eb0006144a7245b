// Repository for engagement data: chat, questions and votes, polls and votes, bans, attendance, caption lines. Writes arrive as
// batches of operations from the hub and are applied in one transaction per batch.

import type { ChatMessage, PollView, QuestionView, RoomInit } from '../../domain/engagement.js';
import type { Role } from '../../domain/roles.js';
import type { CaptionCue } from '../../domain/captions.js';
import { get, all, run, tx, type Work } from './query.js';
import type { EngagementOp, AttendanceRow } from '../../domain/records.js';

/** The batch's statements, one per kind of operation. */
const SQL = {
  chat: 'INSERT INTO chat_messages (id, channel_id, session_id, user_id, name, role, text, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
  chatDelete: 'UPDATE chat_messages SET deleted_at = ? WHERE id = ?',
  question: `INSERT INTO questions (id, channel_id, session_id, user_id, name, role, text, status, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                            ON CONFLICT(id) DO UPDATE SET status = excluded.status`,
  voteOn: 'INSERT INTO question_votes (question_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING',
  voteOff: 'DELETE FROM question_votes WHERE question_id = ? AND user_id = ?',
  poll: `INSERT INTO polls (id, channel_id, session_id, question, options, closed, at) VALUES (?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT(id) DO UPDATE SET closed = excluded.closed`,
  pollVote: `INSERT INTO poll_votes (poll_id, user_id, option) VALUES (?, ?, ?)
                            ON CONFLICT(poll_id, user_id) DO UPDATE SET option = excluded.option`,
  ban: 'INSERT INTO bans (channel_id, user_id, by_user, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
  mute: `INSERT INTO mutes (channel_id, user_id, until) VALUES (?, ?, ?)
                        ON CONFLICT(channel_id, user_id) DO UPDATE SET until = excluded.until`,
  attend: 'INSERT INTO attendance (key, channel_id, session_id, user_id, name, role, joined_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
  leave: 'UPDATE attendance SET left_at = ? WHERE key = ?',
  closeOpen: 'UPDATE attendance SET left_at = ? WHERE left_at IS NULL AND channel_id = ? AND joined_at <= ?',
  reaction: `INSERT INTO engagement_counts (session_id, user_id, reactions) VALUES (?, ?, ?)
                            ON CONFLICT(session_id, user_id) DO UPDATE SET reactions = engagement_counts.reactions + excluded.reactions`,
  caption: `INSERT INTO captions (id, session_id, lang, start_ms, end_ms, text, by_user, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                            ON CONFLICT(id) DO UPDATE SET text = excluded.text, start_ms = excluded.start_ms, end_ms = excluded.end_ms`,
  stage: `INSERT INTO stage_spells (session_id, user_id, name, joined_at, left_at) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT(session_id, user_id, joined_at) DO UPDATE SET left_at = excluded.left_at`,
  hand: `INSERT INTO engagement_counts (session_id, user_id, hands) VALUES (?, ?, ?)
                        ON CONFLICT(session_id, user_id) DO UPDATE SET hands = engagement_counts.hands + excluded.hands`,
};

function groupBy<R extends { k: string }>(rows: R[]): Map<string, R[]> {
  const out = new Map<string, R[]>();
  for (const r of rows) {
    const list = out.get(r.k);
    if (list) list.push(r);
    else out.set(r.k, [r]);
  }
  return out;
}

export class EngagementRepo {
  /** Applies a batch of operations atomically. */
  *apply(ops: readonly EngagementOp[]): Work<void> {
    if (ops.length === 0) return;
    yield* tx(function* () {
      for (const o of ops) {
        switch (o.op) {
          case 'chat':
            yield* run(SQL.chat, o.msg.id, o.channelId, o.sessionId, o.msg.userId, o.msg.name, o.msg.role, o.msg.text, o.msg.at);
            break;
          case 'chat_delete':
            yield* run(SQL.chatDelete, o.at, o.id);
            break;
          case 'question':
            yield* run(SQL.question, o.q.id, o.channelId, o.sessionId, o.q.userId, o.q.name, o.q.role, o.q.text, o.q.status, o.q.at);
            break;
          case 'question_vote':
            yield* run(o.on ? SQL.voteOn : SQL.voteOff, o.id, o.userId);
            break;
          case 'poll':
            yield* run(SQL.poll, o.poll.id, o.channelId, o.sessionId, o.poll.question, JSON.stringify(o.poll.options), o.poll.closed ? 1 : 0, o.poll.at);
            break;
          case 'poll_vote':
            yield* run(SQL.pollVote, o.id, o.userId, o.option);
            break;
          case 'ban':
            yield* run(SQL.ban, o.channelId, o.userId, o.by, o.at);
            break;
          case 'mute':
            yield* run(SQL.mute, o.channelId, o.userId, o.until);
            break;
          case 'tally':
            yield* run(o.kind === 'reaction' ? SQL.reaction : SQL.hand, o.sessionId, o.userId, o.n);
            break;
          case 'caption':
            yield* run(SQL.caption, o.cue.id, o.sessionId, o.cue.lang, o.cue.start, o.cue.end, o.cue.text, o.cue.by, Date.now());
            break;
          case 'stage':
            yield* run(SQL.stage, o.sessionId, o.userId, o.name, o.joinedAt, o.leftAt);
            break;
          case 'attend':
            yield* run(SQL.attend, o.key, o.channelId, o.sessionId, o.userId, o.name, o.role, o.at);
            break;
          case 'leave':
            yield* run(SQL.leave, o.at, o.key);
            break;
          case 'close_open':
            yield* run(SQL.closeOpen, o.at, o.channelId, o.at);
            break;
        }
      }
    });
  }

  *isBanned(channelId: number, userId: string): Work<boolean> {
    return (yield* get('SELECT 1 FROM bans WHERE channel_id = ? AND user_id = ?', channelId, userId)) !== undefined;
  }

  /** What a room needs after a restart: the last chat messages, and the questions and polls of its class. */
  *loadRoom(channelId: number, sessionId: string | null, historySize: number): Work<RoomInit> {
    const chat = ((yield* all(`SELECT id, user_id, name, role, text, at FROM chat_messages
        WHERE channel_id = ? AND deleted_at IS NULL ORDER BY at DESC, rowid DESC LIMIT ?`, channelId, historySize)) as
        { id: string; user_id: string; name: string; role: Role; text: string; at: number }[])
      .reverse().map((r): ChatMessage => ({ id: r.id, userId: r.user_id, name: r.name, role: r.role, text: r.text, at: r.at }));
    const sessionClause = sessionId === null ? 'session_id IS NULL' : 'session_id = ?';
    const args = sessionId === null ? [channelId] : [channelId, sessionId];
    const voters = groupBy((yield* all(`SELECT v.question_id AS k, v.user_id AS u FROM question_votes v JOIN questions q ON q.id = v.question_id
        WHERE q.channel_id = ? AND q.${sessionClause} ORDER BY v.rowid`, ...args)) as { k: string; u: string }[]);
    const questions = ((yield* all(`SELECT * FROM questions WHERE channel_id = ? AND ${sessionClause}`, ...args)) as
        { id: string; user_id: string; name: string; role: Role; text: string; status: QuestionView['status']; at: number }[])
      .map((r) => {
        const who = (voters.get(r.id) ?? []).map((v) => v.u);
        return { id: r.id, userId: r.user_id, name: r.name, role: r.role, text: r.text, status: r.status, at: r.at, votes: who.length, voters: who };
      });
    const ballots = groupBy((yield* all(`SELECT v.poll_id AS k, v.user_id AS u, v.option FROM poll_votes v JOIN polls p ON p.id = v.poll_id
        WHERE p.channel_id = ? AND p.${sessionClause} ORDER BY v.rowid`, ...args)) as { k: string; u: string; option: number }[]);
    const polls = ((yield* all(`SELECT * FROM polls WHERE channel_id = ? AND ${sessionClause} ORDER BY at`, ...args)) as
        { id: string; question: string; options: string; closed: number; at: number }[])
      .map((r) => {
        const options = JSON.parse(r.options) as string[];
        const votes = (ballots.get(r.id) ?? []).map((v): [string, number] => [v.u, v.option]);
        const counts = options.map((_, i) => votes.filter(([, o]) => o === i).length);
        const view: PollView = { id: r.id, question: r.question, options, counts, total: votes.length, closed: r.closed === 1, at: r.at };
        return { ...view, votes };
      });
    const bans = ((yield* all('SELECT user_id FROM bans WHERE channel_id = ?', channelId)) as { user_id: string }[]).map((b) => b.user_id);
    const mutes = ((yield* all('SELECT user_id, until FROM mutes WHERE channel_id = ? AND until > ?', channelId, Date.now())) as { user_id: string; until: number }[])
      .map((m): [string, number] => [m.user_id, m.until]);
    return { chat, questions, polls, bans, mutes, sessionId };
  }

  *attendance(sessionId: string): Work<AttendanceRow[]> {
    return ((yield* all('SELECT * FROM attendance WHERE session_id = ? ORDER BY joined_at', sessionId)) as
      { user_id: string; name: string; role: string; session_id: string | null; joined_at: number; left_at: number | null }[])
      .map((r) => ({ userId: r.user_id, name: r.name, role: r.role, sessionId: r.session_id, joinedAt: r.joined_at, leftAt: r.left_at }));
  }

  /** A session's caption lines in program-time order (`since`: those still on screen at or after it). */
  *captions(sessionId: string, since = 0): Work<CaptionCue[]> {
    return ((yield* all('SELECT * FROM captions WHERE session_id = ? AND end_ms > ? ORDER BY start_ms, id', sessionId, since)) as
      { id: string; lang: string; start_ms: number | string; end_ms: number | string; text: string; by_user: string }[])
      .map((r) => ({ id: r.id, lang: r.lang, start: Number(r.start_ms), end: Number(r.end_ms), text: r.text, by: r.by_user }));
  }

  /** Who was on a session's stage, each spell in order (leftAt null: still up, or the box stopped meanwhile). */
  *stageSpells(sessionId: string): Work<{ userId: string; name: string; joinedAt: number; leftAt: number | null }[]> {
    return ((yield* all('SELECT * FROM stage_spells WHERE session_id = ? ORDER BY joined_at, user_id', sessionId)) as
      { user_id: string; name: string; joined_at: number | string; left_at: number | string | null }[])
      .map((r) => ({ userId: r.user_id, name: r.name, joinedAt: Number(r.joined_at), leftAt: r.left_at === null ? null : Number(r.left_at) }));
  }

  /** Attendance left open by a crash is closed at start-up. */
  *closeOpenAttendance(at: number): Work<void> {
    yield* run('UPDATE attendance SET left_at = ? WHERE left_at IS NULL', at);
  }
}
