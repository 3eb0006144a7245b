// Fan-out: what a room says reaches its members. A room's events wait in a bounded outbox and leave once per tick
// as one frame per topic (everyone, staff); a frame for one connection goes to its socket here or, through the
// peers (the backplane), to the process holding it. Frames that owners elsewhere published are handed to this
// process's sockets the same way (`fromPeer`).

import { localOf, nodeOf, type OutMsg } from './backplane.js';
import type { RoomEvent, ServerMsg } from './protocol.js';

export interface Transport {
  publish(topic: string, frame: string): void;
  send(connId: number, frame: string): void;
  close(connId: number, code: number, reason: string): void;
  subscribe(connId: number, topic: string): void;
}

/** The other hub processes, as fan-out sees them: none without a backplane. */
export interface Peers {
  readonly node: number;
  /** Whether there are other processes to publish to. */
  readonly shared: boolean;
  publish(m: OutMsg): void;
}

export const roomTopic = (slug: string): string => `room/${slug}`;
export const staffTopic = (slug: string): string => `staff/${slug}`;
/** Events a room may hold between two ticks before the newest are dropped (and counted). */
export const MAX_PENDING_EVENTS = 2000;

/** A room's events not yet sent. */
export class Outbox {
  events: RoomEvent[] = [];
  staffEvents: RoomEvent[] = [];
  /** When the oldest pending event was made (fan-out latency). */
  firstAt = 0;

  /** Adds events; returns how many were dropped because the outbox was full. */
  push(events: RoomEvent[], staff = false, now = Date.now()): number {
    const target = staff ? this.staffEvents : this.events;
    let dropped = 0;
    for (const e of events) {
      if (target.length >= MAX_PENDING_EVENTS) {
        dropped += 1;
        continue;
      }
      if (this.events.length === 0 && this.staffEvents.length === 0) this.firstAt = now;
      target.push(e);
    }
    return dropped;
  }

  /** The frames of this tick (a batch per topic with events), and empties the outbox. */
  take(node: number, slug: string, now: number): Extract<OutMsg, { k: 'topic' }>[] {
    const out: Extract<OutMsg, { k: 'topic' }>[] = [];
    const first = this.firstAt || now;
    for (const staff of [false, true]) {
      const events = staff ? this.staffEvents : this.events;
      if (!events.length) continue;
      out.push({ k: 'topic', n: node, s: slug, staff, f: JSON.stringify({ v: 1, t: 'batch', events } satisfies ServerMsg), at: now, first });
    }
    this.events = [];
    this.staffEvents = [];
    this.firstAt = 0;
    return out;
  }
}

export interface FanoutObserve {
  fanout?(s: number): void;
  lag?(s: number): void;
}

export class Fanout {
  private transport?: Transport;

  constructor(private readonly peers: Peers, private readonly observe: FanoutObserve = {}) {}

  attach(t: Transport): void {
    this.transport = t;
  }

  get attached(): boolean {
    return this.transport !== undefined;
  }

  subscribe(connId: number, topic: string): void {
    this.transport?.subscribe(connId, topic);
  }

  /** To a socket of this process. */
  sendLocal(connId: number, frame: string): void {
    this.transport?.send(connId, frame);
  }

  /** A frame for one connection, wherever its socket is. */
  deliver(gid: number, frame: string): void {
    if (nodeOf(gid) === this.peers.node) this.transport?.send(localOf(gid), frame);
    else this.peers.publish({ k: 'to', n: this.peers.node, c: [gid], f: frame });
  }

  close(gid: number, code: number, reason: string): void {
    if (nodeOf(gid) === this.peers.node) this.transport?.close(localOf(gid), code, reason);
    else this.peers.publish({ k: 'close', n: this.peers.node, c: [gid], code, reason });
  }

  /** Publishes a tick's frames to this process's subscribers and to the other processes (with the room's presence). */
  send(out: Extract<OutMsg, { k: 'topic' }>[], presenceOf: (slug: string) => number): void {
    const t = this.transport;
    if (!t) return;
    const now = Date.now();
    for (const m of out) {
      t.publish(m.staff ? staffTopic(m.s) : roomTopic(m.s), m.f);
      this.observe.fanout?.((now - m.first) / 1000);
      if (this.peers.shared) this.peers.publish(m.staff ? m : { ...m, p: presenceOf(m.s) });
    }
  }

  /** What an owner on another process published, for this process's sockets. */
  fromPeer(m: Extract<OutMsg, { k: 'topic' | 'to' | 'close' }>): void {
    const t = this.transport;
    if (!t) return;
    switch (m.k) {
      case 'topic': {
        const now = Date.now();
        this.observe.lag?.((now - m.at) / 1000);
        this.observe.fanout?.((now - m.first) / 1000);
        t.publish(m.staff ? staffTopic(m.s) : roomTopic(m.s), m.f);
        return;
      }
      case 'to':
        for (const c of m.c) if (nodeOf(c) === this.peers.node) t.send(localOf(c), m.f);
        return;
      case 'close':
        for (const c of m.c) if (nodeOf(c) === this.peers.node) t.close(localOf(c), m.code, m.reason);
    }
  }
}
