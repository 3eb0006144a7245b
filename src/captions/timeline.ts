// The segments of a rung's media playlist as the captions need them: sequence number, file, program time,
// duration, discontinuity. Pure: playlist text in, segments out (ffmpeg's playlists, one tag per line).

export interface TimelineSegment {
  seq: number;
  uri: string;
  /** EXT-X-PROGRAM-DATE-TIME of the segment (epoch ms). */
  pdt: number;
  /** Seconds. */
  duration: number;
  /** A discontinuity comes before it (a new ladder run: its timestamps start afresh). */
  discontinuity: boolean;
}

export interface Timeline {
  segments: TimelineSegment[];
  discontinuitySequence: number;
  targetDuration: number;
  ended: boolean;
}

export function parseTimeline(text: string): Timeline {
  const out: Timeline = { segments: [], discontinuitySequence: 0, targetDuration: 1, ended: false };
  let seq = 0;
  let pdt: number | undefined;
  let duration: number | undefined;
  let disc = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) seq = Number(line.slice(22)) || 0;
    else if (line.startsWith('#EXT-X-DISCONTINUITY-SEQUENCE:')) out.discontinuitySequence = Number(line.slice(30)) || 0;
    else if (line.startsWith('#EXT-X-TARGETDURATION:')) out.targetDuration = Number(line.slice(22)) || 1;
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice(25));
    else if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8));
    else if (line === '#EXT-X-DISCONTINUITY') disc = true;
    else if (line === '#EXT-X-ENDLIST') out.ended = true;
    else if (!line.startsWith('#')) {
      const prev = out.segments[out.segments.length - 1];
      // Without its own date a segment follows the one before it.
      const at = pdt !== undefined && Number.isFinite(pdt) ? pdt : prev ? prev.pdt + prev.duration * 1000 : undefined;
      if (at !== undefined && duration !== undefined && Number.isFinite(duration)) {
        out.segments.push({ seq, uri: line, pdt: at, duration, discontinuity: disc });
      }
      seq += 1;
      pdt = undefined;
      duration = undefined;
      disc = false;
    }
  }
  return out;
}
