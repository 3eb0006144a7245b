// RTMP/RTMPS ingest on node-media-server 4.x (the only module that imports it). Checks every publish before
// media is processed, refuses remote RTMP play (the path holds the secret key), marks rejected sessions so
// nothing downstream reacts to NMS's late postPublish/donePublish, and hands media out through bounded pipes.
// Never logs a stream path or key.

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Server, Socket } from 'node:net';
import type { Logger } from '../log.js';
import { FailureGuard } from './failure-guard.js';
import { NmsGuard } from './nms-guard.js';
import type { MediaSink } from '../media/sink.js';
import { flvUnit } from '../media/flv-pipe.js';
import type { Ingest, IngestHandlers, SourceMeta } from '../live/ports.js';

const require = createRequire(import.meta.url);

interface NmsSession {
  id: string;
  ip: string;
  protocol: string;
  streamApp: string;
  streamName: string;
  streamPath: string;
  inBytes: number;
  videoCodec: number;
  videoWidth: number;
  videoHeight: number;
  videoFramerate: number;
  videoDatarate: number;
  audioCodec: number;
  audioSamplerate: number;
  audioChannels: number;
  socket?: { destroy(): void; once(ev: string, fn: () => void): void };
  /** The connection's RTMP parser (watched by the protocol guard). */
  rtmp?: object;
  close(): void;
}
interface NmsBroadcast {
  publisher: NmsSession | null;
  donePublish(s: NmsSession): void;
  publishGraceMs: number;
  postPlay(s: unknown): string | null;
  donePlay(s: unknown): void;
}
interface NmsContext {
  config: Record<string, unknown>;
  sessions: Map<string, NmsSession>;
  broadcasts: Map<string, NmsBroadcast>;
  eventEmitter: { on(ev: string, fn: (s: NmsSession) => void): void; removeAllListeners(): void };
}
interface NmsRtmpServer {
  tcpServer?: Server;
  tlsServer?: Server;
  run(): void;
  stop(): void;
}

export interface IngestOptions {
  host: string;
  port: number;
  tls?: { port: number; cert: string; key: string };
  graceMs: number;
  maxFailuresPerMinute: number;
  log: Logger;
}

/** A connection must finish the RTMP handshake this soon. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** A connection must have its publish admitted (or, from loopback, its play) this soon. */
export const ADMISSION_TIMEOUT_MS = 15_000;
/** A connection that sends nothing this long is closed (a live publisher sends many times a second). */
export const IDLE_TIMEOUT_MS = 30_000;
/** Buffer memory all RTMP connections together may hold in node-media-server's parser. */
export const INGEST_BUFFER_BYTES = 256 * 1024 * 1024;

/** Connections an address over the failure limit may hold open at once, besides its live publishers. */
export const BLOCKED_OPEN_SOCKETS = 2;

const addressOf = (ip: string): string => ip.replace(/:\d+$/, '').replace(/^::ffff:/, '');
export const isLoopback = (address: string): boolean => address === '::1' || address.startsWith('127.');

export class RtmpIngest implements Ingest {
  private server?: NmsRtmpServer;
  private readonly ctx: NmsContext;
  private readonly rejected = new Set<string>();
  private readonly accepted = new Map<string, NmsSession>();
  readonly guard: FailureGuard;
  /** Open RTMP connections per remote address, for throttling addresses over the failure limit. */
  private readonly openByAddress = new Map<string, number>();
  private readonly nmsGuard = NmsGuard.install({ totalBytes: INGEST_BUFFER_BYTES });
  private readonly watches = new Map<string, { admitted(): void }>();
  readonly counters = { rejectedPublishes: 0, refusedConnections: 0, refusedPlays: 0, protocolErrors: 0 };

  constructor(private readonly opts: IngestOptions, private readonly handlers: IngestHandlers) {
    // NMS logs stream paths, which contain stream keys: silence it, we log ourselves.
    const logger = require('node-media-server/src/core/logger.js') as { log: (...a: unknown[]) => void };
    logger.log = () => {};
    this.ctx = require('node-media-server/src/core/context.js') as NmsContext;
    this.guard = new FailureGuard({ maxFailuresPerMinute: opts.maxFailuresPerMinute, blockMs: 5 * 60000 });
  }

