// The HTTP origin's logic for live and VOD files: path checks, headers, ranges, a bounded in-memory cache of
// recent segments. No synchronous disk I/O on the request path (only `segmentAge`, read by /metrics, stats a playlist);
// the HTTP layer only copies the answer onto the socket.

import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseRange, resolveMediaPath } from './paths.js';
import { liveWindow } from './window.js';
import { mapUris, withQuery } from './playback-token.js';
import { serveLl, type LlStreamView } from './ll/serve.js';
import { cdnUri } from './cdn.js';
import { liveDir, MASTER_PLAYLIST, RUNG_PLAYLIST } from '../domain/media-layout.js';

export interface OriginResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

export interface OriginOptions {
  mediaDir: string;
  /** Most bytes of segments kept in memory. */
  cacheBytes: number;
  liveWindow: number;
  /** Told of every body served (bytes actually sent), for the per-session traffic counts. */
  onServed?(kind: 'hls' | 'vod', owner: string, rel: string, bytes: number): void;
  /** Told when a playlist on disk is empty or cut short (a full disk): the last good one is served instead. */
  onBadPlaylist?(path: string): void;
  /** `hls.cdnBaseUrl`: media named in playlists is fetched from this host ('' or absent: from here). */
  cdnBaseUrl?: string;
  /** The live Low-Latency HLS stream of a channel (latency 'ultra'), served from memory. */
  ll?(channel: string): LlStreamView | undefined;
  /** Who may have the owner a path resolved to (a channel or a session): true, 'unknown' (404) or why not (403).
   * Asked after the path is resolved, so the owner checked is the owner served. Absent: everything is public. */
  access?(kind: 'hls' | 'vod', owner: string, playbackToken: string | undefined): true | 'unknown' | string;
  /** Whether a class is live on the channel now: a player that asks for its master playlist while the ladder is
   * still starting waits for it (up to 15 s) instead of getting a 404. */
  liveClass?(channel: string): boolean;
}

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException)?.code === 'ENOENT';

/** A playlist file that is not a whole playlist, with no good one to serve instead. */
class PlaylistUnavailable extends Error {}

const EXTM3U = Buffer.from('#EXTM3U');

/** True when the bytes start like a playlist (a full disk leaves empty or zero-filled files). Pure. */
export function wholePlaylist(raw: Buffer): boolean {
  return raw.length > EXTM3U.length && raw.subarray(0, EXTM3U.length).equals(EXTM3U);
}

/**
 * A strong validator for a media answer. Segment, part and init URIs never repeat (they carry the session id), so
 * their path and size identify the bytes without hashing a megabyte per request; playlists are small and change in
 * place, so theirs is a hash of the text. Pure.
 */
export function entityTag(path: string, body: Buffer, playlist: boolean): string {
  const h = createHash('sha1').update(playlist ? body : Buffer.from(path)).digest('base64url').slice(0, 16);
  return `"${body.length.toString(16)}-${h}"`;
}

/** True when an If-None-Match header names this tag (or is *). Pure. */
export function notModified(ifNoneMatch: string, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

export const CORS_HEADERS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
  'Access-Control-Allow-Headers': 'Range, Content-Type',
  'Access-Control-Expose-Headers': 'Content-Length, Content-Range, Accept-Ranges, ETag',
  'Access-Control-Max-Age': '86400',
};

