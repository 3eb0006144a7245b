// Routes connections and messages to rooms (one per channel), batches each room's outgoing events per tick into
// one frame per topic, and writes engagement data to the store in batched transactions off the message path.
// Transport-agnostic: the socket binding hands it a small Transport.
//
// Two shapes, one code path. Without a backplane this process owns every room and writes SQLite itself. With one
// (hub.backplane, see docs/scaling.md) each room has one owner process holding a lease in Redis: other processes
// forward what their sockets say to it (InMsg) and fan out what it publishes (OutMsg); the owner queues
// engagement records in Redis before it publishes the frames that acknowledge them, and one writer drains them.

import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { EngagementOp } from '../store/engagement.js';
import { globalId, localOf, nodeOf, type Backplane, type InMsg, type OutMsg } from './backplane.js';
import { Backoff } from './retry.js';
import { parseClientMessage, type Identity, type RoomEvent, type ServerMsg } from './protocol.js';
import { Room, type Outcome, type RoomInit } from './room.js';
import { replayUrl } from '../domain/media-layout.js';

export interface Transport {
  publish(topic: string, frame: string): void;
  send(connId: number, frame: string): void;
  close(connId: number, code: number, reason: string): void;
  subscribe(connId: number, topic: string): void;
}

export interface HubDeps {
  channelId(slug: string): number | undefined;
  startsAt(slug: string): string | null;
  loadRoom(channelId: number, sessionId: string | null, historySize: number): RoomInit;
  liveSession(slug: string): string | undefined;
  persist(ops: EngagementOp[]): void;
  log: Logger;
  /** Spans processes through Redis when set (hub.backplane). */
  backplane?: Backplane;
  /** Timings for /metrics (seconds). */
  observe?: { fanout?(s: number): void; lag?(s: number): void; persistBatch?(s: number): void };
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

/** A member of an owned room, wherever its socket is (`gid`: see backplane.ts). */
interface Member {
  gid: number;
  slug: string;
  channelId: number;
  identity: Identity;
  attendanceKey: string;
  joinedAt: number;
}

/** A socket of this process. */
interface Local {
  slug: string;
  identity: Identity;
}

interface RoomEntry {
  room: Room;
  channelId: number;
  events: RoomEvent[];
  staffEvents: RoomEvent[];
  /** When the oldest pending event was made (fan-out latency). */
  firstAt: number;
}

type Site = 'claiming' | 'owner' | 'remote';

export const roomTopic = (slug: string): string => `room/${slug}`;
export const staffTopic = (slug: string): string => `staff/${slug}`;
const MAX_PENDING_EVENTS = 2000;
/** Engagement records kept for a database that keeps failing, before the oldest are dropped. */
const MAX_PENDING_OPS = 200_000;
/** Messages held for a room while its owner is being found. */
const MAX_PENDING_ROUTE = 10_000;
const LEASE_EVERY_MS = 2000;
const newId = (): string => randomBytes(9).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '0');

export class Hub {
  private readonly rooms = new Map<string, RoomEntry>();
  private readonly members = new Map<number, Member>();
  private readonly locals = new Map<number, Local>();
  private readonly sites = new Map<string, Site>();
  private readonly pendingRoute = new Map<string, InMsg[]>();
  /** Bans seen, for refusing an upgrade on a process that does not own the room. */
  private readonly bansSeen = new Map<string, Set<string>>();
  /** Presence of rooms owned elsewhere, as their owners last published it. */
  private readonly remotePresence = new Map<string, number>();
  private queue: EngagementOp[] = [];
  private tickTimer?: NodeJS.Timeout;
  private flushTimer?: NodeJS.Timeout;
  private leaseTimer?: NodeJS.Timeout;
  private readonly tallies = new Map<string, Extract<EngagementOp, { op: 'tally' }>>();
  private transport?: Transport;
  private persisting = false;
  readonly counters = {
    frames: 0, invalid: 0, eventsDropped: 0, persistFailures: 0, persistRetries: 0, persistDropped: 0, persisted: 0,
    forwarded: 0, fannedIn: 0, routeDropped: 0, ownerChanges: 0,
  };
  private readonly retry: Backoff;
  private failingSince?: number;
  private readonly bp?: Backplane;

  constructor(private readonly o: HubOptions, private readonly d: HubDeps) {
    this.bp = d.backplane;
    this.retry = new Backoff(o.flushMs);
  }

  private get node(): number {
    return this.bp?.node ?? 0;
  }

  attach(transport: Transport): void {
    this.transport = transport;
  }

