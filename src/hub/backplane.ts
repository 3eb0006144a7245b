// The messages hub processes exchange when the hub spans processes or boxes (hub.backplane), and the port a
// backplane implements. One process owns each class's room (a lease in Redis); every other process forwards what
// its sockets say to that owner and fans out what the owner publishes to its own sockets. Pure types and helpers.

import type { CaptionCue } from '../domain/captions.js';
import type { EngagementOp } from '../domain/records.js';
import type { ClientMsg } from './protocol.js';
import type { Identity } from './protocol.js';

/**
 * A connection's id across processes: the process's node number (unique per process start, from Redis) times 2^32
 * plus the process's own socket id. In one process without a backplane the node is 0 and the id is the socket id.
 */
export const NODE_SPAN = 2 ** 32;
export const globalId = (node: number, local: number): number => node * NODE_SPAN + local;
export const nodeOf = (gid: number): number => Math.floor(gid / NODE_SPAN);
export const localOf = (gid: number): number => gid % NODE_SPAN;

/** To the owner of room `s`. `at` is when the edge received it (ms). */
export type InMsg =
  | { k: 'join'; s: string; c: number; i: Identity; at: number; again?: boolean }
  | { k: 'leave'; s: string; c: number; at: number }
  | { k: 'msg'; s: string; c: number; m: ClientMsg; ref?: string; at: number }
  | { k: 'started'; s: string; sessionId: string; startedAt?: number }
  | { k: 'publisher'; s: string; sessionId: string; state: 'reconnecting' | 'live' }
  | { k: 'ended'; s: string; sessionId: string; recorded: boolean }
  | { k: 'schedule'; s: string }
  /** A line from the class's speech engine (the box running the class), and the engine's state. */
  | { k: 'speech'; s: string; sessionId: string; cue: Omit<CaptionCue, 'id'> }
  | { k: 'speech_status'; s: string; running: boolean; message: string };

/** From the owner `n` of room `s` to every process. `at`: when the owner published it (ms), for the lag. */
export type OutMsg =
  /** `first`: when the batch's oldest event was made; `p`: the room's presence. */
  | { k: 'topic'; n: number; s: string; staff: boolean; f: string; at: number; first: number; p?: number }
  | { k: 'to'; n: number; c: number[]; f: string }
  | { k: 'close'; n: number; c: number[]; code: number; reason: string }
  /** A new owner took the room: send your members again. */
  | { k: 'resync'; n: number; s: string }
  | { k: 'ban'; n: number; s: string; u: string };

/** A backplane never hands a process its own messages back. */
export interface BackplaneHandlers {
  toOwner(m: InMsg): void;
  fromOwner(m: OutMsg): void;
  /** The connection to Redis came back after a loss: leases and members are checked again. */
  reconnected(): void;
}

export interface Backplane {
  /** This process's node number (known after start). */
  readonly node: number;
  start(h: BackplaneHandlers): Promise<void>;
  stop(): Promise<void>;
  /** Takes the room's lease if nobody holds it; true when this process owns the room now. */
  claim(slug: string): Promise<boolean>;
  /** Renews the leases held; returns the slugs still owned. */
  renew(slugs: string[]): Promise<Set<string>>;
  /** Gives the leases up (at shutdown), so another process takes the rooms at once. */
  release(slugs: string[]): Promise<void>;
  toOwner(m: InMsg): void;
  fromOwner(m: OutMsg): void;
  /** Queues engagement records for the writer; resolves once Redis has them. */
  persist(ops: EngagementOp[]): Promise<void>;
  readonly connected: boolean;
}

/** Encodes and decodes the wire form; a frame that is not one of ours is null (never thrown). */
export function decodeIn(text: string): InMsg | null {
  try {
    const m = JSON.parse(text) as InMsg;
    return m && typeof m === 'object' && typeof m.k === 'string' && typeof m.s === 'string' ? m : null;
  } catch {
    return null;
  }
}

export function decodeOut(text: string): OutMsg | null {
  try {
    const m = JSON.parse(text) as OutMsg;
    return m && typeof m === 'object' && typeof m.k === 'string' && typeof m.n === 'number' ? m : null;
  } catch {
    return null;
  }
}
