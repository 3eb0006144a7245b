// Answers an `ultra` class's rung requests from memory: the live playlist (blocking reload with _HLS_msn and
// _HLS_part, RFC 8216bis 6.2.5.2), partial segments (a preload-hinted one is held until it is complete), recent
// segments and init segments. Anything it does not hold falls through to the files on disk.

import { RUNG_PLAYLIST } from '../../domain/media-layout.js';
import type { LlRendition } from './rendition.js';

export interface LlStreamView {
  rendition(name: string): LlRendition | undefined;
  readonly key: string;
  reports(name: string): { uri: string; lastMsn: number; lastPart: number }[];
  /** When the newest segment of the stream was completed (ms), if any. */
  readonly lastSegmentAt?: number;
}

export type LlAnswer =
  | { kind: 'body'; body: Buffer; playlist: boolean; cacheControl: string }
  | { kind: 'status'; status: 400 | 404 | 503; message: string }
  /** Not held in memory: serve the file from disk. */
  | { kind: 'disk' };

export const IMMUTABLE = 'public, max-age=31536000, immutable';

/** A blocking response holds everything up to the position asked for: a CDN may reuse it for that same query. */
const BLOCKING_CACHE = 'public, max-age=6';

const PART_NAME = /^(.+)_(\d{1,9})\.(\d{1,4})\.m4s$/;
const SEGMENT_NAME = /^(.+)_(\d{1,9})\.m4s$/;
const INIT_NAME = /^.+_init\d{1,6}\.mp4$/;

/** Reads `_HLS_msn` / `_HLS_part` from a query string; an error message for malformed ones. Pure. */
export function blockingQuery(query: string): { msn?: number; part?: number } | string {
  const p = new URLSearchParams(query);
  const num = (k: string): number | undefined | string => {
    const v = p.get(k);
    if (v === null) return undefined;
    return /^\d{1,9}$/.test(v) ? Number(v) : `${k} must be a non-negative integer`;
  };
  const msn = num('_HLS_msn');
  const part = num('_HLS_part');
  if (typeof msn === 'string') return msn;
  if (typeof part === 'string') return part;
  if (part !== undefined && msn === undefined) return '_HLS_part needs _HLS_msn';
  return { msn, part };
}

export async function serveLl(stream: LlStreamView, rel: string, query: string, signal?: AbortSignal): Promise<LlAnswer> {
  const [rung, name, ...more] = rel.split('/');
  const r = rung !== undefined ? stream.rendition(rung) : undefined;
  if (!r || name === undefined || more.length > 0) return { kind: 'disk' };
  const holdMs = 3 * r.targetDuration * 1000;
  if (name === RUNG_PLAYLIST) {
    const q = blockingQuery(query);
    if (typeof q === 'string') return { kind: 'status', status: 400, message: q };
    if (q.msn !== undefined) {
      const deadline = Date.now() + holdMs;
      for (;;) {
        const state = r.readiness(q.msn, q.part);
        if (state === 'ready') break;
        if (state === 'too-far') return { kind: 'status', status: 400, message: 'the requested segment or part is too far beyond the live edge' };
        const left = deadline - Date.now();
        const how = left > 0 ? await r.waitFor(q.msn, q.part, left, signal) : 'timeout';
        if (how === 'timeout') return { kind: 'status', status: 503, message: 'the requested part did not appear in time' };
        if (how === 'aborted') return { kind: 'status', status: 503, message: 'client went away' };
      }
    }
    const body = Buffer.from(r.playlist(stream.key, () => stream.reports(r.name)));
    return { kind: 'body', body, playlist: true, cacheControl: q.msn !== undefined ? BLOCKING_CACHE : 'no-cache' };
  }
  const part = PART_NAME.exec(name);
  if (part) {
    if (part[1] !== r.o.prefix) return { kind: 'status', status: 404, message: 'not found' };
    const msn = Number(part[2]);
    const index = Number(part[3]);
    const deadline = Date.now() + holdMs;
    for (;;) {
      const got = r.lookupPart(msn, index);
      if (got.kind === 'bytes') return { kind: 'body', body: got.bytes, playlist: false, cacheControl: IMMUTABLE };
      if (got.kind === 'none') return { kind: 'status', status: 404, message: 'not found' };
      // The preload-hinted part: answered as soon as it is complete.
      const left = deadline - Date.now();
      const how = left > 0 ? await r.waitFor(msn, index, left, signal) : 'timeout';
      if (how !== 'changed') return { kind: 'status', status: 503, message: 'the hinted part did not appear in time' };
    }
  }
  const seg = SEGMENT_NAME.exec(name);
  if (seg && seg[1] === r.o.prefix) {
    const bytes = r.segment(Number(seg[2]));
    return bytes ? { kind: 'body', body: bytes, playlist: false, cacheControl: IMMUTABLE } : { kind: 'disk' };
  }
  if (INIT_NAME.test(name)) {
    const bytes = r.init(name);
    return bytes ? { kind: 'body', body: bytes, playlist: false, cacheControl: IMMUTABLE } : { kind: 'disk' };
  }
  return { kind: 'disk' };
}
