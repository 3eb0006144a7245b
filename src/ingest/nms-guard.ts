// Bounds what an RTMP connection may make node-media-server do before and after its publish is admitted.
// node-media-server 4.4.3 allocates each chunk stream's message buffer from the length an untrusted chunk header
// claims (up to 16 MB, per chunk stream id, per connection), loops forever on a SET_CHUNK_SIZE of 0, and lets an
// exception in its parser escape a socket 'data' handler. This module wraps four methods of its Rtmp parser class
// (loaded once, by the ingest only) so that:
//   - a message may claim at most PRE_ADMISSION_MESSAGE_BYTES until the publish is admitted (connect, createStream
//     and publish commands are small), and at most MAX_MESSAGE_BYTES after;
//   - a connection may use at most MAX_CHUNK_STREAMS chunk streams and PER_CONNECTION_BYTES of buffers, and all
//     connections together at most the global budget;
//   - a chunk size outside 1..MAX_CHUNK_SIZE is a protocol error;
//   - any protocol error (or parser exception) destroys that one connection and is reported, never thrown.
// Upstream: the report to file is in docs/upstream/node-media-server.md (no internet here to file it).

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const PRE_ADMISSION_MESSAGE_BYTES = 64 * 1024;
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
export const MAX_CHUNK_STREAMS = 32;
export const PER_CONNECTION_BYTES = 24 * 1024 * 1024;
/** Parser buffers one connection may hold before its publish is admitted (connect, createStream and publish are a
 * few KB; without this bound 32 chunk streams of 64 KB let a junk connection hold 2 MB before saying who it is). */
export const PRE_ADMISSION_CONNECTION_BYTES = 256 * 1024;
export const MAX_CHUNK_SIZE = 0xffffff;
const RTMP_TYPE_SET_CHUNK_SIZE = 1;
/** The parser's handshake state once C2 has been read. */
const HANDSHAKE_DONE = 3;

interface RtmpParser {
  parserPacket: { header: { length: number; type: number }; capacity: number; payload: Buffer };
  inPackets: Map<number, unknown>;
  handshakeState: number;
  parserData(buffer: Buffer): string | null;
  packetAlloc(): void;
  packetParse(): void;
  controlHandler(): void;
}

interface ConnState {
  admitted: boolean;
  allocated: number;
  dead: boolean;
  onError(reason: string): void;
}

class ProtocolError extends Error {}

/** The node-media-server release these wrappers were written against (package.json pins it exactly). */
export const GUARDED_NMS_VERSION = '4.4.3';
export const WRAPPED_METHODS = ['parserData', 'packetAlloc', 'packetParse', 'controlHandler'] as const;

/** Throws, naming what is missing, when the parser lacks a method the guard wraps (another node-media-server). */
export function assertGuardable(proto: Record<string, unknown>, version: string): void {
  const missing = WRAPPED_METHODS.filter((m) => typeof proto[m] !== 'function');
  if (missing.length === 0) return;
  throw new Error(`node-media-server ${version} has no Rtmp.${missing.join(', Rtmp.')}: the RTMP ingest guard wraps ${WRAPPED_METHODS.join(', ')} of version ${GUARDED_NMS_VERSION}. `
    + `Install the pinned version (npm ci) or review src/ingest/nms-guard.ts against the new one before starting.`);
}

export interface GuardLimits {
  /** Buffer bytes all RTMP connections together may hold. */
  totalBytes: number;
}

/** Installs the wrappers (once per process) and tracks each connection's parser. */
export class NmsGuard {
  private static installed?: NmsGuard;
  private readonly states = new WeakMap<object, ConnState>();
  private total = 0;