  async start(): Promise<void> {
    const { opts } = this;
    this.ctx.config = {
      bind: opts.host,
      rtmp: { port: opts.port },
      ...(opts.tls ? { rtmps: { port: opts.tls.port, cert: opts.tls.cert, key: opts.tls.key } } : {}),
    };
    if (opts.tls) {
      // Fail here with a clear error rather than inside NMS.
      for (const [key, file] of [['rtmp.tlsCert', opts.tls.cert], ['rtmp.tlsKey', opts.tls.key]] as const) {
        try {
          readFileSync(file);
        } catch (err) {
          throw new Error(`cannot read the RTMPS file ${key} = ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
        }
      }
    }
    this.ctx.eventEmitter.on('prePublish', this.onPrePublish);
    this.ctx.eventEmitter.on('postPublish', this.onPostPublish);
    this.ctx.eventEmitter.on('donePublish', this.onDonePublish);
    this.ctx.eventEmitter.on('prePlay', this.onPrePlay);
    const RtmpServer = require('node-media-server/src/server/rtmp_server.js') as new () => NmsRtmpServer;
    const server = new RtmpServer();
    this.server = server;
    for (const srv of [server.tcpServer, server.tlsServer]) {
      // Runs after NMS's own connection handler. An address over the failure limit is throttled, never locked out:
      // it may hold only BLOCKED_OPEN_SOCKETS connections at once (wasted work stays bounded), and a valid key
      // from it is still admitted (keys are 256-bit: guessing is not the threat; a school's NAT is the common case).
      srv?.on('connection', (socket) => {
        const address = addressOf(`${socket.remoteAddress ?? ''}:0`);
        const open = (this.openByAddress.get(address) ?? 0) + 1;
        if (this.guard.isBlocked(address, Date.now()) && open - this.publishingFrom(address) > BLOCKED_OPEN_SOCKETS) {
          this.counters.refusedConnections += 1;
          socket.destroy();
          return;
        }
        this.openByAddress.set(address, open);
        socket.once('close', () => {
          const n = (this.openByAddress.get(address) ?? 1) - 1;
          if (n <= 0) this.openByAddress.delete(address);
          else this.openByAddress.set(address, n);
        });
        socket.setTimeout(IDLE_TIMEOUT_MS, () => this.closeFor(socket, address, `nothing received for ${IDLE_TIMEOUT_MS / 1000} s`));
        // Plain RTMP: NMS made the session just now. RTMPS: it makes it once TLS is up (secureConnection).
        if (srv === server.tcpServer) this.watchConnection(socket, address);
      });
    }
    server.tlsServer?.on('secureConnection', (socket: Socket) => this.watchConnection(socket, addressOf(`${socket.remoteAddress ?? ''}:0`)));
    await listen(server.tcpServer!, opts.port, opts.host);
    if (server.tlsServer && opts.tls) await listen(server.tlsServer, opts.tls.port, opts.host);
    for (const srv of [server.tcpServer, server.tlsServer]) srv?.on('error', (err) => this.opts.log.error('rtmp listener error', { err }));
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    const { tcpServer, tlsServer } = this.server;
    this.server.stop();
    this.ctx.eventEmitter.removeAllListeners();
    await Promise.all([tcpServer, tlsServer].filter((s): s is Server => !!s && s.listening).map((s) => new Promise((r) => s.close(r))));
    this.server = undefined;
  }

  /** The port actually bound (useful when configured as 0 in tests). */
  get port(): number {
    const a = this.server?.tcpServer?.address();
    return typeof a === 'object' && a ? a.port : this.opts.port;
  }

  owns(id: string): boolean {
    return this.accepted.has(id);
  }

  meta(id: string): SourceMeta | undefined {
    const s = this.accepted.get(id);
    if (!s) return undefined;
    // FLV's codec ids: video 7 AVC, 12 HEVC (enhanced RTMP); audio 10 AAC, none when the publisher said none.
    const v = Number(s.videoCodec) || 0;
    const a = Number(s.audioCodec) || 0;
    return {
      videoCodec: v === 7 ? 'h264' : v === 12 ? 'hevc' : 'other', width: Number(s.videoWidth) || 0, height: Number(s.videoHeight) || 0,
      fps: Number(s.videoFramerate) || 0, videoKbps: Number(s.videoDatarate) || 0, audioCodec: a === 10 ? 'aac' : a === 0 ? 'none' : 'other',
      inBytes: s.inBytes, container: 'flv', via: 'rtmp',
    };
  }

  /** Attaches an internal FLV subscriber to a publisher's stream; NMS sends it the headers and GOP cache first. */
  subscribe(id: string, sink: MediaSink): () => void {
    const s = this.accepted.get(id);
    const broadcast = s ? this.ctx.broadcasts.get(s.streamPath) : undefined;
    if (!s || !broadcast) throw new Error(`publish ${id} is not live`);
    const sub = {
      id: 'kmk-' + randomBytes(6).toString('hex'), ip: '', protocol: 'flv', streamPath: s.streamPath, endTime: 0,
      sendBuffer: (buf: Buffer) => sink.write(flvUnit(buf)),
    };
    broadcast.postPlay(sub);
    let attached = true;
    return () => {
      if (attached) broadcast.donePlay(sub);
      attached = false;
    };
  }

  /**
   * Bounds one connection: protocol rules on its parser (see nms-guard.ts), a handshake deadline, an idle timeout.
   * A breach closes only that connection, is logged and counted, and counts as a failure of its address.
   */
  private watchConnection(socket: Socket, address: string): void {
    // NMS registered the connection's session just before this handler ran: the newest one with this socket.
    let session: NmsSession | undefined;
    for (const s of this.ctx.sessions.values()) if (s.socket === socket) session = s;
    const closeFor = (reason: string): void => this.closeFor(socket, address, reason);
    if (!session?.rtmp) return;
    const watch = this.nmsGuard.watch(session.rtmp, (reason) => closeFor(`protocol error: ${reason}`));
    const id = session.id;
    let admitted = false;
    this.watches.set(id, {
      admitted: () => {
        admitted = true;
        watch.admitted();
      },
    });
    const handshake = setTimeout(() => {
      if (!watch.handshakeDone()) closeFor(`no RTMP handshake within ${HANDSHAKE_TIMEOUT_MS / 1000} s`);
    }, HANDSHAKE_TIMEOUT_MS);
    const admission = setTimeout(() => {
      if (!admitted) closeFor(`no publish within ${ADMISSION_TIMEOUT_MS / 1000} s of connecting`);
    }, ADMISSION_TIMEOUT_MS);
    handshake.unref();
    admission.unref();
    socket.once('close', () => {
      clearTimeout(handshake);
      clearTimeout(admission);
      watch.release();
      this.watches.delete(id);
    });
  }

  private closeFor(socket: Socket, address: string, reason: string): void {
    if (socket.destroyed) return;
    this.counters.protocolErrors += 1;
    this.guard.recordFailure(address, Date.now());
    this.opts.log.warn('rtmp connection closed', { from: address, reason });
    socket.destroy();
  }

  /** Buffer bytes node-media-server's parsers hold for all connections now. */
  get bufferedBytes(): number {
    return this.nmsGuard.totalBytes;
  }

  private publishingFrom(address: string): number {
    let n = 0;
    for (const s of this.accepted.values()) if (addressOf(s.ip) === address) n += 1;
    return n;
  }

  /** Closes a publisher's connection (end of class from our side, or shutdown). */
  kick(id: string): void {
    const s = this.accepted.get(id);
    s?.socket?.destroy();
  }

  private refuse(s: NmsSession, reason: string): void {
    this.rejected.add(s.id);
    this.counters.rejectedPublishes += 1;
    this.opts.log.warn('publish refused', { from: addressOf(s.ip), reason });
    if (s.socket) s.socket.destroy();
    else s.close();
  }

  private readonly onPrePublish = (s: NmsSession): void => {
    try {
      const address = addressOf(s.ip);
      if (s.streamApp !== 'live') return this.refuse(s, `unknown application "${s.streamApp.slice(0, 32)}" (publish to /live/<stream key>)`);
      const verdict = this.handlers.admit({ id: s.id, key: s.streamName, address, via: 'rtmp' });
      if (!verdict.ok) {
        if (verdict.code === 'unknown_key') this.guard.recordFailure(address, Date.now());
        const blocked = this.guard.isBlocked(address, Date.now());
        return this.refuse(s, blocked ? `${verdict.reason} (this address is throttled after too many bad keys)` : verdict.reason);
      }
      this.accepted.set(s.id, s);
      this.watches.get(s.id)?.admitted();
      const broadcast = this.ctx.broadcasts.get(s.streamPath);
      // A takeover: node-media-server still holds the frozen publisher in the path's slot and would refuse this
      // one ("already has a publisher"). Release the slot the way a disconnect does, so this publish continues it.
      const prev = verdict.replaces ? this.accepted.get(verdict.replaces) : undefined;
      if (prev && broadcast && broadcast.publisher === prev) broadcast.donePublish(prev);
      if (broadcast) broadcast.publishGraceMs = this.opts.graceMs;
      s.socket?.once('close', () => {
        if (this.accepted.has(s.id)) this.handlers.disconnected(s.id);
      });
    } catch (err) {
      this.opts.log.error('publish check failed', { err });
      this.refuse(s, 'internal error');
    }
  };

  private readonly onPostPublish = (s: NmsSession): void => {
    // NMS fires this even for sessions we closed in prePublish; they are simply ignored.
    if (this.rejected.has(s.id)) return;
  };

  private readonly onDonePublish = (s: NmsSession): void => {
    if (this.rejected.delete(s.id)) return;
    if (!this.accepted.has(s.id)) return;
    this.accepted.delete(s.id);
    try {
      this.handlers.ended(s.id);
    } catch (err) {
      this.opts.log.error('unpublish handling failed', { err });
    }
  };

  private readonly onPrePlay = (s: NmsSession): void => {
    if (isLoopback(addressOf(s.ip))) this.watches.get(s.id)?.admitted();
    else {
      this.counters.refusedPlays += 1;
      this.opts.log.warn('rtmp play refused: only loopback may play', { from: addressOf(s.ip) });
      if (s.socket) s.socket.destroy();
      else s.close();
    }
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  // NMS's own run() would exit the process on a listen error; we listen ourselves and report instead.
  return new Promise((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException): void => {
      reject(new Error(err.code === 'EADDRINUSE' ? `RTMP port ${host}:${port} is already in use` : `RTMP listen on ${host}:${port} failed: ${err.message}`));
    };
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      resolve();
    });
  });
}
