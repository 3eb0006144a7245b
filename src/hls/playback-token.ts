// Carries a playback token through playlists: every relative URI in a served playlist (variant playlists,
// segments, EXT-X-MAP/EXT-X-MEDIA URIs) gets `pt=<token>` in its query, so a player that loaded the master with a
// token fetches everything else with it. Pure text in, text out.

const withQuery = (uri: string, token: string): string =>
  /^[a-z][a-z0-9+.-]*:/i.test(uri) || uri.startsWith('//') ? uri : `${uri}${uri.includes('?') ? '&' : '?'}pt=${encodeURIComponent(token)}`;

export function withPlaybackToken(playlist: string, token: string): string {
  return playlist.split('\n').map((line) => {
    if (line.length === 0) return line;
    if (!line.startsWith('#')) return withQuery(line.trimEnd(), token) + (line.endsWith('\r') ? '\r' : '');
    return line.replace(/URI="([^"]*)"/g, (_m, uri: string) => `URI="${withQuery(uri, token)}"`);
  }).join('\n');
}
