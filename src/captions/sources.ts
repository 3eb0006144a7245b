// Where a class's caption segments get their times: the segments of one video rung, each with its program time
// and the PTS of its first frame. Two sources: the rung playlist and MPEG-TS segments ffmpeg writes (standard and
// low classes), and the LL-HLS packager's segments in memory (ultra classes, fMP4: their decode time).

import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RUNG_PLAYLIST } from '../domain/media-layout.js';
import { firstVideoPts } from '../media/ts-pts.js';
import type { LlStream } from '../hls/ll/stream.js';
import { parseTimeline, type Timeline, type TimelineSegment } from './timeline.js';

export interface TimelineSource {
  /** The rung's segments now; undefined before its first. */
  read(): Promise<Timeline | undefined>;
  /** The 90 kHz PTS of a segment's first video frame; undefined when it cannot be known (already gone). */
  pts(seg: TimelineSegment): Promise<number | undefined>;
}

/** ffmpeg's HLS output: the rung's playlist on disk, the PTS read from each segment's first bytes. */
export function fileTimeline(rungDir: string): TimelineSource {
  return {
    async read() {
      try {
        return parseTimeline(await readFile(join(rungDir, RUNG_PLAYLIST), 'utf8'));
      } catch {
        return undefined;
      }
    },
    pts: (seg) => ptsOf(join(rungDir, seg.uri)),
  };
}

/** An `ultra` class: the packager's segments of one rung, their PTS from the fMP4 decode time. */
export function llTimeline(stream: LlStream, rung: string): TimelineSource {
  const starts = new Map<number, number>();
  return {
    async read() {
      const r = stream.rendition(rung)?.timeline();
      if (!r || !r.segments.length) return undefined;
      for (const s of r.segments) starts.set(s.msn, s.start);
      return {
        segments: r.segments.map((s) => ({ seq: s.msn, uri: s.uri, pdt: s.programDateTime, duration: s.duration, discontinuity: s.discontinuity })),
        discontinuitySequence: r.discontinuitySequence, targetDuration: r.targetDuration, ended: false,
      };
    },
    async pts(seg) {
      const start = starts.get(seg.seq);
      return start === undefined ? undefined : Math.round(start * 90000);
    },
  };
}

/** The first video PTS of a segment file (its first 64 KiB hold the first PES header), or undefined. */
async function ptsOf(path: string): Promise<number | undefined> {
  let fh;
  try {
    fh = await open(path, 'r');
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return firstVideoPts(buf.subarray(0, bytesRead));
  } catch {
    return undefined;
  } finally {
    await fh?.close();
  }
}