const notFound = (status: 400 | 403 | 404 | 416, size?: number, message?: string): OriginResponse => ({
  status,
  headers: { ...CORS_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': status === 403 ? 'no-store' : 'no-cache', ...(size !== undefined ? { 'Content-Range': `bytes */${size}` } : {}) },
  body: `${message ?? (status === 400 ? 'bad request' : status === 416 ? 'range not satisfiable' : 'not found')}\n`,
});

export class Origin {
  private readonly cache = new Map<string, Buffer>();
  /** Served playlist bodies by path, valid while the file's mtime and size are unchanged (ffmpeg rewrites them once
   * per segment): a recording's growing playlist is parsed and windowed once per segment, not once per request. */
  private readonly playlists = new Map<string, { mtimeMs: number; size: number; body: Buffer }>();
  private cachedBytes = 0;
  readonly counters = { requests: 0, cacheHits: 0, notFound: 0, notModified: 0, bytesOut: 0, cacheEvictions: 0, stalePlaylists: 0 };

  constructor(private readonly o: OriginOptions) {}

  /** Requests and bytes answered, by "kind status" (e.g. "hls 200"), for /metrics. */
  readonly byStatus = new Map<string, { requests: number; bytes: number }>();

  /** `playbackToken`: copied onto every URI of a served playlist (private channels). */
  async serve(kind: 'hls' | 'vod', rawPath: string, range: string, playbackToken?: string, head = false, req: { query?: string; signal?: AbortSignal; ifNoneMatch?: string } = {}): Promise<OriginResponse> {
    const r = await this.answer(kind, rawPath, range, playbackToken, head, req);
    const key = `${kind} ${r.status}`;
    const row = this.byStatus.get(key) ?? { requests: 0, bytes: 0 };
    row.requests += 1;
    if (!head) row.bytes += typeof r.body === 'string' ? Buffer.byteLength(r.body) : r.body.length;
    this.byStatus.set(key, row);
    return r;
  }

  private async answer(kind: 'hls' | 'vod', rawPath: string, range: string, playbackToken: string | undefined, head: boolean, req: { query?: string; signal?: AbortSignal; ifNoneMatch?: string }): Promise<OriginResponse> {
    this.counters.requests += 1;
    const r = resolveMediaPath(this.o.mediaDir, kind, rawPath);
    if (!r.ok) {
      this.counters.notFound += 1;
      return notFound(r.status, undefined, r.message);
    }
    const { file } = r;
    const allowed = this.o.access ? this.o.access(kind, file.owner, playbackToken) : true;
    if (allowed === 'unknown') {
      this.counters.notFound += 1;
      return notFound(404);
    }
    if (allowed !== true) return notFound(403, undefined, allowed);
    let body: Buffer | undefined;
    let cacheControl = file.playlist ? 'no-cache' : 'public, max-age=31536000, immutable';
    const ll = kind === 'hls' ? this.o.ll?.(file.owner) : undefined;
    if (ll) {
      const a = await serveLl(ll, file.rel, req.query ?? '', req.signal);
      if (a.kind === 'status') {
        if (a.status === 404) this.counters.notFound += 1;
        return { status: a.status, headers: { ...CORS_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache' }, body: `${a.message}\n` };
      }
      if (a.kind === 'body') {
        body = a.body;
        cacheControl = a.cacheControl;
      }
    }
    if (!body) try {
      if (file.playlist) body = await this.playlist(file.path, kind === 'hls' && file.rel.includes('/'));
      else body = await this.segment(file.path);
    } catch (err) {
      if (kind === 'hls' && file.rel === MASTER_PLAYLIST && isMissing(err) && (await this.masterSoon(file.owner, req.signal))) {
        return this.answer(kind, rawPath, range, playbackToken, head, req);
      }
      if (err instanceof PlaylistUnavailable) {
        return { status: 503, headers: { ...CORS_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache', 'Retry-After': '1' }, body: 'playlist unavailable\n' };
      }
      this.counters.notFound += 1;
      return notFound(404);
    }
    // One pass over the playlist's URIs: the viewer's playback token, then the CDN host for media.
    const cdn = this.o.cdnBaseUrl;
    if (file.playlist && (playbackToken || cdn)) {
      const dir = `/${kind}/${file.owner}${file.rel.includes('/') ? `/${file.rel.slice(0, file.rel.lastIndexOf('/'))}` : ''}`;
      body = Buffer.from(mapUris(body.toString('utf8'), (uri) => {
        const tokened = playbackToken ? withQuery(uri, playbackToken) : uri;
        return cdn ? cdnUri(tokened, cdn, dir) : tokened;
      }));
    }
    const etag = entityTag(file.path, body, file.playlist);
    const headers: Record<string, string> = {
      ...CORS_HEADERS,
      'Content-Type': file.contentType,
      'Cache-Control': cacheControl,
      'Accept-Ranges': 'bytes',
      ETag: etag,
    };
    // A CDN (or a player) revalidating what it holds: 304, no body.
    if (notModified(req.ifNoneMatch ?? '', etag)) {
      this.counters.notModified += 1;
      return { status: 304, headers, body: '' };
    }
    const byteRange = parseRange(range, body.length);
    if (byteRange === 'invalid') return notFound(416, body.length);
    if (byteRange) {
      const part = body.subarray(byteRange.start, byteRange.end + 1);
      this.counters.bytesOut += part.length;
      if (!head) this.o.onServed?.(kind, file.owner, file.rel, part.length);
      return { status: 206, headers: { ...headers, 'Content-Range': `bytes ${byteRange.start}-${byteRange.end}/${body.length}` }, body: part };
    }
    this.counters.bytesOut += body.length;
    if (!head) this.o.onServed?.(kind, file.owner, file.rel, body.length);
    return { status: 200, headers, body };
  }

  private async playlist(path: string, windowed: boolean): Promise<Buffer> {
    const st = await stat(path);
    const hit = this.playlists.get(path);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.body;
    const raw = await readFile(path);
    if (!wholePlaylist(raw)) {
      // ffmpeg could not write it (the disk is full): keep serving the last good one rather than an empty 200.
      this.counters.stalePlaylists += 1;
      this.o.onBadPlaylist?.(path);
      if (hit) return hit.body;
      throw new PlaylistUnavailable();
    }
    const body = windowed ? Buffer.from(liveWindow(raw.toString('utf8'), this.o.liveWindow)) : raw;
    // Only a file that did not change while we read it may be cached under its stat.
    if (raw.length === st.size) {
      if (this.playlists.size >= 2000) this.playlists.delete(this.playlists.keys().next().value!);
      this.playlists.set(path, { mtimeMs: st.mtimeMs, size: st.size, body });
    }
    return body;
  }

  /** Seconds since a live class's rung last got a segment (undefined before its first), for /metrics. */
  segmentAge(channel: string, rung: string | undefined): number | undefined {
    const ll = this.o.ll?.(channel);
    if (ll) return ll.lastSegmentAt === undefined ? undefined : (Date.now() - ll.lastSegmentAt) / 1000;
    const name = rung?.replace(/ \(copy\)$/, '');
    try {
      return name ? (Date.now() - statSync(join(liveDir(this.o.mediaDir, channel), name, RUNG_PLAYLIST)).mtimeMs) / 1000 : undefined;
    } catch {
      return undefined; // no segment yet
    }
  }

  /** Waits (up to 15 s) for the master playlist of a class that is live but whose ladder is still starting. */
  private async masterSoon(channel: string, signal?: AbortSignal): Promise<boolean> {
    if (!this.o.liveClass) return false;
    const file = join(liveDir(this.o.mediaDir, channel), MASTER_PLAYLIST);
    const deadline = Date.now() + 15000;
    while (this.o.liveClass(channel) && Date.now() < deadline && !signal?.aborted) {
      if (await access(file).then(() => true, () => false)) return true;
      await new Promise((r) => setTimeout(r, 200));
    }
    return false;
  }

  private async segment(path: string): Promise<Buffer> {
    const hit = this.cache.get(path);
    if (hit) {
      this.counters.cacheHits += 1;
      this.cache.delete(path); // re-insert: most recently used last
      this.cache.set(path, hit);
      return hit;
    }
    const buf = await readFile(path);
    if (buf.length <= this.o.cacheBytes / 4) {
      this.cache.set(path, buf);
      this.cachedBytes += buf.length;
      for (const [k, v] of this.cache) {
        if (this.cachedBytes <= this.o.cacheBytes) break;
        this.cache.delete(k);
        this.cachedBytes -= v.length;
        this.counters.cacheEvictions += 1;
      }
    }
    return buf;
  }

  get cacheSize(): number {
    return this.cachedBytes;
  }
}
