// This box among the boxes sharing a store (store.url): its heartbeat (a row with a lease, renewed every beat, with
// its load), the claims of the classes it runs (renewed with it), the other boxes as last seen, and the work one box
// does for all — closing the classes of a box whose lease lapsed (it crashed or lost the network), under a lease so
// one box does it. On the embedded file this box is the only one and the same code keeps its row.

import type { Logger } from '../log.js';
import type { ClaimRow, NodeRepository, NodeRow } from '../store/ports.js';

export interface Here {
  /** The sessions live on this box. */
  sessions: string[];
  /** Transcode budget used and total (pixels per second). */
  used: number;
  budget: number;
  classes: { channel: string; session: string; state: string }[];
}

export interface Box {
  name: string;
  url: string;
  rtmp: string;
  alive: boolean;
  seenAt: number;
  used: number;
  budget: number;
  classes: Here['classes'];
}

export interface ClusterDeps {
  nodes: NodeRepository;
  me: { name: string; url: string; rtmp: string };
  here(): Here;
  /** A dead box's class was closed here (the hub tells its learners). */
  closedForDeadBox?(s: { id: string; channel: string; node: string }): void;
  log: Logger;
  now?: () => number;
}

export const BEAT_MS = 2000;
export const LEASE_MS = 10_000;

export class ClusterNode {
  private peers: NodeRow[] = [];
  private claimList: ClaimRow[] = [];
  private timer?: NodeJS.Timeout;
  private beating?: Promise<void>;
  private readonly startedAt: number;
  private failing = false;

  constructor(private readonly d: ClusterDeps) {
    this.startedAt = this.now();
  }

  private now(): number {
    return this.d.now?.() ?? Date.now();
  }

  get name(): string {
    return this.d.me.name;
  }

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), BEAT_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
    await this.d.nodes.leave(this.d.me.name, this.now()).catch((err: unknown) => this.d.log.warn('could not sign this box off the store', { err }));
  }

  /** One heartbeat; a store out of reach is logged once and tried again at the next. */
  beat(): Promise<void> {
    this.beating ??= this.beatOnce().finally(() => { this.beating = undefined; });
    return this.beating;
  }

  private async beatOnce(): Promise<void> {
    const now = this.now();
    const h = this.d.here();
    try {
      await this.d.nodes.beat({ ...this.d.me, startedAt: this.startedAt }, JSON.stringify({ used: h.used, budget: h.budget, classes: h.classes }), now, LEASE_MS);
      await this.d.nodes.renewClaims(this.d.me.name, h.sessions, now, LEASE_MS);
      this.peers = await this.d.nodes.list();
      this.claimList = await this.d.nodes.claims();
      await this.closeDeadBoxes(now);
      if (this.failing) this.d.log.info('heartbeat written again');
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.d.log.warn('could not write this box\'s heartbeat; trying again', { err });
      this.failing = true;
    }
  }

  private async closeDeadBoxes(now: number): Promise<void> {
    for (const n of this.peers) {
      if (n.name === this.d.me.name || n.leaseUntil >= now) continue;
      const open = await this.d.nodes.openSessionsOf(n.name);
      if (open.length === 0) continue;
      if (!(await this.d.nodes.tryLease(`recover:${n.name}`, this.d.me.name, now, LEASE_MS * 3))) continue;
      for (const s of open) {
        if (!(await this.d.nodes.endForDeadNode(s.id, n.name, new Date(n.seenAt).toISOString()))) continue;
        this.d.log.warn('closed a class of a box that stopped answering; its recording stays on that box', { box: n.name, session: s.id, channel: s.channel });
        this.d.closedForDeadBox?.({ id: s.id, channel: s.channel, node: n.name });
      }
    }
  }

  /** The boxes as last seen (this one first). */
  boxes(): Box[] {
    const now = this.now();
    return [...this.peers].sort((a, b) => (a.name === this.d.me.name ? -1 : b.name === this.d.me.name ? 1 : a.name.localeCompare(b.name))).map((n) => {
      let load: { used?: number; budget?: number; classes?: Here['classes'] } = {};
      try {
        load = JSON.parse(n.load) as typeof load;
      } catch {
        // a box of a newer version may say more; what is unreadable counts as nothing
      }
      return { name: n.name, url: n.url, rtmp: n.rtmp, alive: n.leaseUntil >= now, seenAt: n.seenAt, used: load.used ?? 0, budget: load.budget ?? 0, classes: load.classes ?? [] };
    });
  }

  /** The box a channel's class is live on, when it is another one. */
  liveElsewhere(channelId: number): { node: string; url: string; rtmp: string } | undefined {
    const now = this.now();
    const c = this.claimList.find((x) => x.channelId === channelId && x.node !== this.d.me.name && x.until >= now);
    const box = c && this.peers.find((p) => p.name === c.node);
    return box ? { node: box.name, url: box.url, rtmp: box.rtmp } : undefined;
  }

  /** The box whose public URL serves what box `name` holds (a replay), when it is another live one. */
  urlOf(name: string): string | undefined {
    return this.peers.find((p) => p.name === name)?.url;
  }

  /** Where an instructor should push: the box with the most transcode budget free (this one on a tie). */
  best(): Box | undefined {
    const alive = this.boxes().filter((b) => b.alive);
    return alive.reduce<Box | undefined>((best, b) => (!best || b.budget - b.used > best.budget - best.used ? b : best), undefined);
  }

  /** Runs `fn` if this box holds (or takes) lease `name`; the lease outlives the call by `ms` unless renewed. */
  async once(name: string, ms: number, fn: () => Promise<void>): Promise<boolean> {
    if (!(await this.d.nodes.tryLease(name, this.d.me.name, this.now(), ms))) return false;
    await fn();
    return true;
  }
}
