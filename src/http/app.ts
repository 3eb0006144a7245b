// The uWS HTTP server (the only module importing uWebSockets.js): the route table and the glue that copies
// handler answers onto sockets. Handlers are plain async functions that never see uWS objects.

import uWS from 'uWebSockets.js';
import type { Logger } from '../log.js';
import { clientOf, type Client } from './client.js';

export interface HttpRequest {
  method: string;
  /** Raw (still percent-encoded) path. */
  path: string;
  query: string;
  headers: { authorization: string; range: string; origin: string; muxSignature: string; ifNoneMatch?: string; host?: string; cookie?: string; contentType?: string };
  /** Request body (POST and PATCH only), at most MAX_BODY_BYTES. */
  body?: string;
  /** Aborted when the client goes away before the answer (held requests stop waiting). */
  signal?: AbortSignal;
  /** Who sent it (rate limits, the loopback-only /metrics). */
  client: Client;
}

/** Headers a worker process sets when it hands a request to the main process: who its client was. */
export const CLIENT_HEADER = 'x-kmk-client';
export const CLIENT_LOCAL_HEADER = 'x-kmk-client-local';
export const HOST_HEADER = 'x-kmk-host';

export const MAX_BODY_BYTES = 16 * 1024;

export interface HttpAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export type Handler = (req: HttpRequest) => Promise<HttpAnswer> | HttpAnswer;

export interface Route {
  method: 'get' | 'options' | 'head' | 'post' | 'patch' | 'del' | 'any';
  pattern: string;
  handler: Handler;
  /** Larger POST bodies are answered 413 (default MAX_BODY_BYTES). */
  maxBodyBytes?: number;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 201: 'Created', 204: 'No Content', 206: 'Partial Content', 302: 'Found', 303: 'See Other', 304: 'Not Modified', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden',
  404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 416: 'Range Not Satisfiable',
  422: 'Unprocessable Content', 429: 'Too Many Requests',
  500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable',
};

export interface HttpServerOptions {
  host: string;
  port: number;
  log: Logger;
  /** Shared with worker processes (`serve --workers`). uWS listens with SO_REUSEPORT either way: an exclusive
   * port made a restart after a crash fail while an orphaned ffmpeg still held the old socket. */
  shared?: boolean;
  /** The main process's loopback port for its workers: believe their CLIENT_HEADER about who the client was. */
  fromWorkers?: boolean;
}

export interface WsConn<U> {
  readonly id: number;
  readonly user: U;
  send(frame: string): void;
  subscribe(topic: string): void;
  close(code: number, reason: string): void;
}

export type Upgrade<U> = { ok: true; user: U } | { ok: false; status: number; body: string };

export interface WsHandlers<U> {
  /** Decides before the upgrade completes; a refusal is a plain HTTP answer. */
  upgrade(req: HttpRequest): Upgrade<U>;
  open(conn: WsConn<U>): void;
  /** `text` is null for binary frames. */
  message(conn: WsConn<U>, text: string | null): void;
  close(conn: WsConn<U>, code: number): void;
}

export interface WsOptions {
  /** Larger frames close the socket with 1009 (message too big). */
  maxMessageBytes: number;
  maxBackpressure: number;
  idleTimeoutSeconds: number;
}

interface WsData<U> {
  conn?: WsConn<U>;
  user: U;
}

export class HttpServer {
  private listenSocket?: uWS.us_listen_socket;
  private readonly app: uWS.TemplatedApp;
  boundPort = 0;

  constructor(private readonly o: HttpServerOptions, routes: Route[]) {
    this.app = uWS.App();
    for (const r of routes) this.app[r.method](r.pattern, (res, req) => this.handle(res, req, r.handler, r.maxBodyBytes ?? MAX_BODY_BYTES));
    if (!routes.some((r) => r.method === 'any' && r.pattern === '/*')) {
      this.app.any('/*', (res, req) => this.handle(res, req, () => json(404, { error: 'not_found', message: 'no such path' })));
    }
  }

