// Writes Low-Latency HLS media playlists (RFC 8216bis) as text: the live one with partial segments, a preload
// hint and rendition reports, and the plain fMP4 one kept on disk for the recording. Pure: a view in, text out.

export interface PartView {
  index: number;
  duration: number;
  independent: boolean;
  uri: string;
}

export interface SegmentView {
  msn: number;
  duration: number;
  uri: string;
  /** Wall-clock time of the segment's first frame (ms since the epoch). */
  programDateTime: number;
  /** The first segment after an ffmpeg restart or a new publisher. */
  discontinuity: boolean;
  /** The init segment this segment needs. */
  mapUri: string;
  /** Listed for the last few segments only (RFC 8216bis: parts older than three target durations go). */
  parts?: PartView[];
}

export interface OpenSegmentView {
  msn: number;
  programDateTime: number;
  discontinuity: boolean;
  mapUri: string;
  parts: PartView[];
}

export interface RenditionReport {
  uri: string;
  lastMsn: number;
  lastPart: number;
}

export interface LivePlaylistView {
  targetDuration: number;
  partTarget: number;
  discontinuitySequence: number;
  segments: SegmentView[];
  /** The segment being written: its finished parts. */
  open?: OpenSegmentView;
  /** URI of the next part, announced before it exists. */
  preloadHint?: string;
  reports: RenditionReport[];
  ended: boolean;
}

/** Seconds with up to 5 decimals, no trailing zeros: "0.33333", "1". */
export const secs = (n: number): string => String(Math.round(n * 100000) / 100000);

const iso = (ms: number): string => new Date(ms).toISOString();

/** The hold-back a player keeps from the live edge: three part targets (the least the spec allows). */
export const partHoldBack = (partTarget: number): number => Math.round(partTarget * 3 * 1000) / 1000;

function segmentHead(lines: string[], s: { discontinuity: boolean; mapUri: string; programDateTime: number }, prevMap: string | undefined, first: boolean): void {
  if (s.discontinuity && !first) lines.push('#EXT-X-DISCONTINUITY');
  if (s.mapUri !== prevMap) lines.push(`#EXT-X-MAP:URI="${s.mapUri}"`);
  lines.push(`#EXT-X-PROGRAM-DATE-TIME:${iso(s.programDateTime)}`);
}

function partLines(lines: string[], parts: readonly PartView[]): void {
  for (const p of parts) lines.push(`#EXT-X-PART:DURATION=${secs(p.duration)},URI="${p.uri}"${p.independent ? ',INDEPENDENT=YES' : ''}`);
}

export function livePlaylist(v: LivePlaylistView): string {
  const first = v.segments[0] ?? v.open;
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:9',
    `#EXT-X-TARGETDURATION:${v.targetDuration}`,
    `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${secs(partHoldBack(v.partTarget))}`,
    `#EXT-X-PART-INF:PART-TARGET=${secs(v.partTarget)}`,
    `#EXT-X-MEDIA-SEQUENCE:${first?.msn ?? 0}`,
  ];
  if (v.discontinuitySequence > 0) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${v.discontinuitySequence}`);
  let map: string | undefined;
  v.segments.forEach((s, i) => {
    segmentHead(lines, s, map, i === 0);
    map = s.mapUri;
    if (s.parts) partLines(lines, s.parts);
    lines.push(`#EXTINF:${secs(s.duration)},`, s.uri);
  });
  if (v.open && !v.ended) {
    segmentHead(lines, v.open, map, v.segments.length === 0);
    partLines(lines, v.open.parts);
  }
  if (v.preloadHint && !v.ended) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${v.preloadHint}"`);
  for (const r of v.reports) lines.push(`#EXT-X-RENDITION-REPORT:URI="${r.uri}",LAST-MSN=${r.lastMsn},LAST-PART=${r.lastPart}`);
  if (v.ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

/** The head of the recording's playlist on disk (segments are appended as they finish). */
export function recordingHead(targetDuration: number): string {
  return ['#EXTM3U', '#EXT-X-VERSION:7', `#EXT-X-TARGETDURATION:${targetDuration}`, '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:EVENT', '#EXT-X-INDEPENDENT-SEGMENTS', ''].join('\n');
}

/** The lines one finished segment adds to the recording's playlist. */
export function recordingEntry(s: Pick<SegmentView, 'duration' | 'uri' | 'programDateTime' | 'discontinuity' | 'mapUri'>, prevMap: string | undefined, first: boolean): string {
  const lines: string[] = [];
  segmentHead(lines, s, prevMap, first);
  lines.push(`#EXTINF:${secs(s.duration)},`, s.uri);
  return `${lines.join('\n')}\n`;
}

export const RECORDING_END = '#EXT-X-ENDLIST\n';
