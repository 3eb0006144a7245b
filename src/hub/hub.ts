// Routes connections and messages to rooms (one per channel), batches each room's outgoing events per tick into
// one frame per topic, and writes engagement data to the store in batched transactions off the message path.
// Transport-agnostic: the socket binding hands it a small Transport.

import { randomBytes } from 'node:crypto';
import type { Role } from '../domain/roles.js';
import type { Logger } from '../log.js';
import type { EngagementOp } from '../store/engagement.js';
import { parseClientMessage, type RoomEvent, type ServerMsg } from './protocol.js';
import { Room, type Outcome, type RoomInit } from './room.js';
import { replayUrl } from '../domain/media-layout.js';

export interface Transport {
  publish(topic: string, frame: string): void;
  send(connId: number, frame: string): void;
  close(connId: number, code: number, reason: string): void;
  subscribe(connId: number, topic: string): void;
}

export interface Identity {
  userId: string;
  name: string;
  role: Role;
  guest: boolean;
}

export interface HubDeps {
  channelId(slug: string): number | undefined;
  startsAt(slug: string): string | null;
  loadRoom(channelId: number, sessionId: string | null, historySize: number): RoomInit;
  liveSession(slug: string): string | undefined;
  persist(ops: EngagementOp[]): void;
  log: Logger;
}

export interface HubOptions {
  tickMs: number;
  flushMs: number;
  chatMaxLength: number;
  chatBurst: number;
  chatWindowMs: number;
  historySize: number;
  presenceEveryMs: number;
  /** Most engagement writes queued before a flush is forced. */
  maxQueue: number;
}

export const DEFAULT_HUB_OPTIONS: HubOptions = {
  tickMs: 50, flushMs: 250, chatMaxLength: 500, chatBurst: 5, chatWindowMs: 10000, historySize: 100, presenceEveryMs: 2000, maxQueue: 5000,
};

interface Conn {
  id: number;
  slug: string;
  channelId: number;
  identity: Identity;
  attendanceKey: string;
  joinedAt: number;
}

interface RoomEntry {
  room: Room;
  channelId: number;
  events: RoomEvent[];
  staffEvents: RoomEvent[];
}

export const roomTopic = (slug: string): string => `room/${slug}`;
export const staffTopic = (slug: string): string => `staff/${slug}`;
const MAX_PENDING_EVENTS = 2000;
/** Engagement records kept for a database that keeps failing, before the oldest are dropped. */
const MAX_PENDING_OPS = 200_000;
const newId = (): string => randomBytes(9).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '0');

export class Hub {
  private readonly rooms = new Map<string, RoomEntry>();
  private readonly conns = new Map<number, Conn>();
  private queue: EngagementOp[] = [];
  private tickTimer?: NodeJS.Timeout;
  private flushTimer?: NodeJS.Timeout;
  private readonly tallies = new Map<string, Extract<EngagementOp, { op: 'tally' }>>();
  private transport?: Transport;
  readonly counters = { frames: 0, invalid: 0, eventsDropped: 0, persistFailures: 0, persistRetries: 0, persistDropped: 0, persisted: 0 };
  private retryAt = 0;
  private retryDelayMs = 0;
  private failingSince?: number;

  constructor(private readonly o: HubOptions, private readonly d: HubDeps) {}

  attach(transport: Transport): void {
    this.transport = transport;
  }

  async start(): Promise<void> {
    this.tickTimer = setInterval(() => this.tick(), this.o.tickMs);
    this.flushTimer = setInterval(() => this.flush(), this.o.flushMs);
  }

