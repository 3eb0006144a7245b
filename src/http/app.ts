// The uWS HTTP server (the only module importing uWebSockets.js): the route table and the glue that copies
// handler answers onto sockets. Handlers are plain async functions that never see uWS objects.

import uWS from 'uWebSockets.js';
import type { Logger } from '../log.js';

export interface HttpRequest {
  method: string;
  /** Raw (still percent-encoded) path. */
  path: string;
  query: string;
  headers: { authorization: string; range: string; origin: string };
}

export interface HttpAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export type Handler = (req: HttpRequest) => Promise<HttpAnswer> | HttpAnswer;

export interface Route {
  method: 'get' | 'options' | 'head' | 'post' | 'any';
  pattern: string;
  handler: Handler;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 204: 'No Content', 206: 'Partial Content', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden',
  404: 'Not Found', 405: 'Method Not Allowed', 413: 'Payload Too Large', 416: 'Range Not Satisfiable',
  500: 'Internal Server Error', 503: 'Service Unavailable',
};

export interface HttpServerOptions {
  host: string;
  port: number;
  log: Logger;
}

export class HttpServer {
  private listenSocket?: uWS.us_listen_socket;
  private readonly app: uWS.TemplatedApp;
  boundPort = 0;

  constructor(private readonly o: HttpServerOptions, routes: Route[]) {
    this.app = uWS.App();
    for (const r of routes) this.app[r.method](r.pattern, (res, req) => this.handle(res, req, r.handler));
    this.app.any('/*', (res, req) => this.handle(res, req, () => json(404, { error: 'not_found', message: 'no such path' })));
  }

  /** The uWS app, for the socket binding to add its WebSocket route. */
  get raw(): uWS.TemplatedApp {
    return this.app;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.app.listen(this.o.host, this.o.port, (socket) => {
        if (!socket) return reject(new Error(`HTTP port ${this.o.host}:${this.o.port} is not available (in use?)`));
        this.listenSocket = socket;
        this.boundPort = uWS.us_socket_local_port(socket as unknown as uWS.us_socket);
        resolve();
      });
    });
  }

  stop(): void {
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
  }

  private handle(res: uWS.HttpResponse, req: uWS.HttpRequest, handler: Handler): void {
    // Everything from req must be read now: it is invalid after the first await.
    const request: HttpRequest = {
      method: req.getMethod().toUpperCase(),
      path: req.getUrl(),
      query: req.getQuery() ?? '',
      headers: { authorization: req.getHeader('authorization'), range: req.getHeader('range'), origin: req.getHeader('origin') },
    };
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const send = (a: HttpAnswer): void => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(`${a.status} ${STATUS_TEXT[a.status] ?? ''}`.trim());
        for (const [k, v] of Object.entries(a.headers ?? {})) res.writeHeader(k, v);
        if (request.method === 'HEAD') res.endWithoutBody(typeof a.body === 'string' ? Buffer.byteLength(a.body) : a.body?.length ?? 0);
        else res.end(a.body ?? '');
      });
    };
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
  }
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpAnswer {
  return { status, headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-cache', ...headers }, body: JSON.stringify(body) };
}
