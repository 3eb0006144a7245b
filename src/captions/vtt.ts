// WebVTT for HLS: one subtitle segment per video segment, its cues mapped onto the video's timestamps, the
// subtitle playlist beside the rung's, and the transcript files (VTT, plain text). Pure.
//
// Each segment says `X-TIMESTAMP-MAP=MPEGTS:<the video segment's first PTS>,LOCAL:01:00:00.000`: a cue at local
// 01:00:02.500 shows 2.5 s into that video segment. Local time starts at one hour so a cue that began in an earlier
// segment (it is repeated in every segment it overlaps, RFC 8216 §3.5) keeps a positive time.

import type { CaptionCue } from '../domain/captions.js';

export interface VttSegment {
  seq: number;
  /** Program time of the video segment's start (epoch ms). */
  pdt: number;
  /** Seconds. */
  duration: number;
  /** 90 kHz PTS of the video segment's first frame. */
  pts: number;
  discontinuity: boolean;
}

const LOCAL_BASE_S = 3600;
const PTS_WRAP = 2 ** 33;

export function vttTime(seconds: number): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60000);
  const s = Math.floor((ms % 60000) / 1000);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(ms % 1000, 3)}`;
}

/** Cue text safe inside a WebVTT cue: no tags, no "-->", no blank line. */
export function vttText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/-->/g, '--&gt;').replace(/\s*\n\s*/g, '\n');
}

/** Cues that show during [from, to) (epoch ms), in start order. */
export function cuesBetween(cues: readonly CaptionCue[], from: number, to: number): CaptionCue[] {
  return cues.filter((c) => c.start < to && c.end > from).sort((a, b) => a.start - b.start || a.id.localeCompare(b.id));
}

/** One WebVTT segment: the cues of `lang` that overlap the video segment. */
export function vttSegment(seg: VttSegment, cues: readonly CaptionCue[]): string {
  const lines = ['WEBVTT', `X-TIMESTAMP-MAP=MPEGTS:${Math.round(seg.pts) % PTS_WRAP},LOCAL:${vttTime(LOCAL_BASE_S)}`, ''];
  const to = seg.pdt + seg.duration * 1000;
  for (const c of cuesBetween(cues, seg.pdt, to)) {
    const local = (t: number): string => vttTime(LOCAL_BASE_S + (t - seg.pdt) / 1000);
    lines.push(c.id, `${local(c.start)} --> ${local(c.end)}`, vttText(c.text), '');
  }
  return lines.join('\n');
}

export interface SubtitleEntry extends VttSegment {
  uri: string;
}

/** The subtitle rendition's media playlist: the same segments as the rung's, by number and program time. */
export function subtitlePlaylist(entries: readonly SubtitleEntry[], o: { targetDuration: number; discontinuitySequence: number; ended: boolean; event: boolean }): string {
  const first = entries[0]?.seq ?? 0;
  const lines = ['#EXTM3U', '#EXT-X-VERSION:6', `#EXT-X-TARGETDURATION:${Math.max(1, Math.ceil(o.targetDuration))}`, `#EXT-X-MEDIA-SEQUENCE:${first}`];
  if (o.discontinuitySequence) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${o.discontinuitySequence}`);
  if (o.event) lines.push('#EXT-X-PLAYLIST-TYPE:EVENT');
  entries.forEach((e, i) => {
    if (e.discontinuity && i > 0) lines.push('#EXT-X-DISCONTINUITY');
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(e.pdt).toISOString()}`, `#EXTINF:${e.duration.toFixed(6)},`, e.uri);
  });
  if (o.ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

/** The whole class as one WebVTT file, times from the recording's start (`t0`, epoch ms). */
export function transcriptVtt(cues: readonly CaptionCue[], t0: number): string {
  const lines = ['WEBVTT', ''];
  for (const c of [...cues].sort((a, b) => a.start - b.start)) {
    lines.push(c.id, `${vttTime((c.start - t0) / 1000)} --> ${vttTime((c.end - t0) / 1000)}`, vttText(c.text), '');
  }
  return lines.join('\n');
}

/** The whole class as plain text: one line per cue with its time from the start ("[00:01:02] text"). */
export function transcriptText(cues: readonly CaptionCue[], t0: number): string {
  return [...cues].sort((a, b) => a.start - b.start)
    .map((c) => `[${vttTime((c.start - t0) / 1000).slice(0, 8)}] ${c.text.replace(/\s*\n\s*/g, ' ')}`).join('\n') + (cues.length ? '\n' : '');
}