  static install(limits: GuardLimits): NmsGuard {
    if (NmsGuard.installed) {
      NmsGuard.installed.limits = limits;
      return NmsGuard.installed;
    }
    const guard = new NmsGuard(limits);
    const Rtmp = require('node-media-server/src/protocol/rtmp.js') as { prototype: RtmpParser };
    const version = (require('node-media-server/package.json') as { version: string }).version;
    assertGuardable(Rtmp.prototype as unknown as Record<string, unknown>, version);
    guard.wrap(Rtmp);
    NmsGuard.installed = guard;
    return guard;
  }

  private constructor(private limits: GuardLimits) {}

  /** Starts watching one connection's parser; onError is told (once) when it breaks a rule. */
  watch(parser: object, onError: (reason: string) => void): { admitted(): void; release(): void; handshakeDone(): boolean } {
    const st: ConnState = { admitted: false, allocated: 0, dead: false, onError };
    this.states.set(parser, st);
    return {
      admitted: () => {
        st.admitted = true;
      },
      release: () => {
        this.total -= st.allocated;
        st.allocated = 0;
        st.dead = true;
      },
      handshakeDone: () => (parser as RtmpParser).handshakeState >= HANDSHAKE_DONE,
    };
  }

  /** Buffer bytes held by all watched connections now. */
  get totalBytes(): number {
    return this.total;
  }

  private wrap(Rtmp: { prototype: RtmpParser }): void {
    const guard = this;
    const proto = Rtmp.prototype;
    const parserData = proto.parserData;
    const packetAlloc = proto.packetAlloc;
    const packetParse = proto.packetParse;
    const controlHandler = proto.controlHandler;
    proto.parserData = function (this: RtmpParser, buffer: Buffer): string | null {
      const st = guard.states.get(this);
      if (st?.dead) return null; // the socket is being destroyed: nothing more is parsed
      try {
        const refused = parserData.call(this, buffer);
        if (refused !== null && st) {
          st.dead = true;
          st.onError(`malformed RTMP (${String(refused).slice(0, 80)})`);
        }
        return refused;
      } catch (err) {
        const reason = err instanceof ProtocolError ? err.message : `malformed RTMP (${err instanceof Error ? err.message.slice(0, 80) : 'parser error'})`;
        if (st) {
          st.dead = true;
          st.onError(reason);
        }
        return null;
      }
    };
    proto.packetAlloc = function (this: RtmpParser): void {
      const st = guard.states.get(this);
      const p = this.parserPacket;
      const length = p.header.length;
      if (st) {
        const limit = st.admitted ? MAX_MESSAGE_BYTES : PRE_ADMISSION_MESSAGE_BYTES;
        if (length > limit) throw new ProtocolError(`a message of ${length} bytes (limit ${limit}${st.admitted ? '' : ' before the publish is admitted'})`);
        if (p.capacity < length) {
          const grow = length + 1024 - p.capacity;
          if (st.allocated + grow > (st.admitted ? PER_CONNECTION_BYTES : PRE_ADMISSION_CONNECTION_BYTES)) {
            throw new ProtocolError(`too much buffered on one connection${st.admitted ? '' : ' before the publish is admitted'}`);
          }
          if (guard.total + grow > guard.limits.totalBytes) throw new ProtocolError('the ingest buffer budget is spent');
          st.allocated += grow;
          guard.total += grow;
        }
      }
      packetAlloc.call(this);
    };
    proto.packetParse = function (this: RtmpParser): void {
      packetParse.call(this);
      if (guard.states.has(this) && this.inPackets.size > MAX_CHUNK_STREAMS) throw new ProtocolError(`more than ${MAX_CHUNK_STREAMS} chunk streams`);
    };
    proto.controlHandler = function (this: RtmpParser): void {
      const p = this.parserPacket;
      if (p.header.type === RTMP_TYPE_SET_CHUNK_SIZE) {
        const size = p.header.length >= 4 ? p.payload.readUInt32BE(0) & 0x7fffffff : 0;
        if (size < 1 || size > MAX_CHUNK_SIZE) throw new ProtocolError(`a chunk size of ${size}`);
      }
      controlHandler.call(this);
    };
  }
}
