// Carries a playback token through playlists: every relative URI in a served playlist (variant playlists,
// segments, EXT-X-MAP/EXT-X-MEDIA URIs) gets `pt=<token>` in its query, so a player that loaded the master with a
// token fetches everything else with it. Also the one walker over a playlist's URIs (the CDN rewrite uses it).
// Pure text in, text out.

/** Rewrites every URI of a playlist: the URI lines and the URI="…" attributes of tags. */
export function mapUris(playlist: string, fn: (uri: string) => string): string {
  return playlist.split('\n').map((line) => {
    if (line.length === 0) return line;
    if (!line.startsWith('#')) return fn(line.trimEnd()) + (line.endsWith('\r') ? '\r' : '');
    return line.replace(/URI="([^"]*)"/g, (_m, uri: string) => `URI="${fn(uri)}"`);
  }).join('\n');
}

/** One URI with the token in its query (absolute URIs are left alone). */
export const withQuery = (uri: string, token: string): string =>
  /^[a-z][a-z0-9+.-]*:/i.test(uri) || uri.startsWith('//') ? uri : `${uri}${uri.includes('?') ? '&' : '?'}pt=${encodeURIComponent(token)}`;

export function withPlaybackToken(playlist: string, token: string): string {
  return mapUris(playlist, (uri) => withQuery(uri, token));
}