  private nextConnId = 1;
  /** Open WebSockets, closed at stop (uWS keeps the process alive while any is open). */
  private readonly sockets = new Set<uWS.WebSocket<unknown>>();
  readonly wsCounters = { sendDropped: 0, closedAbnormal: 0, oversize: 0 };

  /** Adds a WebSocket route; handlers see only WsConn, never uWS objects. Call before start(). */
  ws<U>(pattern: string, h: WsHandlers<U>, o: WsOptions): void {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    this.app.ws<WsData<U>>(pattern, {
      compression: uWS.DISABLED,
      // uWS drops frames over its limit with an abrupt close; a larger hard cap lets us answer 1009 properly.
      maxPayloadLength: Math.max(o.maxMessageBytes * 16, 65536),
      maxBackpressure: o.maxBackpressure,
      closeOnBackpressureLimit: 1, // a client too slow for the room is cut off (it can rejoin), never buffered without bound
      idleTimeout: o.idleTimeoutSeconds,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => {
        const request: HttpRequest = {
          method: 'GET', path: req.getUrl(), query: req.getQuery() ?? '',
          headers: { authorization: req.getHeader('authorization'), range: '', origin: req.getHeader('origin'), muxSignature: '' },
          client: this.clientOf(res, req),
        };
        const key = req.getHeader('sec-websocket-key');
        const protocol = req.getHeader('sec-websocket-protocol');
        const extensions = req.getHeader('sec-websocket-extensions');
        let verdict: Upgrade<U>;
        try {
          verdict = h.upgrade(request);
        } catch (err) {
          this.o.log.error('websocket upgrade check failed', { err });
          verdict = { ok: false, status: 500, body: 'internal error' };
        }
        if (!verdict.ok) {
          res.cork(() => {
            res.writeStatus(`${verdict.status} ${STATUS_TEXT[verdict.status] ?? ''}`.trim());
            res.writeHeader('Content-Type', 'application/json; charset=utf-8');
            res.end(verdict.body);
          });
          return;
        }
        res.upgrade<WsData<U>>({ user: verdict.user }, key, protocol, extensions, context);
      },
      open: (ws) => {
        const data = ws.getUserData();
        const conn: WsConn<U> = {
          id: this.nextConnId++,
          user: data.user,
          send: (frame) => {
            let r = 1;
            ws.cork(() => {
              r = ws.send(frame, false, false);
            });
            if (r === 2) this.wsCounters.sendDropped += 1;
          },
          subscribe: (topic) => void ws.subscribe(topic),
          close: (code, reason) => ws.end(code, reason),
        };
        data.conn = conn;
        this.sockets.add(ws as uWS.WebSocket<unknown>);
        this.guard(() => h.open(conn));
      },
      message: (ws, message, isBinary) => {
        const conn = ws.getUserData().conn;
        if (!conn) return;
        if (message.byteLength > o.maxMessageBytes) {
          this.wsCounters.oversize += 1;
          ws.end(1009, 'frame too big');
          return;
        }
        let text: string | null = null;
        if (!isBinary) {
          try {
            text = decoder.decode(message);
          } catch {
            text = '\u0000invalid utf-8';
          }
        }
        this.guard(() => h.message(conn, text));
      },
      close: (ws, code) => {
        this.sockets.delete(ws as uWS.WebSocket<unknown>);
        const conn = ws.getUserData().conn;
        if (code === 1006) this.wsCounters.closedAbnormal += 1; // includes clients cut off for backpressure
        // The socket is gone: a WsConn must not touch it any more.
        if (conn) {
          conn.send = () => {};
          conn.subscribe = () => {};
          conn.close = () => {};
          this.guard(() => h.close(conn, code));
        }
      },
    });
  }

  /** Sends a frame to every subscriber of a topic (uWS applies each subscriber's backpressure limit). */
  publish(topic: string, frame: string): void {
    this.app.publish(topic, frame, false, false);
  }

