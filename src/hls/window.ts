// Serves a recording's growing EVENT playlist to live viewers as a sliding window. Pure text in, text out.

import * as HLS from 'hls-parser';

/** The last `size` segments of a media playlist, with sequence numbers adjusted; other playlists unchanged. */
export function liveWindow(text: string, size: number): string {
  let parsed: HLS.types.Playlist;
  try {
    parsed = HLS.parse(text);
  } catch {
    return text; // a half-written playlist is ffmpeg's business; pass it on unchanged
  }
  if (parsed.isMasterPlaylist) return text;
  const p = parsed as HLS.types.MediaPlaylist;
  if (p.endlist || p.segments.length <= size) return text;
  const dropped = p.segments.length - size;
  // RFC 8216 6.2.2: every EXT-X-DISCONTINUITY removed with its segment bumps the discontinuity sequence.
  const discontinuitiesDropped = p.segments.slice(0, dropped).filter((s) => s.discontinuity).length;
  const kept = p.segments.slice(dropped);
  p.segments = kept;
  p.mediaSequenceBase = (p.mediaSequenceBase ?? 0) + dropped;
  p.discontinuitySequenceBase = (p.discontinuitySequenceBase ?? 0) + discontinuitiesDropped;
  p.playlistType = undefined;
  return HLS.stringify(p);
}
