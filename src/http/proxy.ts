// A worker process of `serve --workers N` answers the engagement hub's WebSockets itself and hands every other
// request to the main process (which owns live classes, LL-HLS parts and the API) over loopback. The request model
// is HttpRequest (method, path, query, the headers handlers read, body), so what the main process sees is exactly
// what it would have seen first-hand.

import { CLIENT_HEADER, CLIENT_LOCAL_HEADER, HOST_HEADER, json, type HttpAnswer, type HttpRequest, type Route } from './app.js';
import { LAUNCH_BODY_BYTES } from './lti-routes.js';

/** Headers that belong to one hop, or that fetch has already undone (it decompresses). */
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date', 'content-encoding', 'server']);

export function forwardedHeaders(req: HttpRequest): Record<string, string> {
  const h: Record<string, string> = {};
  if (req.headers.authorization) h.authorization = req.headers.authorization;
  if (req.headers.range) h.range = req.headers.range;
  if (req.headers.origin) h.origin = req.headers.origin;
  if (req.headers.muxSignature) h['mux-signature'] = req.headers.muxSignature;
  if (req.headers.ifNoneMatch) h['if-none-match'] = req.headers.ifNoneMatch;
  if (req.headers.cookie) h.cookie = req.headers.cookie;
  if (req.headers.contentType) h['content-type'] = req.headers.contentType;
  if (req.headers.host) h[HOST_HEADER] = req.headers.host; // the pages name it in their CSP (fetch sets its own Host)
  h[CLIENT_HEADER] = req.client.address;
  h[CLIENT_LOCAL_HEADER] = req.client.local ? '1' : '0';
  return h;
}

export async function forward(base: string, req: HttpRequest): Promise<HttpAnswer> {
  const url = `${base}${req.path}${req.query ? `?${req.query}` : ''}`;
  try {
    const res = await fetch(url, {
      // HEAD is asked as GET: the answer's length is then known here, and the HTTP layer sends no body.
      method: req.method === 'HEAD' ? 'GET' : req.method,
      headers: forwardedHeaders(req),
      body: req.method === 'POST' || req.method === 'PATCH' ? req.body ?? '' : undefined,
      redirect: 'manual',
      signal: req.signal,
    });
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      if (!HOP.has(k)) headers[k] = v;
    });
    return { status: res.status, headers, body: Buffer.from(await res.arrayBuffer()) };
  } catch (err) {
    if (req.signal?.aborted) return { status: 499 };
    return json(502, { error: 'upstream', message: `the main process did not answer (${err instanceof Error ? err.message : String(err)})` });
  }
}

/** Every path: to the main process at `base` (http://127.0.0.1:<internal port>). */
export function proxyRoutes(base: string): Route[] {
  // The largest body any route takes; the main process applies each route's own limit.
  return [{ method: 'any', pattern: '/*', handler: (req) => forward(base, req), maxBodyBytes: LAUNCH_BODY_BYTES }];
}
