// One class's engagement state and rules: chat, Q&A, polls, reactions, hands, presence, moderation. Pure and
// synchronous: every call takes the clock, returns what to send and what to persist, and touches no socket.
// The room is the single owner of this state; the hub only routes messages to it.

import type { Role } from '../domain/roles.js';
import { CAPTION_MAX_SKEW_MS, cueDurationMs, type CaptionCue } from '../domain/captions.js';
import { Stage, type StageChange, type StageResult } from './stage.js';
import type { PersistOp, RoomInit } from '../domain/engagement.js';

export type { PersistOp, RoomInit } from '../domain/engagement.js';
import { RateLimiter } from './rate.js';
import {
  REACTIONS, type ChatMessage, type ClassState, type ClientMsg, type ErrorCode, type HandView, type Participant,
  type PollView, type QuestionView, type Reaction, type RoomEvent, type ServerMsg, type Snapshot,
} from './protocol.js';

export interface Member extends Participant {
  connId: number;
  guest: boolean;
}

export interface Outcome {
  events: RoomEvent[];
  staffEvents: RoomEvent[];
  reply: ServerMsg[];
  toUser: { userId: string; msg: ServerMsg }[];
  persist: PersistOp[];
  kick: string[];
}

export interface RoomOptions {
  chatMaxLength: number;
  chatBurst: number;
  chatWindowMs: number;
  historySize: number;
  presenceEveryMs: number;
  newId: () => string;
  /** People on a class's stage at once (stage.maxMembers). */
  stageMax?: number;
  /** The broadcast shows the stage's members as tiles. */
  stagePicture?: boolean;
}

interface Question extends QuestionView {
  voters: Set<string>;
}
interface Poll {
  view: PollView;
  votes: Map<string, number>;
}

/** What a learner may no longer do once the class has ended. */
const LEARNER_POSTS: ReadonlySet<string> = new Set(['chat', 'ask', 'q_vote', 'poll_vote', 'hand_raise', 'react']);
const isStaff = (r: Role): boolean => r === 'instructor' || r === 'moderator';
/** Who the presence count counts: not the staff, not a captioner. */
const watches = (r: Role): boolean => !isStaff(r) && r !== 'captioner';
/** What a captioner may send besides captions. */
const CAPTIONER_MAY: ReadonlySet<string> = new Set(['caption', 'ping', 'participants']);
/** Caption lines a welcome carries (what is on screen now, and the line before). */
const CAPTIONS_KEPT = 4;
const empty = (): Outcome => ({ events: [], staffEvents: [], reply: [], toUser: [], persist: [], kick: [] });

/** Questions a learner may ask in one class, and questions a class holds. */
export const QUESTION_LIMITS = { perUser: 30, perClass: 500 };

export class Room {
  private readonly members = new Map<number, Member>();
  private readonly connsByUser = new Map<string, Set<number>>();
  private chat: ChatMessage[] = [];
  private questions = new Map<string, Question>();
  private polls = new Map<string, Poll>();
  private readonly hands = new Map<string, HandView>();
  private readonly bans = new Set<string>();
  private readonly mutes = new Map<string, number>();
  private readonly lastChat = new Map<string, number>();
  private readonly chatLimiter: RateLimiter;
  private readonly askLimiter = new RateLimiter(3, 60000);
  /** Who joined as staff (by user id, connected or not): the targets a moderator may not ban or mute. */
  private readonly staffRoles = new Map<string, Role>();
  private readonly reactLimiter = new RateLimiter(20, 10000);
  /** Upvote toggles: each is written to SQLite, so a learner gets 20 per 10 s (plenty for real voting). */
  private readonly voteLimiter = new RateLimiter(20, 10000);
  /** A fast captioner sends a line every second or two; a burst of 10 in 10 s is plenty. */
  private readonly captionLimiter = new RateLimiter(10, 10000);
  private captions: CaptionCue[] = [];
  private readonly stage: Stage;
  /** The speech engine's last word on itself (staff see it in their welcome). */
  private speech: { running: boolean; message: string } | undefined;
  private pendingReactions = new Map<Reaction, number>();
  private readonly dirtyPolls = new Set<string>();
  private readonly dirtyQuestions = new Set<string>();
  private locked = false;
  private slowModeSeconds = 0;
  private classState: ClassState = { state: 'waiting', sessionId: null, replay: null };
  private lastPresenceSent = -1;
  private lastPresenceAt = 0;
  readonly counters = { rejected: 0, reactions: 0, chat: 0 };