  numSubscribers(topic: string): number {
    return this.app.numSubscribers(topic);
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.o.log.error('websocket handler failed', { err: err instanceof Error ? err.stack ?? err.message : String(err) });
    }
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      // uWS takes (host, port, options, cb) at run time; its typings only list the form without a host.
      const listen = this.app.listen as unknown as (host: string, port: number, options: number, cb: (s: uWS.us_listen_socket | false) => void) => void;
      listen.call(this.app, this.o.host, this.o.port, 0, (socket) => {
        if (!socket) return reject(new Error(`HTTP port ${this.o.host}:${this.o.port} is not available (in use?)`));
        this.listenSocket = socket;
        this.boundPort = uWS.us_socket_local_port(socket as unknown as uWS.us_socket);
        resolve();
      });
    });
  }

  /** Stops listening and closes every WebSocket (1001: clients reconnect elsewhere or when the server is back). */
  async stop(): Promise<void> {
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    for (const ws of [...this.sockets]) {
      try {
        ws.end(1001, 'server shutting down');
      } catch {
        // already closed
      }
    }
    this.sockets.clear();
  }

  private clientOf(res: uWS.HttpResponse, req: uWS.HttpRequest): Client {
    const remote = Buffer.from(res.getRemoteAddressAsText()).toString();
    if (this.o.fromWorkers && req.getHeader(CLIENT_HEADER)) {
      return { address: req.getHeader(CLIENT_HEADER).slice(0, 64), local: req.getHeader(CLIENT_LOCAL_HEADER) === '1' };
    }
    return clientOf(remote, { xForwardedFor: req.getHeader('x-forwarded-for'), xRealIp: req.getHeader('x-real-ip'), forwarded: req.getHeader('forwarded') });
  }

  private handle(res: uWS.HttpResponse, req: uWS.HttpRequest, handler: Handler, maxBody = MAX_BODY_BYTES): void {
    // Everything from req must be read now: it is invalid after the first await.
    const request: HttpRequest = {
      method: req.getMethod().toUpperCase(),
      path: req.getUrl(),
      query: req.getQuery() ?? '',
      headers: {
        authorization: req.getHeader('authorization'), range: req.getHeader('range'), origin: req.getHeader('origin'),
        muxSignature: req.getHeader('mux-signature'), ifNoneMatch: req.getHeader('if-none-match'),
        host: (this.o.fromWorkers && req.getHeader(HOST_HEADER)) || req.getHeader('host'), cookie: req.getHeader('cookie'),
        contentType: req.getHeader('content-type'),
      },
      client: this.clientOf(res, req),
    };
    let aborted = false;
    const gone = new AbortController();
    request.signal = gone.signal;
    res.onAborted(() => {
      aborted = true;
      gone.abort();
    });
    const send = (a: HttpAnswer): void => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(`${a.status} ${STATUS_TEXT[a.status] ?? ''}`.trim());
        for (const [k, v] of Object.entries(a.headers ?? {})) res.writeHeader(k, v);
        if (a.status === 304) res.endWithoutBody(); // never a body (RFC 9110 15.4.5)
        else if (request.method === 'HEAD') res.endWithoutBody(typeof a.body === 'string' ? Buffer.byteLength(a.body) : a.body?.length ?? 0);
        else res.end(a.body ?? '');
      });
    };
    const run = (): void => {
      let answer: Promise<HttpAnswer>;
      try {
        answer = Promise.resolve(handler(request));
      } catch (err) {
        answer = Promise.reject(err);
      }
      answer.then(send, (err: unknown) => {
        this.o.log.error('http handler failed', { path: request.path.slice(0, 200), err });
        send(json(500, { error: 'internal', message: 'internal error' }));
      });
    };
    if (request.method !== 'POST' && request.method !== 'PATCH') return run();
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    res.onData((chunk, isLast) => {
      if (done) return;
      size += chunk.byteLength;
      if (size > maxBody) {
        done = true;
        send(json(413, { error: 'too_large', message: `request bodies are limited to ${maxBody} bytes` }));
        return;
      }
      chunks.push(Buffer.from(chunk.slice(0))); // uWS reuses the chunk's memory after this callback
      if (isLast) {
        done = true;
        request.body = Buffer.concat(chunks).toString('utf8');
        run();
      }
    });
  }
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpAnswer {
  return { status, headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-cache', ...headers }, body: JSON.stringify(body) };
}
