// Repository for engagement data: chat, questions and votes, polls and votes, bans, attendance. Writes arrive as
// batches of operations from the hub and are applied in one transaction per batch.

import type { ChatMessage, PollView, QuestionView, RoomInit } from '../../domain/engagement.js';
import type { Role } from '../../domain/roles.js';
import type { Db } from './db.js';
import type { EngagementOp, AttendanceRow } from '../../domain/records.js';

export class EngagementRepo {
  constructor(private readonly db: Db) {}

  /** Applies a batch of operations atomically. */
  apply(ops: readonly EngagementOp[]): void {
    if (ops.length === 0) return;
    const db = this.db;
    const st = {
      chat: db.prepare('INSERT OR IGNORE INTO chat_messages (id, channel_id, session_id, user_id, name, role, text, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      chatDelete: db.prepare('UPDATE chat_messages SET deleted_at = ? WHERE id = ?'),
      question: db.prepare(`INSERT INTO questions (id, channel_id, session_id, user_id, name, role, text, status, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                            ON CONFLICT(id) DO UPDATE SET status = excluded.status`),
      voteOn: db.prepare('INSERT OR IGNORE INTO question_votes (question_id, user_id) VALUES (?, ?)'),
      voteOff: db.prepare('DELETE FROM question_votes WHERE question_id = ? AND user_id = ?'),
      poll: db.prepare(`INSERT INTO polls (id, channel_id, session_id, question, options, closed, at) VALUES (?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT(id) DO UPDATE SET closed = excluded.closed`),
      pollVote: db.prepare(`INSERT INTO poll_votes (poll_id, user_id, option) VALUES (?, ?, ?)
                            ON CONFLICT(poll_id, user_id) DO UPDATE SET option = excluded.option`),
      ban: db.prepare('INSERT OR IGNORE INTO bans (channel_id, user_id, by_user, at) VALUES (?, ?, ?, ?)'),
      mute: db.prepare(`INSERT INTO mutes (channel_id, user_id, until) VALUES (?, ?, ?)
                        ON CONFLICT(channel_id, user_id) DO UPDATE SET until = excluded.until`),
      attend: db.prepare('INSERT OR IGNORE INTO attendance (key, channel_id, session_id, user_id, name, role, joined_at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      leave: db.prepare('UPDATE attendance SET left_at = ? WHERE key = ?'),
      closeOpen: db.prepare('UPDATE attendance SET left_at = ? WHERE left_at IS NULL AND channel_id = ? AND joined_at <= ?'),
      reaction: db.prepare(`INSERT INTO engagement_counts (session_id, user_id, reactions) VALUES (?, ?, ?)
                            ON CONFLICT(session_id, user_id) DO UPDATE SET reactions = reactions + excluded.reactions`),
      hand: db.prepare(`INSERT INTO engagement_counts (session_id, user_id, hands) VALUES (?, ?, ?)
                        ON CONFLICT(session_id, user_id) DO UPDATE SET hands = hands + excluded.hands`),
    };
    db.transaction(() => {
      for (const o of ops) {
        switch (o.op) {
          case 'chat':
            st.chat.run(o.msg.id, o.channelId, o.sessionId, o.msg.userId, o.msg.name, o.msg.role, o.msg.text, o.msg.at);
            break;
          case 'chat_delete':
            st.chatDelete.run(o.at, o.id);
            break;
          case 'question':
            st.question.run(o.q.id, o.channelId, o.sessionId, o.q.userId, o.q.name, o.q.role, o.q.text, o.q.status, o.q.at);
            break;
          case 'question_vote':
            (o.on ? st.voteOn : st.voteOff).run(o.id, o.userId);
            break;
          case 'poll':
            st.poll.run(o.poll.id, o.channelId, o.sessionId, o.poll.question, JSON.stringify(o.poll.options), o.poll.closed ? 1 : 0, o.poll.at);
            break;
          case 'poll_vote':
            st.pollVote.run(o.id, o.userId, o.option);
            break;
          case 'ban':
            st.ban.run(o.channelId, o.userId, o.by, o.at);
            break;
          case 'mute':
            st.mute.run(o.channelId, o.userId, o.until);
            break;
          case 'tally':
            (o.kind === 'reaction' ? st.reaction : st.hand).run(o.sessionId, o.userId, o.n);
            break;
          case 'attend':
            st.attend.run(o.key, o.channelId, o.sessionId, o.userId, o.name, o.role, o.at);
            break;
          case 'leave':
            st.leave.run(o.at, o.key);
            break;
          case 'close_open':
            st.closeOpen.run(o.at, o.channelId, o.at);
            break;
        }
      }
    })();
  }

  isBanned(channelId: number, userId: string): boolean {
    return this.db.prepare('SELECT 1 FROM bans WHERE channel_id = ? AND user_id = ?').get(channelId, userId) !== undefined;
  }

  /** What a room needs after a restart: the last chat messages, and the questions and polls of its class. */
  loadRoom(channelId: number, sessionId: string | null, historySize: number): RoomInit {
    const chat = (this.db.prepare(`SELECT id, user_id, name, role, text, at FROM chat_messages
        WHERE channel_id = ? AND deleted_at IS NULL ORDER BY at DESC, rowid DESC LIMIT ?`).all(channelId, historySize) as
        { id: string; user_id: string; name: string; role: Role; text: string; at: number }[])
      .reverse().map((r): ChatMessage => ({ id: r.id, userId: r.user_id, name: r.name, role: r.role, text: r.text, at: r.at }));
    const sessionClause = sessionId === null ? 'session_id IS NULL' : 'session_id = ?';
    const args = sessionId === null ? [channelId] : [channelId, sessionId];
    const questions = (this.db.prepare(`SELECT * FROM questions WHERE channel_id = ? AND ${sessionClause}`).all(...args) as
        { id: string; user_id: string; name: string; role: Role; text: string; status: QuestionView['status']; at: number }[])
      .map((r) => {
        const voters = (this.db.prepare('SELECT user_id FROM question_votes WHERE question_id = ?').all(r.id) as { user_id: string }[]).map((v) => v.user_id);
        return { id: r.id, userId: r.user_id, name: r.name, role: r.role, text: r.text, status: r.status, at: r.at, votes: voters.length, voters };
      });
    const polls = (this.db.prepare(`SELECT * FROM polls WHERE channel_id = ? AND ${sessionClause} ORDER BY at`).all(...args) as
        { id: string; question: string; options: string; closed: number; at: number }[])
      .map((r) => {
        const options = JSON.parse(r.options) as string[];
        const votes = (this.db.prepare('SELECT user_id, option FROM poll_votes WHERE poll_id = ?').all(r.id) as { user_id: string; option: number }[])
          .map((v): [string, number] => [v.user_id, v.option]);
        const counts = options.map((_, i) => votes.filter(([, o]) => o === i).length);
        const view: PollView = { id: r.id, question: r.question, options, counts, total: votes.length, closed: r.closed === 1, at: r.at };
        return { ...view, votes };
      });
    const bans = (this.db.prepare('SELECT user_id FROM bans WHERE channel_id = ?').all(channelId) as { user_id: string }[]).map((b) => b.user_id);
    const mutes = (this.db.prepare('SELECT user_id, until FROM mutes WHERE channel_id = ? AND until > ?').all(channelId, Date.now()) as { user_id: string; until: number }[])
      .map((m): [string, number] => [m.user_id, m.until]);
    return { chat, questions, polls, bans, mutes, sessionId };
  }

  attendance(sessionId: string): AttendanceRow[] {
    return (this.db.prepare('SELECT * FROM attendance WHERE session_id = ? ORDER BY joined_at').all(sessionId) as
      { user_id: string; name: string; role: string; session_id: string | null; joined_at: number; left_at: number | null }[])
      .map((r) => ({ userId: r.user_id, name: r.name, role: r.role, sessionId: r.session_id, joinedAt: r.joined_at, leftAt: r.left_at }));
  }

  /** Attendance left open by a crash is closed at start-up. */
  closeOpenAttendance(at: number): void {
    this.db.prepare('UPDATE attendance SET left_at = ? WHERE left_at IS NULL').run(at);
  }
}
