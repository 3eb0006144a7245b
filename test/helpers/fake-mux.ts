// A fake Mux API for the tests: the endpoints @mux/mux-node calls for live streams, direct uploads and assets,
// plus the resumable upload URL (Content-Range chunks, 308 Resume Incomplete). Records what it receives.

import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface FakeMux {
  url: string;
  requests: { method: string; path: string; auth: string }[];
  chunks: { upload: string; start: number; end: number }[];
  /** `settings`: the new_asset_settings the upload was created with. */
  uploads: Map<string, { received: Buffer[]; size: number; bytes: number; complete: boolean; assetId: string; settings?: Record<string, unknown> }>;
  /** Answer chunk PUTs with 503 while true (Mux unreachable). */
  failUploads: boolean;
  /** Once an upload has received this many chunks, answer its further chunk PUTs with 503 (Mux gone mid-upload). */
  failAfterChunks?: number;
  /** Hold chunk PUTs unanswered while true (Mux hung); they are counted in stalled. */
  stallUploads: boolean;
  stalled: number;
  liveStreams: number;
  sha256(uploadId: string): string;
  close(): Promise<void>;
}

const body = (req: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c)).on('end', () => resolve(Buffer.concat(parts)));
  });

export async function startFakeMux(): Promise<FakeMux> {
  let n = 0;
  const held: ServerResponse[] = [];
  const fake: FakeMux = {
    url: '', requests: [], chunks: [], uploads: new Map(), failUploads: false, stallUploads: false, stalled: 0, liveStreams: 0,
    sha256: (id) => createHash('sha256').update(Buffer.concat(fake.uploads.get(id)?.received ?? [])).digest('hex'),
    close: () => {
      for (const res of held) res.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
  const liveStream = (id: string) => ({ id, stream_key: `sk-${id}`, playback_ids: [{ id: `pb-${id}`, policy: 'public' }], status: 'idle', created_at: '0' });
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '').split('?')[0]!;
      const data = await body(req);
      fake.requests.push({ method: req.method ?? '', path, auth: req.headers.authorization ?? '' });
      const send = (status: number, obj?: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
        res.end(obj === undefined ? '' : JSON.stringify(obj));
      };
      let m: RegExpExecArray | null;
      if (req.method === 'POST' && path === '/video/v1/live-streams') {
        fake.liveStreams += 1;
        return send(201, { data: liveStream(`ls${fake.liveStreams}`) });
      }
      if (req.method === 'GET' && (m = /^\/video\/v1\/live-streams\/([\w-]+)$/.exec(path))) return send(200, { data: liveStream(m[1]!) });
      if (req.method === 'POST' && path === '/video/v1/uploads') {
        const id = `up${++n}`;
        const settings = (JSON.parse(data.toString() || '{}') as { new_asset_settings?: Record<string, unknown> }).new_asset_settings;
        fake.uploads.set(id, { received: [], size: -1, bytes: 0, complete: false, assetId: `as${n}`, settings });
        return send(201, { data: { id, url: `${fake.url}/upload/${id}`, status: 'waiting', timeout: 3600 } });
      }
      if (req.method === 'GET' && (m = /^\/video\/v1\/uploads\/([\w-]+)$/.exec(path))) {
        const u = fake.uploads.get(m[1]!);
        if (!u) return send(404, { error: { type: 'not_found' } });
        return send(200, { data: { id: m[1], status: u.complete ? 'asset_created' : 'waiting', ...(u.complete ? { asset_id: u.assetId } : {}), timeout: 3600 } });
      }
      if (req.method === 'GET' && (m = /^\/video\/v1\/assets\/([\w-]+)$/.exec(path))) {
        // Assets stay "preparing": the test's webhook says when they are ready.
        return send(200, { data: { id: m[1], status: 'preparing', playback_ids: [{ id: `pb-${m[1]}`, policy: 'public' }] } });
      }
      if (req.method === 'PUT' && (m = /^\/upload\/([\w-]+)$/.exec(path))) {
        const u = fake.uploads.get(m[1]!);
        if (!u) return send(404);
        const range = /^bytes (\*|(\d+)-(\d+))\/(\d+)$/.exec(req.headers['content-range'] ?? '');
        if (!range) return send(400);
        const progress = (): Record<string, string> => (u.bytes > 0 ? { Range: `bytes=0-${u.bytes - 1}` } : {});
        if (range[1] === '*') return u.complete ? send(200) : send(308, undefined, progress());
        const taken = fake.chunks.filter((c) => c.upload === m![1]).length;
        if (fake.failUploads || (fake.failAfterChunks !== undefined && taken >= fake.failAfterChunks)) return send(503);
        if (fake.stallUploads) {
          fake.stalled += 1;
          held.push(res);
          return;
        }
        const start = Number(range[2]);
        const end = Number(range[3]);
        u.size = Number(range[4]);
        if (start === u.bytes && data.length === end - start + 1) {
          u.received.push(data);
          u.bytes += data.length;
          fake.chunks.push({ upload: m[1]!, start, end });
        }
        if (u.bytes === u.size) {
          u.complete = true;
          return send(200);
        }
        return send(308, undefined, progress());
      }
      send(404, { error: { type: 'not_found', messages: [path] } });
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return fake;
}
