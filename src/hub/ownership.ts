// Room ownership and routing: every message for a room goes to the one process that owns the room. Without a
// backplane that is this process, for every room (`SoleOwner`). With one (hub.backplane, docs/scaling.md) each room
// has an owner holding a lease in Redis (`SharedOwnership`): messages for a room owned elsewhere are forwarded to
// it, messages for a room nobody here knows yet wait (bounded) while its lease is claimed, leases are renewed
// every 2 s, and rooms whose owner is gone are taken over.

import type { Logger } from '../log.js';
import type { Backplane, InMsg, OutMsg } from './backplane.js';
import type { Peers } from './fanout.js';

/** What the room side of the hub does when ownership changes. */
export interface OwnerSide {
  /** A message for a room this process owns. */
  handle(m: InMsg): void;
  /** This process holds the room now: load it. False when there is no such channel. */
  gained(slug: string): boolean;
  /** Another process holds the room now: drop its state here. */
  lost(slug: string): void;
  /** This process's sockets in the room join again (the owner changed). */
  rejoin(slug: string): void;
  /** Rooms with sockets on this process. */
  inUse(): Set<string>;
  /** What an owner elsewhere published for this process's sockets, or a ban it made. */
  fromPeer(m: Extract<OutMsg, { k: 'topic' | 'to' | 'close' | 'ban' }>): void;
}

export interface RouteCounters {
  forwarded: number;
  fannedIn: number;
  routeDropped: number;
  ownerChanges: number;
}

export interface Ownership extends Peers {
  /** One process owns every room, so a room is made on first use; with peers, only by claiming it. */
  readonly sole: boolean;
  readonly counters: RouteCounters;
  /** Whom to tell (at construction: one process routes to its rooms before start). */
  bind(side: OwnerSide): void;
  start(): Promise<void>;
  /** To the room's owner: this process, or another one. */
  route(m: InMsg): void;
  /** Gives up the leases held (at shutdown) and disconnects. */
  stop(): Promise<void>;
}

export class SoleOwner implements Ownership {
  readonly sole = true;
  readonly shared = false;
  readonly node = 0;
  readonly counters: RouteCounters = { forwarded: 0, fannedIn: 0, routeDropped: 0, ownerChanges: 0 };
  private side?: OwnerSide;

  bind(side: OwnerSide): void {
    this.side = side;
  }

  async start(): Promise<void> {}

  route(m: InMsg): void {
    this.side?.handle(m);
  }

  publish(): void {}

  async stop(): Promise<void> {}
}

/** Messages held for a room while its owner is being found. */
export const MAX_PENDING_ROUTE = 10_000;
const LEASE_EVERY_MS = 2000;

type Site = 'claiming' | 'owner' | 'remote';

export class SharedOwnership implements Ownership {
  readonly sole = false;
  readonly shared = true;
  readonly counters: RouteCounters = { forwarded: 0, fannedIn: 0, routeDropped: 0, ownerChanges: 0 };
  private readonly sites = new Map<string, Site>();
  private readonly pending = new Map<string, InMsg[]>();
  private side?: OwnerSide;
  private timer?: NodeJS.Timeout;

  constructor(private readonly bp: Backplane, private readonly log: Logger) {}

  get node(): number {
    return this.bp.node;
  }

  bind(side: OwnerSide): void {
    this.side = side;
  }

  async start(): Promise<void> {
    await this.bp.start({ toOwner: (m) => this.fromEdge(m), fromOwner: (m) => this.fromOwner(m), reconnected: () => this.resyncAll() });
    this.timer = setInterval(() => void this.leases(), LEASE_EVERY_MS);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.bp.release(this.owned()).catch(() => {});
    await this.bp.stop();
  }

  publish(m: OutMsg): void {
    this.bp.fromOwner(m);
  }

  route(m: InMsg): void {
    const site = this.sites.get(m.s);
    if (site === 'owner') return this.side?.handle(m);
    if (site === 'remote') {
      this.counters.forwarded += 1;
      return this.bp.toOwner(m);
    }
    let q = this.pending.get(m.s);
    if (!q) this.pending.set(m.s, (q = []));
    if (q.length >= MAX_PENDING_ROUTE) this.counters.routeDropped += 1;
    else q.push(m);
    if (site === undefined) void this.findOwner(m.s);
  }

  private owned(): string[] {
    return [...this.sites].filter(([, s]) => s === 'owner').map(([slug]) => slug);
  }

  private async findOwner(slug: string): Promise<void> {
    this.sites.set(slug, 'claiming');
    let mine = false;
    try {
      mine = await this.bp.claim(slug);
    } catch (err) {
      this.log.warn('hub backplane: could not claim a room', { channel: slug, err });
    }
    const q = this.pending.get(slug) ?? [];
    this.pending.delete(slug);
    if (!mine) this.sites.set(slug, 'remote');
    else if (!this.becomeOwner(slug)) {
      // No such channel (deleted meanwhile): what waited for it has nowhere to go.
      this.counters.routeDropped += q.length;
      return;
    }
    for (const m of q) this.route(m);
  }

  /** This process holds the room's lease now: state from the database, members from every process again. */
  private becomeOwner(slug: string): boolean {
    if (!this.side?.gained(slug)) {
      this.sites.delete(slug);
      return false;
    }
    this.sites.set(slug, 'owner');
    this.counters.ownerChanges += 1;
    this.log.info('hub: this process owns the room now', { channel: slug, node: this.node });
    this.bp.fromOwner({ k: 'resync', n: this.node, s: slug });
    this.side.rejoin(slug);
    return true;
  }

  /** Every 2 s: renew the leases held; take over rooms whose owner is gone; forget rooms nobody here uses. */
  private async leases(): Promise<void> {
    const owned = this.owned();
    try {
      const still = await this.bp.renew(owned);
      for (const slug of owned) {
        if (still.has(slug)) continue;
        this.log.warn('hub: lost a room to another process', { channel: slug });
        this.side?.lost(slug);
        this.sites.set(slug, 'remote');
      }
      const inUse = this.side?.inUse() ?? new Set<string>();
      for (const [slug, s] of [...this.sites]) {
        if (s !== 'remote') continue;
        if (!inUse.has(slug)) {
          this.sites.delete(slug);
          this.side?.lost(slug);
          continue;
        }
        if (await this.bp.claim(slug)) this.becomeOwner(slug);
      }
    } catch (err) {
      this.log.warn('hub backplane: lease check failed', { err });
    }
  }

  /** Redis came back: owners ask every process for its members again (their welcome carries what was missed). */
  private resyncAll(): void {
    for (const slug of this.owned()) {
      this.bp.fromOwner({ k: 'resync', n: this.node, s: slug });
      this.side?.rejoin(slug);
    }
  }

  /** A message from an edge process for a room this one owns. */
  private fromEdge(m: InMsg): void {
    if (this.sites.get(m.s) !== 'owner') return;
    this.counters.fannedIn += 1;
    this.side?.handle(m);
  }

  private fromOwner(m: OutMsg): void {
    if (m.k !== 'resync') return this.side?.fromPeer(m);
    if (this.sites.get(m.s) === 'owner') {
      // Two owners for a moment (a lease lost while busy): the newer one keeps the room.
      this.log.warn('hub: another process took a room this one owned', { channel: m.s });
      this.side?.lost(m.s);
    }
    this.sites.set(m.s, 'remote');
    this.side?.rejoin(m.s);
  }
}