  constructor(readonly channel: string, private readonly o: RoomOptions, init: RoomInit = {}) {
    this.chatLimiter = new RateLimiter(o.chatBurst, o.chatWindowMs);
    this.stage = new Stage(o.stageMax ?? 6);
    this.chat = (init.chat ?? []).slice(-o.historySize);
    for (const q of init.questions ?? []) this.questions.set(q.id, { ...q, voters: new Set(q.voters) });
    for (const p of init.polls ?? []) {
      const { votes, ...view } = p;
      this.polls.set(p.id, { view, votes: new Map(votes) });
    }
    for (const b of init.bans ?? []) this.bans.add(b);
    for (const [user, until] of init.mutes ?? []) this.mutes.set(user, until);
    if (init.sessionId) this.classState = { state: 'live', sessionId: init.sessionId, replay: null };
  }

  get sessionId(): string | null {
    return this.classState.state === 'live' || this.classState.state === 'reconnecting' ? this.classState.sessionId : null;
  }

  isBanned(userId: string): boolean {
    return this.bans.has(userId);
  }

  /** Distinct users present. */
  /** Who is watching: the learners, viewers and guests in the room, each once however many devices they use.
   * Instructors and moderators are not counted (the watch page, the studio and /api/status all say this number). */
  get presence(): number {
    return this.watching;
  }

  private watching = 0;

  member(connId: number): Member | undefined {
    return this.members.get(connId);
  }

  connsOf(userId: string): number[] {
    return [...(this.connsByUser.get(userId) ?? [])];
  }

  join(m: Member): ServerMsg {
    this.members.set(m.connId, m);
    if (isStaff(m.role) && (this.staffRoles.size < 1000 || this.staffRoles.has(m.userId))) this.staffRoles.set(m.userId, m.role);
    let conns = this.connsByUser.get(m.userId);
    if (!conns) {
      this.connsByUser.set(m.userId, (conns = new Set()));
      if (watches(m.role)) this.watching += 1;
    }
    conns.add(m.connId);
    return this.welcome(m);
  }

  /** The welcome again for a member (after the hub's owner changed or Redis came back: it carries what was missed). */
  rejoin(connId: number): ServerMsg {
    const m = this.members.get(connId);
    return m ? this.welcome(m) : { v: 1, t: 'error', code: 'internal', message: 'not in this room' };
  }

  private welcome(m: Member): ServerMsg {
    const mine = {
      questionVotes: [...this.questions.values()].filter((q) => q.voters.has(m.userId)).map((q) => q.id),
      pollVotes: Object.fromEntries([...this.polls.values()].filter((p) => p.votes.has(m.userId)).map((p) => [p.view.id, p.votes.get(m.userId)!])),
      handRaised: this.hands.has(m.userId),
    };
    return { v: 1, t: 'welcome', you: { userId: m.userId, name: m.name, role: m.role, guest: m.guest }, room: this.snapshot(m.role), mine };
  }

  /** Whether this user may send audio and video to the stage now (the media side asks). */
  mayPublish(userId: string): { video: boolean; audio: boolean } {
    return this.stage.mayPublish(userId);
  }

