// A kept recording's caption files, made again from the session's lines: after an instructor corrects the
// transcript, every subtitle segment and the transcript files say the corrected words. The segments keep their
// place (number, program time, the video PTS their header maps to); only their cues change.

import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CaptionCue } from '../domain/captions.js';
import { RUNG_PLAYLIST } from '../domain/media-layout.js';
import { parseTimeline } from './timeline.js';
import { transcriptText, transcriptVtt, vttSegment } from './vtt.js';
import { TRANSCRIPT_TXT, TRANSCRIPT_VTT } from './output.js';

const FOLDER = /^captions-([a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?)$/;
const MAP = /^X-TIMESTAMP-MAP=MPEGTS:(\d+),/m;

/** The caption languages a recording (or a live class's folder) has: its captions-<lang> folders. */
export async function recordedLanguages(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).map((f) => FOLDER.exec(f)?.[1]).filter((l): l is string => !!l).sort();
  } catch {
    return [];
  }
}

/** The program time the recording starts at (its first subtitle segment's), or undefined without captions. */
export async function recordingStart(dir: string): Promise<number | undefined> {
  for (const lang of await recordedLanguages(dir)) {
    try {
      const first = parseTimeline(await readFile(join(dir, `captions-${lang}`, RUNG_PLAYLIST), 'utf8')).segments[0];
      if (first) return first.pdt;
    } catch {
      // no playlist in this one
    }
  }
  return undefined;
}

async function writeAtomic(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

/** Rewrites every subtitle segment and the transcript of each language from `cues`; the number of files written. */
export async function rebuildRecordingCaptions(dir: string, cues: readonly CaptionCue[]): Promise<number> {
  let written = 0;
  for (const lang of await recordedLanguages(dir)) {
    const folder = join(dir, `captions-${lang}`);
    const tl = parseTimeline(await readFile(join(folder, RUNG_PLAYLIST), 'utf8'));
    const mine = cues.filter((c) => c.lang === lang);
    for (const seg of tl.segments) {
      const file = join(folder, seg.uri.split('?')[0]!);
      const old = await readFile(file, 'utf8').catch(() => undefined);
      const pts = old ? MAP.exec(old)?.[1] : undefined;
      if (pts === undefined) continue;
      const text = vttSegment({ ...seg, pts: Number(pts) }, mine);
      if (text === old) continue;
      await writeAtomic(file, text);
      written += 1;
    }
    const t0 = tl.segments[0]?.pdt;
    if (t0 === undefined) continue;
    await writeAtomic(join(folder, TRANSCRIPT_VTT), transcriptVtt(mine, t0));
    await writeAtomic(join(folder, TRANSCRIPT_TXT), transcriptText(mine, t0));
    written += 2;
  }
  return written;
}
