// The hub's room side: who is in which room, what each message does to its room (room.ts, pure), attendance, and
// the engagement records that follow. Transport-agnostic: the socket binding hands it a small Transport.
// Three parts beside it, one owner each: routing to the room's owner process (ownership.ts), fan-out of a tick's
// events as one frame per topic (fanout.ts), and the durable write queue (write-queue.ts).
//
// Two shapes, one code path. Without a backplane this process owns every room and writes SQLite itself. With one
// (hub.backplane, see docs/scaling.md) each room has one owner process holding a lease in Redis: other processes
// forward what their sockets say to it and fan out what it publishes; the owner queues engagement records in
// Redis before it publishes the frames that acknowledge them, and one writer drains them.

import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { EngagementOp } from '../domain/records.js';
import { globalId, type Backplane, type InMsg, type OutMsg } from './backplane.js';
import { Fanout, Outbox, roomTopic, staffTopic, type Transport } from './fanout.js';
import { SharedOwnership, SoleOwner, type OwnerSide, type Ownership } from './ownership.js';
import { parseClientMessage, type Identity, type ServerMsg } from './protocol.js';
import { Room, type Outcome, type RoomInit } from './room.js';
import { WriteQueue } from './write-queue.js';
import { replayUrl } from '../domain/media-layout.js';
import type { CaptionCue } from '../domain/captions.js';


export interface HubDeps {
  channelId(slug: string): number | undefined;
  startsAt(slug: string): string | null;
  /** The languages the channel's classes are captioned in (none: not captioned). */
  captionLanguages(slug: string): string[];
  /** At once (the embedded store) or over the network (PostgreSQL): a room opening then holds its messages. */
  loadRoom(channelId: number, sessionId: string | null, historySize: number): RoomInit | Promise<RoomInit>;
  liveSession(slug: string): string | undefined;
  persist(ops: EngagementOp[]): void | Promise<void>;
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
  /** People on a class's stage at once (stage.maxMembers). */
  stageMax?: number;
  /** The broadcast shows the stage's members as tiles (stage.picture with WebRTC on). */
  stagePicture?: boolean;
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
  outbox: Outbox;
}

const newId = (): string => randomBytes(9).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '0');

export class Hub {
  private readonly rooms = new Map<string, RoomEntry>();
  /** Rooms whose records are on their way: what arrived for them meanwhile, and what to do once open. */
  private readonly opening = new Map<string, { waiting: InMsg[]; then: ((e: RoomEntry) => void)[] }>();
  private readonly members = new Map<number, Member>();
  private readonly locals = new Map<number, Local>();
  /** Bans seen, for refusing an upgrade on a process that does not own the room. */
  private readonly bansSeen = new Map<string, Set<string>>();
  /** Presence of rooms owned elsewhere, as their owners last published it. */
  private readonly remotePresence = new Map<string, number>();
  private tickTimer?: NodeJS.Timeout;
  private flushTimer?: NodeJS.Timeout;
  private readonly own: Ownership;
  private readonly fan: Fanout;
  private readonly writes: WriteQueue;
  private readonly mine = { frames: 0, invalid: 0, eventsDropped: 0 };

  constructor(private readonly o: HubOptions, private readonly d: HubDeps) {
    const bp = d.backplane;
    this.own = bp ? new SharedOwnership(bp, d.log) : new SoleOwner();
    this.fan = new Fanout(this.own, d.observe);
    this.writes = new WriteQueue(bp ? { kind: 'shared', write: (ops) => bp.persist(ops) } : { kind: 'local', write: d.persist },
      { flushMs: o.flushMs, maxQueue: o.maxQueue }, { log: d.log, observeBatch: d.observe?.persistBatch });
    this.own.bind(this.ownerSide());
  }

  get counters(): typeof this.mine & WriteQueue['counters'] & Ownership['counters'] {
    return { ...this.mine, ...this.writes.counters, ...this.own.counters };
  }

  attach(transport: Transport): void {
    this.fan.attach(transport);
  }

  async start(): Promise<void> {
    await this.own.start();
    this.tickTimer = setInterval(() => this.tick(), this.o.tickMs);
    if (this.writes.flushes) this.flushTimer = setInterval(() => this.flush(), this.o.flushMs);
  }