  private onStage(m: Member, msg: Extract<ClientMsg, { t: `stage_${string}` }>, now: number, out: Outcome, fail: (code: ErrorCode, message: string) => Outcome): Outcome {
    const { state, sessionId } = this.classState;
    if ((state !== 'live' && state !== 'reconnecting') || !sessionId) return fail('class_ended', 'the stage is open while the class is live');
    const staff = isStaff(m.role);
    const onlyStaff = (): Outcome | undefined => (staff ? undefined : fail('forbidden', 'only instructors and moderators can do that'));
    let r: StageResult;
    switch (msg.t) {
      case 'stage_invite': {
        const denied = onlyStaff();
        if (denied) return denied;
        const target = this.connsOf(msg.userId).map((c) => this.members.get(c)!).find(Boolean);
        if (target && (target.role === 'viewer' || target.role === 'captioner')) return fail('forbidden', `a ${target.role} cannot be brought on stage`);
        r = this.stage.invite(m.name, target, now);
        break;
      }
      case 'stage_accept':
        if (m.role === 'viewer') return fail('forbidden', 'viewers cannot come on stage');
        r = this.stage.accept(m, now);
        break;
      case 'stage_decline':
        r = this.stage.decline(m.userId);
        break;
      case 'stage_join': {
        const denied = onlyStaff();
        if (denied) return denied;
        r = this.stage.join(m, now);
        break;
      }
      case 'stage_leave':
        r = this.stage.remove(m.userId, now, 'left');
        break;
      case 'stage_remove':
      case 'stage_mute': {
        const denied = onlyStaff();
        if (denied) return denied;
        if (this.staffRoles.get(msg.userId) === 'instructor' && m.role !== 'instructor' && msg.userId !== m.userId) return fail('forbidden', 'only an instructor can do that to an instructor');
        r = msg.t === 'stage_remove' ? this.stage.remove(msg.userId, now, 'removed') : this.stage.mute(msg.userId, msg.muted);
        break;
      }
    }
    if (!r.ok) return fail(r.code, r.message);
    this.applyStage(r.change, out, sessionId, now);
    return out;
  }

  private applyStage(c: StageChange, out: Outcome, sessionId: string | null, now: number): void {
    if (c.members) out.events.push({ t: 'stage', members: this.stage.view() });
    if (c.invites) out.staffEvents.push({ t: 'stage_invites', pending: this.stage.pending(now) });
    if (c.toUser) out.toUser.push({ userId: c.toUser.userId, msg: { v: 1, ...c.toUser.msg } });
    if (c.spell && sessionId) out.persist.push({ op: 'stage', ...c.spell, sessionId });
  }

  /** A line from the class's speech engine: no one typed it, so no role or rate rules; only the current class's. */
  systemCaption(sessionId: string, c: Omit<CaptionCue, 'id'>): Outcome {
    const out = empty();
    if (this.classState.sessionId !== sessionId || !(this.classState.captions ?? []).includes(c.lang)) return out;
    const cue: CaptionCue = { ...c, id: `c${this.o.newId()}` };
    this.keepCaption(cue);
    out.events.push({ t: 'caption', cue });
    out.persist.push({ op: 'caption', cue, sessionId });
    return out;
  }

  /** The speech engine's state, for the staff (the studio says when captions stopped). */
  captionsStatus(running: boolean, message: string): Outcome {
    const out = empty();
    this.speech = { running, message };
    out.staffEvents.push({ t: 'captions_status', running, message });
    return out;
  }

  private keepCaption(cue: CaptionCue): void {
    this.captions.push(cue);
    if (this.captions.length > CAPTIONS_KEPT) this.captions.splice(0, this.captions.length - CAPTIONS_KEPT);
  }

  private caption(m: Member, msg: Extract<ClientMsg, { t: 'caption' }>, now: number, out: Outcome, fail: (code: ErrorCode, message: string) => Outcome): Outcome {
    if (m.role !== 'captioner' && !isStaff(m.role)) return fail('forbidden', 'only a captioner, an instructor or a moderator can send captions');
    const { state, sessionId } = this.classState;
    if ((state !== 'live' && state !== 'reconnecting') || !sessionId) return fail('class_ended', 'captions are sent while the class is live');
    const langs = this.classState.captions ?? [];
    if (langs.length === 0) return fail('forbidden', 'this channel is not captioned (kmk-live channel update <slug> --captions human)');
    const lang = msg.lang ?? langs[0]!;
    if (!langs.includes(lang)) return fail('invalid', `this class is captioned in ${langs.join(', ')}`);
    if (Math.abs(msg.start - now) > CAPTION_MAX_SKEW_MS) return fail('invalid', '"start" must be the program time the player shows (epoch ms, within 2 minutes of now)');
    if (!this.captionLimiter.take(m.userId, now)) return fail('rate_limited', 'at most 10 caption lines per 10 s');
    const cue: CaptionCue = { id: `c${this.o.newId()}`, start: msg.start, end: msg.start + cueDurationMs(msg.text), text: msg.text, lang, by: m.userId };
    this.keepCaption(cue);
    out.events.push({ t: 'caption', cue });
    out.persist.push({ op: 'caption', cue, sessionId });
    return out;
  }

