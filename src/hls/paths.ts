// Maps request paths under /hls/ and /vod/ to files in the media folder. Pure; nothing outside the media
// folder can be named: every segment is checked against a strict pattern before it is joined. Our media names
// never need percent-encoding, so a path that carries any escape (%2F, %5C, %252F, even %41) is refused with 400:
// the owner a request names is then exactly the first segment everybody (an edge, the access check, the file
// server) reads.

import { join } from 'node:path';
import { SESSION_ID_PATTERN, SLUG_PATTERN } from '../domain/ids.js';
import { mediaFolder } from '../domain/media-layout.js';

const CHANNEL = SLUG_PATTERN;
const SESSION = SESSION_ID_PATTERN;
const PART = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$/;

export const CONTENT_TYPES: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.ts': 'video/mp2t',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.aac': 'audio/aac',
  '.vtt': 'text/vtt; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

export interface MediaFile {
  path: string;
  contentType: string;
  playlist: boolean;
  /** The channel or session id the request names. */
  owner: string;
  /** Path below the owner's folder, e.g. "720p/index.m3u8". */
  rel: string;
}

export type Resolved = { ok: true; file: MediaFile } | { ok: false; status: 400 | 404; message?: string };

/** `rawPath` is the URL path after the prefix, exactly as sent (uWS gives the raw URL). */
export function resolveMediaPath(mediaDir: string, kind: 'hls' | 'vod', rawPath: string): Resolved {
  if (rawPath.includes('%')) return { ok: false, status: 400, message: 'encoded characters (%..) are not allowed in media paths' };
  if (rawPath.includes('\\') || rawPath.includes('\0') || rawPath.length > 300) return { ok: false, status: 400 };
  const parts = rawPath.split('/');
  if (parts.some((p) => p === '..' || p === '.')) return { ok: false, status: 400 };
  const [owner, ...rest] = parts;
  if (!owner || !(kind === 'hls' ? CHANNEL : SESSION).test(owner)) return { ok: false, status: 404 };
  if (rest.length < 1 || rest.length > 2 || !rest.every((p) => PART.test(p))) return { ok: false, status: 404 };
  const name = rest[rest.length - 1]!;
  const ext = name.slice(name.lastIndexOf('.'));
  const contentType = CONTENT_TYPES[ext];
  if (!contentType) return { ok: false, status: 404 };
  const rel = rest.join('/');
  return {
    ok: true,
    file: {
      path: join(mediaFolder(mediaDir, kind, owner), ...rest),
      contentType,
      playlist: ext === '.m3u8',
      owner,
      rel,
    },
  };
}

export type ByteRange = { start: number; end: number };

/** Parses a single-range `Range: bytes=a-b` header against a size; 'invalid' means 416. */
export function parseRange(header: string, size: number): ByteRange | 'invalid' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'invalid';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) return 'invalid';
  return { start, end };
}