  /** Sends what is pending and writes every queued record (retrying a locked database a few times). */
  async stop(): Promise<void> {
    clearInterval(this.tickTimer);
    clearInterval(this.flushTimer);
    const at = Date.now();
    for (const [id, l] of this.locals) this.own.route({ k: 'leave', s: l.slug, c: globalId(this.own.node, id), at });
    this.tick();
    await this.writes.finish();
    await this.own.stop();
  }

  /** For the upgrade: may this user join this channel? */
  admit(slug: string, userId: string): 'ok' | 'no_channel' | 'banned' {
    const owned = this.ownedRoom(slug);
    if (owned) return owned.room.isBanned(userId) ? 'banned' : 'ok';
    const channelId = this.own.sole ? undefined : this.d.channelId(slug);
    if (channelId === undefined) return 'no_channel';
    let bans = this.bansSeen.get(slug);
    if (!bans) {
      this.bansSeen.set(slug, (bans = new Set()));
      const known = bans;
      const init = this.d.loadRoom(channelId, null, 0);
      // Over the network the first upgrades pass; the room's owner refuses a banned join all the same.
      if (init instanceof Promise) init.then((i) => { for (const u of i.bans ?? []) known.add(u); }, (err: unknown) => this.d.log.warn('could not read bans', { slug, err }));
      else for (const u of init.bans ?? []) known.add(u);
    }
    return bans.has(userId) ? 'banned' : 'ok';
  }

  join(connId: number, slug: string, identity: Identity): void {
    if (!this.fan.attached) return;
    this.locals.set(connId, { slug, identity });
    this.fan.subscribe(connId, roomTopic(slug));
    if (identity.role === 'instructor' || identity.role === 'moderator') this.fan.subscribe(connId, staffTopic(slug));
    this.own.route({ k: 'join', s: slug, c: globalId(this.own.node, connId), i: identity, at: Date.now() });
  }

  leave(connId: number): void {
    const l = this.locals.get(connId);
    if (!l) return;
    this.locals.delete(connId);
    this.own.route({ k: 'leave', s: l.slug, c: globalId(this.own.node, connId), at: Date.now() });
  }

  message(connId: number, text: string | null): void {
    const l = this.locals.get(connId);
    if (!l || !this.fan.attached) return;
    this.mine.frames += 1;
    if (text === null) {
      this.mine.invalid += 1;
      this.fan.sendLocal(connId, JSON.stringify({ v: 1, t: 'error', code: 'bad_frame', message: 'send JSON text frames, not binary' } satisfies ServerMsg));
      return;
    }
    const parsed = parseClientMessage(text, { chatMaxLength: this.o.chatMaxLength });
    if (!parsed.ok) {
      this.mine.invalid += 1;
      const err: ServerMsg = { v: 1, t: 'error', code: parsed.code, message: parsed.message, ...(parsed.ref ? { ref: parsed.ref } : {}) };
      this.fan.sendLocal(connId, JSON.stringify(err));
      return;
    }
    if (parsed.msg.t === 'ping') {
      this.fan.sendLocal(connId, JSON.stringify({ v: 1, t: 'pong' } satisfies ServerMsg));
      return;
    }
    this.own.route({ k: 'msg', s: l.slug, c: globalId(this.own.node, connId), m: parsed.msg, ...(parsed.ref ? { ref: parsed.ref } : {}), at: Date.now() });
  }

  /** @param startedAt when the session began (the publish): who was already in the room attends from then */
  classStarted(slug: string, sessionId: string, startedAt?: number): void {
    this.own.route({ k: 'started', s: slug, sessionId, ...(startedAt !== undefined ? { startedAt } : {}) });
  }

  /** The publisher dropped or came back: same session, so no reset and no new attendance interval. */
  publisherState(slug: string, sessionId: string, state: 'reconnecting' | 'live'): void {
    this.own.route({ k: 'publisher', s: slug, sessionId, state });
  }

  classEnded(slug: string, sessionId: string, recorded: boolean): void {
    this.own.route({ k: 'ended', s: slug, sessionId, recorded });
  }

  /** A line the class's speech engine heard. */
  speechCaption(slug: string, sessionId: string, cue: Omit<CaptionCue, 'id'>): void {
    this.own.route({ k: 'speech', s: slug, sessionId, cue });
  }

  /** The class's speech engine started or stopped: its staff are told. */
  speechStatus(slug: string, running: boolean, message: string): void {
    this.own.route({ k: 'speech_status', s: slug, running, message });
  }

  /** The schedule changed: a waiting room (or one whose class ended) shows the next start. */
  scheduleChanged(slug: string): void {
    this.own.route({ k: 'schedule', s: slug });
  }