  /** Returns events to send when the last connection of a user leaves (their hand is lowered). */
  leave(connId: number): Outcome {
    const out = empty();
    const m = this.members.get(connId);
    if (!m) return out;
    this.members.delete(connId);
    const conns = this.connsByUser.get(m.userId);
    conns?.delete(connId);
    if (conns && conns.size === 0) {
      this.connsByUser.delete(m.userId);
      if (watches(m.role)) this.watching -= 1;
      if (this.hands.delete(m.userId)) out.staffEvents.push(this.handsEvent());
      // Gone from the class (every tab closed): off the stage too.
      if (this.stage.has(m.userId)) {
        const r = this.stage.remove(m.userId, Date.now(), 'left');
        if (r.ok) this.applyStage(r.change, out, this.classState.sessionId, Date.now());
      }
    }
    return out;
  }

  snapshot(role: Role): Snapshot {
    return {
      class: { ...this.classState },
      chat: [...this.chat],
      questions: this.orderedQuestions(),
      polls: [...this.polls.values()].map((p) => ({ ...p.view, counts: [...p.view.counts] })),
      ...(isStaff(role) ? { hands: [...this.hands.values()], ...(this.speech ? { speech: { ...this.speech } } : {}), stageInvites: this.stage.pending(Date.now()) } : {}),
      ...(this.stage.view().length ? { stage: this.stage.view() } : {}),
      stageMax: this.o.stageMax ?? 6,
      ...(this.o.stagePicture ? { stagePicture: true } : {}),
      chatState: { locked: this.locked, slowModeSeconds: this.slowModeSeconds },
      presence: this.presence,
      reactions: REACTIONS,
      ...(this.captions.length ? { captions: [...this.captions] } : {}),
    };
  }

  participants(): Participant[] {
    const seen = new Map<string, Participant>();
    for (const m of this.members.values()) if (!seen.has(m.userId)) seen.set(m.userId, { userId: m.userId, name: m.name, role: m.role });
    return [...seen.values()];
  }

  /** The class went live or ended: Q&A, polls and hands start afresh for a new class. */
  currentClass(): ClassState {
    return { ...this.classState };
  }

  setClass(state: ClassState): Outcome {
    const out = empty();
    if (state.state === 'live' && state.sessionId !== this.classState.sessionId) {
      this.questions.clear();
      this.polls.clear();
      this.hands.clear();
      this.captions = [];
      out.staffEvents.push(this.handsEvent());
    }
    if (state.state === 'ended') {
      // Everyone steps down; their spells on stage end with the class.
      const sessionId = this.classState.sessionId;
      const ended = this.stage.clear(Date.now());
      for (const c of ended) this.applyStage(c, out, sessionId, Date.now());
      // The engine stops with the class (its state may come before the class is announced, so it is not cleared
      // when one starts).
      this.speech = undefined;
      // Open polls close with their final results; raised hands go down.
      for (const p of this.polls.values()) {
        if (p.view.closed) continue;
        p.view.closed = true;
        this.dirtyPolls.delete(p.view.id);
        out.events.push({ t: 'poll', poll: { ...p.view, counts: [...p.view.counts] } });
        out.persist.push({ op: 'poll', poll: { ...p.view }, sessionId: this.classState.sessionId });
      }
      if (this.hands.size) {
        this.hands.clear();
        out.staffEvents.push(this.handsEvent());
      }
    }
    this.classState = { ...state };
    out.events.push({ t: 'class', ...state });
    return out;
  }