  async start(): Promise<void> {
    if (this.bp) {
      await this.bp.start({ toOwner: (m) => this.fromEdge(m), fromOwner: (m) => this.fromOwner(m), reconnected: () => this.resyncAll() });
      this.leaseTimer = setInterval(() => void this.leases(), LEASE_EVERY_MS);
    }
    this.tickTimer = setInterval(() => this.tick(), this.o.tickMs);
    if (!this.bp) this.flushTimer = setInterval(() => this.flush(), this.o.flushMs);
  }

  /** Sends what is pending and writes every queued record (retrying a locked database a few times). */
  async stop(): Promise<void> {
    clearInterval(this.tickTimer);
    clearInterval(this.flushTimer);
    clearInterval(this.leaseTimer);
    const at = Date.now();
    for (const [id, l] of this.locals) this.route({ k: 'leave', s: l.slug, c: globalId(this.node, id), at });
    if (this.bp) {
      this.tick();
      for (let i = 0; i < 50 && this.persisting; i++) await new Promise((r) => setTimeout(r, 20));
      if (this.queue.length) {
        try {
          await this.bp.persist(this.takeQueue());
        } catch (err) {
          this.d.log.error('engagement records not queued at shutdown', { err });
        }
      }
      const owned = [...this.sites].filter(([, st]) => st === 'owner').map(([slug]) => slug);
      await this.bp.release(owned).catch(() => {});
      await this.bp.stop();
      return;
    }
    this.tick();
    for (let attempt = 0; attempt < 3 && this.queue.length > 0; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 200 * attempt));
      this.flush(Infinity);
    }
    if (this.queue.length) this.d.log.error('engagement records not written at shutdown', { ops: this.queue.length });
  }

  /** For the upgrade: may this user join this channel? */
  admit(slug: string, userId: string): 'ok' | 'no_channel' | 'banned' {
    if (!this.bp) {
      const entry = this.roomFor(slug);
      if (!entry) return 'no_channel';
      return entry.room.isBanned(userId) ? 'banned' : 'ok';
    }
    const channelId = this.d.channelId(slug);
    if (channelId === undefined) return 'no_channel';
    const owned = this.rooms.get(slug);
    if (owned) return owned.room.isBanned(userId) ? 'banned' : 'ok';
    let bans = this.bansSeen.get(slug);
    if (!bans) this.bansSeen.set(slug, (bans = new Set(this.d.loadRoom(channelId, null, 0).bans ?? [])));
    return bans.has(userId) ? 'banned' : 'ok';
  }

  join(connId: number, slug: string, identity: Identity): void {
    const t = this.transport;
    if (!t) return;
    this.locals.set(connId, { slug, identity });
    t.subscribe(connId, roomTopic(slug));
    if (identity.role === 'instructor' || identity.role === 'moderator') t.subscribe(connId, staffTopic(slug));
    this.route({ k: 'join', s: slug, c: globalId(this.node, connId), i: identity, at: Date.now() });
  }

  leave(connId: number): void {
    const l = this.locals.get(connId);
    if (!l) return;
    this.locals.delete(connId);
    this.route({ k: 'leave', s: l.slug, c: globalId(this.node, connId), at: Date.now() });
  }

  message(connId: number, text: string | null): void {
    const l = this.locals.get(connId);
    const t = this.transport;
    if (!l || !t) return;
    this.counters.frames += 1;
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
    if (parsed.msg.t === 'ping') {
      t.send(connId, JSON.stringify({ v: 1, t: 'pong' } satisfies ServerMsg));
      return;
    }
    this.route({ k: 'msg', s: l.slug, c: globalId(this.node, connId), m: parsed.msg, ...(parsed.ref ? { ref: parsed.ref } : {}), at: Date.now() });
  }

  /** @param startedAt when the session began (the publish): who was already in the room attends from then */
  classStarted(slug: string, sessionId: string, startedAt?: number): void {
    this.route({ k: 'started', s: slug, sessionId, ...(startedAt !== undefined ? { startedAt } : {}) });
  }

  /** The publisher dropped or came back: same session, so no reset and no new attendance interval. */
  publisherState(slug: string, sessionId: string, state: 'reconnecting' | 'live'): void {
    this.route({ k: 'publisher', s: slug, sessionId, state });
  }

  classEnded(slug: string, sessionId: string, recorded: boolean): void {
    this.route({ k: 'ended', s: slug, sessionId, recorded });
  }

  /** The schedule changed: a waiting room (or one whose class ended) shows the next start. */
  scheduleChanged(slug: string): void {
    this.route({ k: 'schedule', s: slug });
  }

  presence(slug: string): number {
    return this.rooms.get(slug)?.room.presence ?? this.remotePresence.get(slug) ?? 0;
  }

  /** Sockets open on this process. */
  get connections(): number {
    return this.locals.size;
  }

  /** Rooms this process owns (all of them without a backplane). */
  get ownedRooms(): number {
    return this.rooms.size;
  }

  // ---- routing --------------------------------------------------------------------------------------------------

  /** To the room's owner: this process, or another one through the backplane. */
  private route(m: InMsg): void {
    if (!this.bp) return this.handleIn(m);
    const site = this.sites.get(m.s);
    if (site === 'owner') return this.handleIn(m);
    if (site === 'remote') {
      this.counters.forwarded += 1;
      return this.bp.toOwner(m);
    }
    let q = this.pendingRoute.get(m.s);
    if (!q) this.pendingRoute.set(m.s, (q = []));
    if (q.length >= MAX_PENDING_ROUTE) this.counters.routeDropped += 1;
    else q.push(m);
    if (site === undefined) void this.findOwner(m.s);
  }

  private async findOwner(slug: string): Promise<void> {
    this.sites.set(slug, 'claiming');
    let mine = false;
    try {
      mine = await this.bp!.claim(slug);
    } catch (err) {
      this.d.log.warn('hub backplane: could not claim a room', { channel: slug, err });
    }
    if (mine) this.becomeOwner(slug);
    else this.sites.set(slug, 'remote');
    const q = this.pendingRoute.get(slug) ?? [];
    this.pendingRoute.delete(slug);
    for (const m of q) this.route(m);
  }

  /** This process holds the room's lease now: state from the database, members from every process again. */
  private becomeOwner(slug: string): void {
    const entry = this.roomFor(slug);
    if (!entry) {
      this.sites.delete(slug);
      return;
    }
    this.sites.set(slug, 'owner');
    this.counters.ownerChanges += 1;
    this.d.log.info('hub: this process owns the room now', { channel: slug, node: this.node });
    // Attendance rows a previous owner left open end now; everyone present opens a new one on rejoin.
    this.enqueue({ op: 'close_open', at: Date.now(), channelId: entry.channelId });
    this.bp!.fromOwner({ k: 'resync', n: this.node, s: slug });
    this.rejoinLocals(slug);
  }

  private rejoinLocals(slug: string): void {
    const at = Date.now();
    for (const [id, l] of this.locals) if (l.slug === slug) this.route({ k: 'join', s: slug, c: globalId(this.node, id), i: l.identity, at, again: true });
  }

  /** Every 2 s: renew the leases held; take over rooms whose owner is gone; forget rooms nobody here uses. */
  private async leases(): Promise<void> {
    const bp = this.bp!;
    const owned = [...this.sites].filter(([, s]) => s === 'owner').map(([slug]) => slug);
    try {
      const still = await bp.renew(owned);
      for (const slug of owned) {
        if (still.has(slug)) continue;
        this.d.log.warn('hub: lost a room to another process', { channel: slug });
        this.rooms.delete(slug);
        this.sites.set(slug, 'remote');
      }
      const inUse = new Set([...this.locals.values()].map((l) => l.slug));
      for (const [slug, s] of [...this.sites]) {
        if (s !== 'remote') continue;
        if (!inUse.has(slug)) {
          this.sites.delete(slug);
          this.remotePresence.delete(slug);
          continue;
        }
        if (await bp.claim(slug)) this.becomeOwner(slug);
      }
    } catch (err) {
      this.d.log.warn('hub backplane: lease check failed', { err });
    }
  }

  /** Redis came back: owners ask every process for its members again (their welcome carries what was missed). */
  private resyncAll(): void {
    for (const [slug, s] of this.sites) {
      if (s !== 'owner') continue;
      this.bp!.fromOwner({ k: 'resync', n: this.node, s: slug });
      this.rejoinLocals(slug);
    }
  }

  /** A message from an edge process (through the backplane). */
  private fromEdge(m: InMsg): void {
    if (this.sites.get(m.s) !== 'owner') return;
    this.counters.fannedIn += 1;
    this.handleIn(m);
  }

  /** What an owner published (through the backplane); this process hands it to its own sockets. */
  private fromOwner(m: OutMsg): void {
    const t = this.transport;
    if (!t) return;
    const now = Date.now();
    switch (m.k) {
      case 'topic':
        if (m.p !== undefined) this.remotePresence.set(m.s, m.p);
        this.d.observe?.lag?.((now - m.at) / 1000);
        this.d.observe?.fanout?.((now - m.first) / 1000);
        t.publish(m.staff ? staffTopic(m.s) : roomTopic(m.s), m.f);
        return;
      case 'to':
        for (const c of m.c) if (nodeOf(c) === this.node) t.send(localOf(c), m.f);
        return;
      case 'close':
        for (const c of m.c) if (nodeOf(c) === this.node) t.close(localOf(c), m.code, m.reason);
        return;
      case 'resync':
        if (this.sites.get(m.s) === 'owner') {
          // Two owners for a moment (a lease lost while busy): the newer one keeps the room.
          this.d.log.warn('hub: another process took a room this one owned', { channel: m.s });
          this.rooms.delete(m.s);
        }
        this.sites.set(m.s, 'remote');
        this.rejoinLocals(m.s);
        return;
      case 'ban': {
        let bans = this.bansSeen.get(m.s);
        if (!bans) this.bansSeen.set(m.s, (bans = new Set()));
        bans.add(m.u);
      }
    }
  }

  // ---- the owner's side -------------------------------------------------------------------------------------------

  private handleIn(m: InMsg): void {
    const entry = this.bp ? this.rooms.get(m.s) : this.roomFor(m.s);
    if (!entry) return;
    switch (m.k) {
      case 'join': {
        if (entry.room.isBanned(m.i.userId)) return this.closeConn(m.c, 4003, 'banned');
        const known = this.members.get(m.c);
        // A join that arrives twice (a resync crossed the first one) is answered once; a resync's answers again.
        if (known && !m.again) return;
        if (!known) {
          this.members.set(m.c, { gid: m.c, slug: m.s, channelId: entry.channelId, identity: m.i, attendanceKey: newId(), joinedAt: m.at });
        }
        const welcome = known ? entry.room.rejoin(m.c) : entry.room.join({ connId: m.c, ...m.i });
        if (welcome.t === 'welcome') welcome.room.class.startsAt = this.d.startsAt(m.s);
        this.deliver(m.c, JSON.stringify(welcome));
        const member = this.members.get(m.c)!;
        if (!known) this.enqueue({ op: 'attend', key: member.attendanceKey, userId: m.i.userId, name: m.i.name, role: m.i.role, sessionId: entry.room.sessionId, at: Date.now(), channelId: entry.channelId });
        return;
      }
      case 'leave': {
        const member = this.members.get(m.c);
        if (!member) return;
        this.members.delete(m.c);
        this.apply(m.s, entry, entry.room.leave(m.c));
        this.enqueue({ op: 'leave', key: member.attendanceKey, at: m.at, channelId: member.channelId });
        return;
      }
      case 'msg': {
        const out = entry.room.handle(m.c, m.m, Date.now());
        if (m.ref) for (const r of out.reply) if (r.t === 'error') r.ref = m.ref;
        this.apply(m.s, entry, out, m.c);
        return;
      }
      case 'started':
        this.apply(m.s, entry, entry.room.setClass({ state: 'live', sessionId: m.sessionId, replay: null }));
        this.reattend(entry, m.s, m.sessionId, m.startedAt);
        return;
      case 'publisher':
        this.apply(m.s, entry, entry.room.setClass({ state: m.state, sessionId: m.sessionId, replay: null }));
        return;
      case 'ended':
        this.apply(m.s, entry, entry.room.setClass({ state: 'ended', sessionId: m.sessionId, replay: m.recorded ? replayUrl(m.sessionId) : null }));
        this.reattend(entry, m.s, null);
        return;
      case 'schedule': {
        const cur = entry.room.currentClass();
        if (cur.state !== 'waiting' && cur.state !== 'ended') return;
        this.apply(m.s, entry, entry.room.setClass({ ...cur, startsAt: this.d.startsAt(m.s) }));
      }
    }
  }

  /** Attendance is per session: a class starting or ending closes everyone's interval and opens a new one. */
  private reattend(entry: RoomEntry, slug: string, sessionId: string | null, since?: number): void {
    const now = Date.now();
    for (const c of this.members.values()) {
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
    entry = { room, channelId, events: [], staffEvents: [], firstAt: 0 };
    this.rooms.set(slug, entry);
    return entry;
  }

  /** A frame for one connection, wherever its socket is. */
  private deliver(gid: number, frame: string): void {
    if (nodeOf(gid) === this.node) this.transport?.send(localOf(gid), frame);
    else this.bp?.fromOwner({ k: 'to', n: this.node, c: [gid], f: frame });
  }

  private closeConn(gid: number, code: number, reason: string): void {
    if (nodeOf(gid) === this.node) this.transport?.close(localOf(gid), code, reason);
    else this.bp?.fromOwner({ k: 'close', n: this.node, c: [gid], code, reason });
  }

  private apply(slug: string, entry: RoomEntry, out: Outcome, gid?: number): void {
    for (const r of out.reply) if (gid !== undefined) this.deliver(gid, JSON.stringify(r));
    for (const { userId, msg } of out.toUser) {
      const frame = JSON.stringify(msg);
      for (const id of entry.room.connsOf(userId)) this.deliver(id, frame);
    }
    this.push(entry, entry.events, out.events);
    this.push(entry, entry.staffEvents, out.staffEvents);
    for (const op of out.persist) {
      this.enqueue({ ...op, channelId: entry.channelId });
      if (op.op === 'ban' && this.bp) this.bp.fromOwner({ k: 'ban', n: this.node, s: slug, u: op.userId });
    }
    for (const userId of out.kick) {
      for (const id of entry.room.connsOf(userId)) this.closeConn(id, 4003, 'banned');
    }
  }

  private push(entry: RoomEntry, target: RoomEvent[], events: RoomEvent[]): void {
    for (const e of events) {
      if (target.length >= MAX_PENDING_EVENTS) {
        this.counters.eventsDropped += 1;
        continue;
      }
      if (entry.events.length === 0 && entry.staffEvents.length === 0) entry.firstAt = Date.now();
      target.push(e);
    }
  }

  /** Sends each room's pending events (the tick timer calls it; public for tests). */
  tick(): void {
    const t = this.transport;
    if (!t || this.persisting) return;
    const now = Date.now();
    const out: OutMsg[] = [];
    for (const [slug, entry] of this.rooms) {
      this.push(entry, entry.events, entry.room.tick(now));
      const first = entry.firstAt || now;
      if (entry.events.length) {
        out.push({ k: 'topic', n: this.node, s: slug, staff: false, f: JSON.stringify({ v: 1, t: 'batch', events: entry.events } satisfies ServerMsg), at: now, first });
        entry.events = [];
      }
      if (entry.staffEvents.length) {
        out.push({ k: 'topic', n: this.node, s: slug, staff: true, f: JSON.stringify({ v: 1, t: 'batch', events: entry.staffEvents } satisfies ServerMsg), at: now, first });
        entry.staffEvents = [];
      }
      entry.firstAt = 0;
    }
    if (!this.bp) return this.send(out);
    // The records behind these frames reach Redis first: whatever a learner saw acknowledged is not lost if this
    // process dies now.
    if (this.queue.length === 0) return this.send(out);
    this.persisting = true;
    const ops = this.takeQueue();
    this.bp.persist(ops).then(() => {
      this.counters.persisted += ops.length;
    }, (err: unknown) => {
      this.counters.persistFailures += 1;
      this.queue = ops.concat(this.queue);
      this.d.log.warn('hub backplane: engagement records not queued; will retry', { ops: ops.length, err });
    }).finally(() => {
      this.persisting = false;
      this.send(out);
    });
  }

  private send(out: OutMsg[]): void {
    const t = this.transport!;
    const now = Date.now();
    for (const m of out) {
      if (m.k !== 'topic') continue;
      t.publish(m.staff ? staffTopic(m.s) : roomTopic(m.s), m.f);
      this.d.observe?.fanout?.((now - m.first) / 1000);
      this.bp?.fromOwner(m.staff ? m : { ...m, p: this.rooms.get(m.s)?.room.presence ?? 0 });
    }
  }

  private takeQueue(): EngagementOp[] {
    const batch = this.queue;
    this.queue = [];
    this.tallies.clear();
    return batch;
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
    if (!this.bp && this.queue.length >= this.o.maxQueue) this.flush();
  }

  /** Writes the queued engagement records (the flush timer calls it; public for tests). */
  flush(now = Date.now()): void {
    if (this.queue.length === 0 || !this.retry.ready(now)) return;
    const batch = this.takeQueue();
    try {
      const t0 = performance.now();
      this.d.persist(batch);
      this.d.observe?.persistBatch?.((performance.now() - t0) / 1000);
      this.counters.persisted += batch.length;
      if (this.failingSince !== undefined) this.d.log.info('engagement writes recovered', { ops: batch.length, afterMs: now - this.failingSince });
      this.failingSince = undefined;
      this.retry.succeeded();
    } catch (err) {
      // Locked or slow database: keep the batch (it was acknowledged to its senders) and try again later, in order.
      this.counters.persistFailures += 1;
      this.queue = batch.concat(this.queue);
      this.retry.failed(now);
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