  /** What the stage lets this user publish in this class; undefined when the class's room is not on this process. */
  mayPublish(slug: string, userId: string): { video: boolean; audio: boolean } | undefined {
    return this.ownedRoom(slug)?.room.mayPublish(userId);
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

  /** Sends each room's pending events (the tick timer calls it; public for tests). */
  tick(): void {
    if (!this.fan.attached || this.writes.busy) return;
    const now = Date.now();
    const out: Extract<OutMsg, { k: 'topic' }>[] = [];
    for (const [slug, entry] of this.rooms) {
      this.mine.eventsDropped += entry.outbox.push(entry.room.tick(now), false, now);
      out.push(...entry.outbox.take(this.own.node, slug, now));
    }
    this.writes.beforeSend(() => this.fan.send(out, (slug) => this.presence(slug)));
  }

  /** Writes the queued engagement records (the flush timer calls it; public for tests). */
  flush(now = Date.now()): void {
    void this.writes.flush(now);
  }

  // ---- ownership ------------------------------------------------------------------------------------------------

  private ownerSide(): OwnerSide {
    return {
      handle: (m) => this.handleIn(m),
      gained: (slug) => {
        const entry = this.roomFor(slug);
        // Attendance rows a previous owner left open end now; everyone present opens a new one on rejoin.
        const closeOpen = (e: RoomEntry): void => this.writes.add({ op: 'close_open', at: Date.now(), channelId: e.channelId });
        if (entry) closeOpen(entry);
        else this.opening.get(slug)?.then.push(closeOpen);
        return entry !== undefined || this.opening.has(slug);
      },
      lost: (slug) => {
        this.rooms.delete(slug);
        this.opening.delete(slug);
        this.remotePresence.delete(slug);
      },
      rejoin: (slug) => {
        const at = Date.now();
        for (const [id, l] of this.locals) if (l.slug === slug) this.own.route({ k: 'join', s: slug, c: globalId(this.own.node, id), i: l.identity, at, again: true });
      },
      inUse: () => new Set([...this.locals.values()].map((l) => l.slug)),
      fromPeer: (m) => {
        if (m.k === 'topic' && m.p !== undefined) this.remotePresence.set(m.s, m.p);
        if (m.k !== 'ban') return this.fan.fromPeer(m);
        let bans = this.bansSeen.get(m.s);
        if (!bans) this.bansSeen.set(m.s, (bans = new Set()));
        bans.add(m.u);
      },
    };
  }

  /** The room when this process owns it; one process alone owns every room and makes it on first use. */
  private ownedRoom(slug: string): RoomEntry | undefined {
    return this.own.sole ? this.roomFor(slug) : this.rooms.get(slug);
  }

  // ---- the owner's side -------------------------------------------------------------------------------------------

  private handleIn(m: InMsg): void {
    const entry = this.ownedRoom(m.s);
    if (!entry) {
      const opening = this.opening.get(m.s);
      if (!opening) return;
      if (opening.waiting.length < this.o.maxQueue) opening.waiting.push(m);
      else if (m.k === 'join') this.fan.close(m.c, 1013, 'room opening, try again');
      return;
    }
    switch (m.k) {
      case 'join': {
        if (entry.room.isBanned(m.i.userId)) return this.fan.close(m.c, 4003, 'banned');
        const known = this.members.get(m.c);
        // A join that arrives twice (a resync crossed the first one) is answered once; a resync's answers again.
        if (known && !m.again) return;
        if (!known) {
          this.members.set(m.c, { gid: m.c, slug: m.s, channelId: entry.channelId, identity: m.i, attendanceKey: newId(), joinedAt: m.at });
        }
        const welcome = known ? entry.room.rejoin(m.c) : entry.room.join({ connId: m.c, ...m.i });
        if (welcome.t === 'welcome') welcome.room.class.startsAt = this.d.startsAt(m.s);
        this.fan.deliver(m.c, JSON.stringify(welcome));
        const member = this.members.get(m.c)!;
        if (!known) this.writes.add({ op: 'attend', key: member.attendanceKey, userId: m.i.userId, name: m.i.name, role: m.i.role, sessionId: entry.room.sessionId, at: Date.now(), channelId: entry.channelId });
        return;
      }
      case 'leave': {
        const member = this.members.get(m.c);
        if (!member) return;
        this.members.delete(m.c);
        this.apply(m.s, entry, entry.room.leave(m.c));
        this.writes.add({ op: 'leave', key: member.attendanceKey, at: m.at, channelId: member.channelId });
        return;
      }
      case 'msg': {
        const out = entry.room.handle(m.c, m.m, Date.now());
        if (m.ref) for (const r of out.reply) if (r.t === 'error') r.ref = m.ref;
        this.apply(m.s, entry, out, m.c);
        return;
      }
      case 'started':
        this.apply(m.s, entry, entry.room.setClass({ state: 'live', sessionId: m.sessionId, replay: null, captions: this.d.captionLanguages(m.s) }));
        this.reattend(entry, m.s, m.sessionId, m.startedAt);
        return;
      case 'publisher':
        this.apply(m.s, entry, entry.room.setClass({ state: m.state, sessionId: m.sessionId, replay: null, captions: this.d.captionLanguages(m.s) }));
        return;
      case 'ended':
        this.apply(m.s, entry, entry.room.setClass({ state: 'ended', sessionId: m.sessionId, replay: m.recorded ? replayUrl(m.sessionId) : null }));
        this.reattend(entry, m.s, null);
        return;
      case 'speech':
        this.apply(m.s, entry, entry.room.systemCaption(m.sessionId, m.cue));
        return;
      case 'speech_status':
        this.apply(m.s, entry, entry.room.captionsStatus(m.running, m.message));
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
      this.writes.add({ op: 'leave', key: c.attendanceKey, at, channelId: c.channelId });
      c.attendanceKey = newId();
      this.writes.add({ op: 'attend', key: c.attendanceKey, userId: c.identity.userId, name: c.identity.name, role: c.identity.role, sessionId, at, channelId: entry.channelId });
    }
  }

  private roomFor(slug: string): RoomEntry | undefined {
    let entry = this.rooms.get(slug);
    if (entry) return entry;
    const channelId = this.d.channelId(slug);
    if (channelId === undefined) return undefined;
    if (this.opening.has(slug)) return undefined;
    const live = this.d.liveSession(slug) ?? null;
    const init = this.d.loadRoom(channelId, live, this.o.historySize);
    if (!(init instanceof Promise)) return this.open(slug, channelId, init);
    const opening = { waiting: [] as InMsg[], then: [] as ((e: RoomEntry) => void)[] };
    this.opening.set(slug, opening);
    init.then((i) => {
      if (this.opening.get(slug) !== opening) return; // lost meanwhile
      this.opening.delete(slug);
      const e = this.open(slug, channelId, i);
      for (const f of opening.then) f(e);
      for (const m of opening.waiting) this.handleIn(m);
    }, (err: unknown) => {
      if (this.opening.get(slug) !== opening) return;
      this.opening.delete(slug);
      this.d.log.warn('could not open a room: its records are out of reach', { slug, err });
      for (const m of opening.waiting) if (m.k === 'join') this.fan.close(m.c, 1011, 'room unavailable, try again');
    });
    return undefined;
  }

  private open(slug: string, channelId: number, init: RoomInit): RoomEntry {
    const room = new Room(slug, {
      chatMaxLength: this.o.chatMaxLength, chatBurst: this.o.chatBurst, chatWindowMs: this.o.chatWindowMs,
      historySize: this.o.historySize, presenceEveryMs: this.o.presenceEveryMs, newId, stageMax: this.o.stageMax, stagePicture: this.o.stagePicture,
    }, init);
    const entry = { room, channelId, outbox: new Outbox() };
    this.rooms.set(slug, entry);
    return entry;
  }

  private apply(slug: string, entry: RoomEntry, out: Outcome, gid?: number): void {
    for (const r of out.reply) if (gid !== undefined) this.fan.deliver(gid, JSON.stringify(r));
    for (const { userId, msg } of out.toUser) {
      const frame = JSON.stringify(msg);
      for (const id of entry.room.connsOf(userId)) this.fan.deliver(id, frame);
    }
    this.mine.eventsDropped += entry.outbox.push(out.events) + entry.outbox.push(out.staffEvents, true);
    for (const op of out.persist) {
      this.writes.add({ ...op, channelId: entry.channelId });
      if (op.op === 'ban') this.own.publish({ k: 'ban', n: this.own.node, s: slug, u: op.userId });
    }
    for (const userId of out.kick) {
      for (const id of entry.room.connsOf(userId)) this.fan.close(id, 4003, 'banned');
    }
  }

}