  handle(connId: number, msg: ClientMsg, now: number): Outcome {
    const out = empty();
    const m = this.members.get(connId);
    if (!m) return out;
    const fail = (code: ErrorCode, message: string): Outcome => {
      this.counters.rejected += 1;
      out.reply.push({ v: 1, t: 'error', code, message });
      return out;
    };
    const staff = isStaff(m.role);
    const needStaff = (): Outcome | undefined => (staff ? undefined : fail('forbidden', 'only instructors and moderators can do that'));
    const needInstructor = (): Outcome | undefined => (m.role === 'instructor' ? undefined : fail('forbidden', 'only the instructor can do that'));
    const mutedUntil = this.mutes.get(m.userId);
    const muted = mutedUntil !== undefined && mutedUntil > now;

    switch (msg.t) {
      case 'ping':
        out.reply.push({ v: 1, t: 'pong' });
        return out;
      default:
        if (m.role === 'viewer') return fail('forbidden', 'viewers can watch and read but not take part');
        if (m.role === 'captioner' && !CAPTIONER_MAY.has(msg.t)) return fail('forbidden', 'a captioner sends captions only');
        // After the class: chat, Q&A, polls and hands are read-only for learners until the next class starts.
        if (this.classState.state === 'ended' && !staff && LEARNER_POSTS.has(msg.t)) return fail('class_ended', 'the class has ended: chat, questions, polls and hands are read-only now');
    }
    switch (msg.t) {
      case 'caption':
        return this.caption(m, msg, now, out, fail);
      case 'stage_invite':
      case 'stage_accept':
      case 'stage_decline':
      case 'stage_join':
      case 'stage_leave':
      case 'stage_remove':
      case 'stage_mute':
        return this.onStage(m, msg, now, out, fail);
      case 'chat': {
        if (!staff) {
          if (this.locked) return fail('chat_locked', 'chat is locked by the instructor');
          if (muted) return fail('muted', `you are muted until ${new Date(mutedUntil!).toISOString()}`);
          const last = this.lastChat.get(m.userId);
          if (this.slowModeSeconds > 0 && last !== undefined && now - last < this.slowModeSeconds * 1000) {
            return fail('slow_mode', `slow mode: one message every ${this.slowModeSeconds} s`);
          }
          if (!this.chatLimiter.take(m.userId, now)) return fail('rate_limited', `at most ${this.o.chatBurst} messages per ${this.o.chatWindowMs / 1000} s`);
        }
        this.lastChat.set(m.userId, now);
        const chat: ChatMessage = { id: this.o.newId(), userId: m.userId, name: m.name, role: m.role, text: msg.text, at: now };
        this.chat.push(chat);
        if (this.chat.length > this.o.historySize) this.chat.splice(0, this.chat.length - this.o.historySize);
        this.counters.chat += 1;
        out.events.push({ t: 'chat', msg: chat });
        out.persist.push({ op: 'chat', msg: chat, sessionId: this.classState.sessionId });
        return out;
      }
      case 'ask': {
        if (muted) return fail('muted', 'you are muted');
        if (!staff && !this.askLimiter.take(m.userId, now)) return fail('rate_limited', 'at most 3 questions a minute');
        // Every welcome carries the class's questions: both caps keep it small.
        if (this.questions.size >= QUESTION_LIMITS.perClass) return fail('rate_limited', `this class has reached its ${QUESTION_LIMITS.perClass} questions`);
        if (!staff && [...this.questions.values()].filter((x) => x.userId === m.userId).length >= QUESTION_LIMITS.perUser) {
          return fail('rate_limited', `at most ${QUESTION_LIMITS.perUser} questions per person in a class`);
        }
        const q: Question = { id: this.o.newId(), userId: m.userId, name: m.name, role: m.role, text: msg.text, votes: 0, status: 'open', at: now, voters: new Set() };
        this.questions.set(q.id, q);
        out.events.push({ t: 'question', q: view(q) });
        out.persist.push({ op: 'question', q: view(q), sessionId: this.classState.sessionId });
        return out;
      }
      case 'q_vote': {
        const q = this.questions.get(msg.id);
        if (!q) return fail('not_found', 'no such question');
        if (!this.voteLimiter.take(m.userId, now)) return fail('rate_limited', 'at most 20 votes per 10 s');
        const on = !q.voters.has(m.userId);
        if (on) q.voters.add(m.userId);
        else q.voters.delete(m.userId);
        q.votes = q.voters.size;
        this.dirtyQuestions.add(q.id);
        out.persist.push({ op: 'question_vote', id: q.id, userId: m.userId, on });
        return out;
      }
      case 'q_answer':
      case 'q_dismiss': {
        const denied = needStaff();
        if (denied) return denied;
        const q = this.questions.get(msg.id);
        if (!q) return fail('not_found', 'no such question');
        q.status = msg.t === 'q_answer' ? 'answered' : 'dismissed';
        out.events.push({ t: 'question', q: view(q) });
        out.persist.push({ op: 'question', q: view(q), sessionId: this.classState.sessionId });
        return out;
      }
      case 'poll_create': {
        const denied = needInstructor();
        if (denied) return denied;
        const poll: Poll = {
          view: { id: this.o.newId(), question: msg.question, options: msg.options, counts: msg.options.map(() => 0), total: 0, closed: false, at: now },
          votes: new Map(),
        };
        this.polls.set(poll.view.id, poll);
        out.events.push({ t: 'poll', poll: { ...poll.view, counts: [...poll.view.counts] } });
        out.persist.push({ op: 'poll', poll: { ...poll.view }, sessionId: this.classState.sessionId });
        return out;
      }
      case 'poll_vote': {
        const p = this.polls.get(msg.id);
        if (!p) return fail('not_found', 'no such poll');
        if (p.view.closed) return fail('poll_closed', 'this poll is closed');
        if (msg.option >= p.view.options.length) return fail('invalid', 'no such option');
        const prev = p.votes.get(m.userId);
        if (prev === msg.option) return out;
        if (prev !== undefined) p.view.counts[prev]! -= 1;
        else p.view.total += 1;
        p.view.counts[msg.option]! += 1;
        p.votes.set(m.userId, msg.option);
        this.dirtyPolls.add(p.view.id);
        out.persist.push({ op: 'poll_vote', id: p.view.id, userId: m.userId, option: msg.option });
        return out;
      }
      case 'poll_close': {
        const denied = needInstructor();
        if (denied) return denied;
        const p = this.polls.get(msg.id);
        if (!p) return fail('not_found', 'no such poll');
        p.view.closed = true;
        this.dirtyPolls.delete(p.view.id);
        out.events.push({ t: 'poll', poll: { ...p.view, counts: [...p.view.counts] } });
        out.persist.push({ op: 'poll', poll: { ...p.view }, sessionId: this.classState.sessionId });
        return out;
      }
      case 'react': {
        if (!this.reactLimiter.take(m.userId, now)) return out; // silently dropped: reactions are ephemeral
        this.pendingReactions.set(msg.emoji, (this.pendingReactions.get(msg.emoji) ?? 0) + 1);
        this.counters.reactions += 1;
        if (this.classState.sessionId) out.persist.push({ op: 'tally', kind: 'reaction', userId: m.userId, sessionId: this.classState.sessionId, n: 1 });
        return out;
      }
      case 'hand_raise':
        if (!this.hands.has(m.userId)) {
          this.hands.set(m.userId, { userId: m.userId, name: m.name, at: now });
          out.staffEvents.push(this.handsEvent());
          if (this.classState.sessionId) out.persist.push({ op: 'tally', kind: 'hand', userId: m.userId, sessionId: this.classState.sessionId, n: 1 });
        }
        out.toUser.push({ userId: m.userId, msg: { v: 1, t: 'hand', raised: true } });
        return out;
      case 'hand_lower': {
        const target = msg.userId ?? m.userId;
        if (target !== m.userId) {
          const denied = needStaff();
          if (denied) return denied;
        }
        if (this.hands.delete(target)) out.staffEvents.push(this.handsEvent());
        out.toUser.push({ userId: target, msg: { v: 1, t: 'hand', raised: false } });
        return out;
      }
      case 'participants': {
        const denied = needStaff();
        if (denied) return denied;
        out.reply.push({ v: 1, t: 'participants', list: this.participants() });
        return out;
      }
      case 'delete': {
        const denied = needStaff();
        if (denied) return denied;
        const i = this.chat.findIndex((c) => c.id === msg.id);
        if (i < 0) return fail('not_found', 'no such message');
        this.chat.splice(i, 1);
        out.events.push({ t: 'chat_deleted', id: msg.id });
        out.persist.push({ op: 'chat_delete', id: msg.id, at: now });
        return out;
      }
      case 'mute': {
        const rank = this.outranks(m.role, msg.userId, 'mute');
        const denied = needStaff() ?? (rank ? fail('forbidden', rank) : undefined);
        if (denied) return denied;
        const until = now + msg.minutes * 60000;
        this.mutes.set(msg.userId, until);
        out.toUser.push({ userId: msg.userId, msg: { v: 1, t: 'muted', until } });
        out.persist.push({ op: 'mute', userId: msg.userId, until });
        return out;
      }
      case 'ban': {
        const rank = this.outranks(m.role, msg.userId, 'ban');
        const denied = needStaff() ?? (rank ? fail('forbidden', rank) : undefined);
        if (denied) return denied;
        if (msg.userId === m.userId) return fail('invalid', 'you cannot ban yourself');
        this.bans.add(msg.userId);
        this.hands.delete(msg.userId);
        out.events.push({ t: 'kicked', userId: msg.userId, reason: 'banned' });
        out.persist.push({ op: 'ban', userId: msg.userId, by: m.userId, at: now });
        out.kick.push(msg.userId);
        return out;
      }
      case 'clear_reactions': {
        const denied = needStaff();
        if (denied) return denied;
        this.pendingReactions.clear();
        out.events.push({ t: 'reactions_cleared' });
        return out;
      }
      case 'lock_chat': {
        const denied = needStaff();
        if (denied) return denied;
        this.locked = msg.locked;
        out.events.push({ t: 'chat_state', locked: this.locked, slowModeSeconds: this.slowModeSeconds });
        return out;
      }
      case 'slow_mode': {
        const denied = needInstructor();
        if (denied) return denied;
        this.slowModeSeconds = msg.seconds;
        out.events.push({ t: 'chat_state', locked: this.locked, slowModeSeconds: this.slowModeSeconds });
        return out;
      }
    }
  }