  /** Sends what is pending and writes every queued record (retrying a locked database a few times). */
  async stop(): Promise<void> {
    clearInterval(this.tickTimer);
    clearInterval(this.flushTimer);
    const at = Date.now();
    for (const c of this.conns.values()) this.queue.push({ op: 'leave', key: c.attendanceKey, at, channelId: c.channelId });
    this.tick();
    for (let attempt = 0; attempt < 3 && this.queue.length > 0; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 200 * attempt));
      this.flush(Infinity);
    }
    if (this.queue.length) this.d.log.error('engagement records not written at shutdown', { ops: this.queue.length });
  }

  /** For the upgrade: may this user join this channel? */
  admit(slug: string, userId: string): 'ok' | 'no_channel' | 'banned' {
    const entry = this.roomFor(slug);
    if (!entry) return 'no_channel';
    return entry.room.isBanned(userId) ? 'banned' : 'ok';
  }

  join(connId: number, slug: string, identity: Identity): void {
    const entry = this.roomFor(slug);
    const t = this.transport;
    if (!entry || !t) return;
    const key = newId();
    this.conns.set(connId, { id: connId, slug, channelId: entry.channelId, identity, attendanceKey: key, joinedAt: Date.now() });
    const welcome = entry.room.join({ connId, ...identity });
    if (welcome.t === 'welcome') welcome.room.class.startsAt = this.d.startsAt(slug);
    t.subscribe(connId, roomTopic(slug));
    if (identity.role === 'instructor' || identity.role === 'moderator') t.subscribe(connId, staffTopic(slug));
    t.send(connId, JSON.stringify(welcome));
    this.enqueue({ op: 'attend', key, userId: identity.userId, name: identity.name, role: identity.role, sessionId: entry.room.sessionId, at: Date.now(), channelId: entry.channelId });
  }

  leave(connId: number): void {
    const c = this.conns.get(connId);
    if (!c) return;
    this.conns.delete(connId);
    const entry = this.rooms.get(c.slug);
    if (entry) this.apply(entry, entry.room.leave(connId), connId);
    this.enqueue({ op: 'leave', key: c.attendanceKey, at: Date.now(), channelId: c.channelId });
  }

  message(connId: number, text: string | null): void {
    const c = this.conns.get(connId);
    const t = this.transport;
    if (!c || !t) return;
    this.counters.frames += 1;
    const entry = this.rooms.get(c.slug);
    if (!entry) return;
    if (text === null) {
      this.counters.invalid += 1;
      t.send(connId, JSON.stringify({ v: 1, t: 'error', code: 'bad_frame', message: 'send JSON text frames, not binary' } satisfies ServerMsg));
      return;
    }
    const parsed = parseClientMessage(text, { chatMaxLength: this.o.chatMaxLength });
    if (!parsed.ok) {
      this.counters.invalid += 1;
      const err: ServerMsg = { v: 1, t: 'error', code: parsed.code, message: parsed.message, ...(parsed.ref ? { ref: parsed.ref } : {}) };
      t.send(connId, JSON.stringify(err));
      return;
    }
    const out = entry.room.handle(connId, parsed.msg, Date.now());
    if (parsed.ref) for (const r of out.reply) if (r.t === 'error') r.ref = parsed.ref;
    this.apply(entry, out, connId);
  }

  /** @param startedAt when the session began (the publish): who was already in the room attends from then */
  classStarted(slug: string, sessionId: string, startedAt?: number): void {
    const entry = this.roomFor(slug);
    if (!entry) return;
    this.apply(entry, entry.room.setClass({ state: 'live', sessionId, replay: null }));
    this.reattend(entry, slug, sessionId, startedAt);
  }

  /** The publisher dropped or came back: same session, so no reset and no new attendance interval. */
  publisherState(slug: string, sessionId: string, state: 'reconnecting' | 'live'): void {
    const entry = this.rooms.get(slug);
    if (!entry) return;
    this.apply(entry, entry.room.setClass({ state, sessionId, replay: null }));
  }

  classEnded(slug: string, sessionId: string, recorded: boolean): void {
    const entry = this.rooms.get(slug);
    if (!entry) return;
    this.apply(entry, entry.room.setClass({ state: 'ended', sessionId, replay: recorded ? replayUrl(sessionId) : null }));
    this.reattend(entry, slug, null);
  }

  /** The schedule changed: a waiting room (or one whose class ended) shows the next start. */
  scheduleChanged(slug: string): void {
    const entry = this.rooms.get(slug);
    if (!entry) return;
    const cur = entry.room.currentClass();
    if (cur.state !== 'waiting' && cur.state !== 'ended') return;
    this.apply(entry, entry.room.setClass({ ...cur, startsAt: this.d.startsAt(slug) }));
  }

  presence(slug: string): number {
    return this.rooms.get(slug)?.room.presence ?? 0;
  }

  get connections(): number {
    return this.conns.size;
  }

  /** Attendance is per session: a class starting or ending closes everyone's interval and opens a new one. */
  private reattend(entry: RoomEntry, slug: string, sessionId: string | null, since?: number): void {
    const now = Date.now();
    for (const c of this.conns.values()) {
      if (c.slug !== slug) continue;
      // The ladder starts a few seconds after the publish: someone already waiting attends from the session's start.
      const at = since !== undefined ? Math.min(now, Math.max(since, c.joinedAt)) : now;
      this.enqueue({ op: 'leave', key: c.attendanceKey, at, channelId: c.channelId });
      c.attendanceKey = newId();
      this.enqueue({ op: 'attend', key: c.attendanceKey, userId: c.identity.userId, name: c.identity.name, role: c.identity.role, sessionId, at, channelId: entry.channelId });
    }
  }

  private roomFor(slug: string): RoomEntry | undefined {
    let entry = this.rooms.get(slug);
    if (entry) return entry;
    const channelId = this.d.channelId(slug);
    if (channelId === undefined) return undefined;
    const live = this.d.liveSession(slug) ?? null;
    const init = this.d.loadRoom(channelId, live, this.o.historySize);
    const room = new Room(slug, {
      chatMaxLength: this.o.chatMaxLength, chatBurst: this.o.chatBurst, chatWindowMs: this.o.chatWindowMs,
      historySize: this.o.historySize, presenceEveryMs: this.o.presenceEveryMs, newId,
    }, init);
    entry = { room, channelId, events: [], staffEvents: [] };
    this.rooms.set(slug, entry);
    return entry;
  }

  private apply(entry: RoomEntry, out: Outcome, connId?: number): void {
    const t = this.transport;
    if (!t) return;
    for (const r of out.reply) if (connId !== undefined) t.send(connId, JSON.stringify(r));
    for (const { userId, msg } of out.toUser) {
      const frame = JSON.stringify(msg);
      for (const id of entry.room.connsOf(userId)) t.send(id, frame);
    }
    this.push(entry.events, out.events);
    this.push(entry.staffEvents, out.staffEvents);
    for (const op of out.persist) this.enqueue({ ...op, channelId: entry.channelId });
    for (const userId of out.kick) {
      for (const id of entry.room.connsOf(userId)) t.close(id, 4003, 'banned');
    }
  }

  private push(target: RoomEvent[], events: RoomEvent[]): void {
    for (const e of events) {
      if (target.length >= MAX_PENDING_EVENTS) {
        this.counters.eventsDropped += 1;
        continue;
      }
      target.push(e);
    }
  }

  /** Sends each room's pending events (the tick timer calls it; public for tests). */
  tick(): void {
    const t = this.transport;
    if (!t) return;
    const now = Date.now();
    for (const [slug, entry] of this.rooms) {
      this.push(entry.events, entry.room.tick(now));
      if (entry.events.length) {
        t.publish(roomTopic(slug), JSON.stringify({ v: 1, t: 'batch', events: entry.events } satisfies ServerMsg));
        entry.events = [];
      }
      if (entry.staffEvents.length) {
        t.publish(staffTopic(slug), JSON.stringify({ v: 1, t: 'batch', events: entry.staffEvents } satisfies ServerMsg));
        entry.staffEvents = [];
      }
    }
  }

  private enqueue(op: EngagementOp): void {
    if (op.op === 'tally') {
      // Reactions come by the hundred a second: one counter update per learner per flush, not one per reaction.
      const key = `${op.sessionId} ${op.userId} ${op.kind}`;
      const same = this.tallies.get(key);
      if (same) {
        same.n += op.n;
        return;
      }
      this.tallies.set(key, op);
    }
    this.queue.push(op);
    if (this.queue.length >= this.o.maxQueue) this.flush();
  }

  /** Writes the queued engagement records (the flush timer calls it; public for tests). */
  flush(now = Date.now()): void {
    if (this.queue.length === 0 || now < this.retryAt) return;
    const batch = this.queue;
    this.queue = [];
    this.tallies.clear();
    try {
      this.d.persist(batch);
      this.counters.persisted += batch.length;
      if (this.failingSince !== undefined) this.d.log.info('engagement writes recovered', { ops: batch.length, afterMs: now - this.failingSince });
      this.failingSince = undefined;
      this.retryDelayMs = 0;
      this.retryAt = 0;
    } catch (err) {
      // Locked or slow database: keep the batch (it was acknowledged to its senders) and try again later, in order.
      this.counters.persistFailures += 1;
      this.queue = batch.concat(this.queue);
      this.retryDelayMs = Math.min(Math.max(this.retryDelayMs * 2, this.o.flushMs), 5000);
      this.retryAt = now + this.retryDelayMs;
      this.counters.persistRetries += 1;
      if (this.failingSince === undefined) {
        this.failingSince = now;
        this.d.log.warn('engagement write failed; will retry', { ops: batch.length, err });
      }
      const over = this.queue.length - MAX_PENDING_OPS;
      if (over > 0) {
        // The database has been gone for a long time: bound memory, oldest first, and say so.
        this.queue.splice(0, over);
        this.counters.persistDropped += over;
        this.d.log.error('engagement writes failing for too long; oldest dropped', { dropped: over, err });
      }
    }
  }
}
