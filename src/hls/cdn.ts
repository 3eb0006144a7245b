// Media through a pull CDN: with `hls.cdnBaseUrl` set, playlists keep coming from this origin (they change every
// part and LL-HLS holds them) while every segment, part and init segment they name is fetched from the CDN host,
// which caches them once for everyone (their URIs never repeat). Pure text in, text out.

import { mapUris } from './playback-token.js';

const MEDIA = /\.(ts|m4s|mp4|aac)(\?|$)/;

const absolute = (uri: string): boolean => /^[a-z][a-z0-9+.-]*:/i.test(uri) || uri.startsWith('//') || uri.startsWith('/');

/** One URI on the CDN host when it names media relative to the playlist; `dir` is the playlist folder's URL path. */
export const cdnUri = (uri: string, cdnBase: string, dir: string): string =>
  (absolute(uri) || !MEDIA.test(uri) ? uri : `${cdnBase}${dir}/${uri}`);

/** `dir` is the URL path of the playlist's folder, e.g. "/hls/math-101/720p". */
export function mediaOnCdn(playlist: string, cdnBase: string, dir: string): string {
  return mapUris(playlist, (uri) => cdnUri(uri, cdnBase, dir));
}

/** The CDN's origin (scheme://host[:port]) for the pages' Content-Security-Policy; '' when none. Pure. */
export function cdnOrigin(cdnBase: string): string {
  if (!cdnBase) return '';
  try {
    return new URL(cdnBase).origin;
  } catch {
    return '';
  }
}