  /** Why the actor may not ban or mute the target (an instructor never; a moderator only by the instructor). */
  private outranks(actor: Role, target: string, what: 'ban' | 'mute'): string | undefined {
    const role = this.staffRoles.get(target);
    if (role === 'instructor') return `an instructor cannot be ${what === 'ban' ? 'banned' : 'muted'}`;
    if (role === 'moderator' && actor !== 'instructor') return `only the instructor can ${what} a moderator`;
    return undefined;
  }

  /** Called every tick: aggregated reactions, coalesced poll and question updates, presence at most every 2 s. */
  tick(now: number): RoomEvent[] {
    const events: RoomEvent[] = [];
    if (this.pendingReactions.size > 0) {
      events.push({ t: 'reactions', counts: Object.fromEntries(this.pendingReactions) });
      this.pendingReactions = new Map();
    }
    for (const id of this.dirtyPolls) {
      const p = this.polls.get(id);
      if (p) events.push({ t: 'poll', poll: { ...p.view, counts: [...p.view.counts] } });
    }
    this.dirtyPolls.clear();
    for (const id of this.dirtyQuestions) {
      const q = this.questions.get(id);
      if (q) events.push({ t: 'question', q: view(q) });
    }
    this.dirtyQuestions.clear();
    if (this.presence !== this.lastPresenceSent && now - this.lastPresenceAt >= this.o.presenceEveryMs) {
      this.lastPresenceSent = this.presence;
      this.lastPresenceAt = now;
      events.push({ t: 'presence', count: this.presence });
    }
    return events;
  }

  private orderedQuestions(): QuestionView[] {
    return [...this.questions.values()].sort((a, b) => b.votes - a.votes || a.at - b.at).map(view);
  }

  private handsEvent(): RoomEvent {
    return { t: 'hands', queue: [...this.hands.values()] };
  }
}

function view(q: Question): QuestionView {
  const { voters: _voters, ...rest } = q;
  return { ...rest };
}
