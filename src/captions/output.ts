// A captioned class's WebVTT rendition as one of its outputs: beside the ladder, it follows one rung's playlist
// and writes a subtitle segment for each video segment once the segment is `holdMs` old (time for a captioner's
// line about it to arrive), with the cues of that span from the store. Per language: `captions-<lang>/index.m3u8`
// and its `.vtt` segments, sliding with the video's window, or kept whole when the class is recorded. When the
// class is over, a recorded class's segments are written again with every line (late ones too) and its
// transcript (`transcript.vtt`, `transcript.txt`) is written beside them.

import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CaptionCue } from '../domain/captions.js';
import { RUNG_PLAYLIST } from '../domain/media-layout.js';
import type { Logger } from '../log.js';
import type { TimelineSource } from './sources.js';
import type { Timeline } from './timeline.js';
import { subtitlePlaylist, transcriptText, transcriptVtt, vttSegment, type SubtitleEntry } from './vtt.js';

/** The folder of one caption language in a class's folder (a sibling of the rungs'). */
export const captionsFolder = (lang: string): string => `captions-${lang}`;
export const TRANSCRIPT_VTT = 'transcript.vtt';
export const TRANSCRIPT_TXT = 'transcript.txt';

export interface CaptionsOutputOptions {
  /** The class's folder. */
  dir: string;
  sessionId: string;
  /** The segments the subtitle segments follow: one rung's (every rung cuts at the same keyframes). */
  source: TimelineSource;
  langs: string[];
  record: boolean;
  /** How old a video segment is before its subtitle segment is written. */
  holdMs: number;
  everyMs?: number;
  /** The session's lines still on screen at or after `since` (epoch ms). */
  cues(since: number): Promise<CaptionCue[]>;
  log: Logger;
  onWriteFailed(what: string): void;
  now?(): number;
}

interface Written extends SubtitleEntry {
  /** Per language, the ids of the cues the file holds (to rewrite it only when they change). */
  ids: Map<string, string>;
}

export class CaptionsOutput {
  readonly kind = 'captions';
  private readonly written = new Map<number, Written>();
  private timeline: Timeline | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private failed = false;

  constructor(private readonly o: CaptionsOutputOptions) {}

  async start(): Promise<void> {
    if (!this.timer) {
      for (const lang of this.o.langs) await mkdir(join(this.o.dir, captionsFolder(lang)), { recursive: true });
      if (this.written.size === 0) await this.writePlaylists(false);
    }
    clearInterval(this.timer);
    this.timer = setInterval(() => this.tick(false), this.o.everyMs ?? 500);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async close(): Promise<{ published?: boolean }> {
    clearInterval(this.timer);
    await this.tick(true);
    return {};
  }

  /** One pass; passes never overlap. */
  private tick(final: boolean): Promise<void> {
    this.running = this.running.then(() => this.pass(final)).catch((err: unknown) => {
      if (!this.failed) this.o.log.warn('captions: could not write the subtitle rendition', { session: this.o.sessionId, err: err instanceof Error ? err.message : String(err) });
      this.failed = true;
      if ((err as NodeJS.ErrnoException)?.code === 'ENOSPC') this.o.onWriteFailed(`captions of ${this.o.sessionId}`);
    });
    return this.running;
  }

  private async pass(final: boolean): Promise<void> {
    const now = (this.o.now ?? Date.now)();
    const tl = await this.o.source.read();
    if (!tl) {
      if (final) await this.finish();
      return; // no segment yet
    }
    this.timeline = tl;
    const due = tl.segments.filter((s) => !this.written.has(s.seq) && (final || now >= s.pdt + s.duration * 1000 + this.o.holdMs));
    if (due.length) {
      const cues = await this.o.cues(Math.min(...due.map((s) => s.pdt)));
      for (const seg of due) {
        const pts = await this.o.source.pts(seg);
        if (pts === undefined) continue; // gone with the window already, or not a video segment: nothing to caption
        const entry: Written = { ...seg, pts, uri: `${this.o.sessionId}_${seg.seq}.vtt`, ids: new Map() };
        await this.writeSegment(entry, cues);
        this.written.set(seg.seq, entry);
      }
    }
    if (!this.o.record) await this.slide(tl);
    if (final) await this.finish();
    else if (due.length) await this.writePlaylists(false);
    this.failed = false;
  }

  /** Writes one subtitle segment per language, unless it already holds exactly these cues. */
  private async writeSegment(e: Written, cues: readonly CaptionCue[]): Promise<void> {
    for (const lang of this.o.langs) {
      const mine = cues.filter((c) => c.lang === lang && c.start < e.pdt + e.duration * 1000 && c.end > e.pdt);
      const ids = mine.map((c) => `${c.id}:${c.start}:${c.end}:${c.text.length}`).join(',');
      if (e.ids.get(lang) === ids) continue;
      await writeFile(join(this.o.dir, captionsFolder(lang), e.uri), vttSegment(e, mine));
      e.ids.set(lang, ids);
    }
  }

  /** A class that is not recorded keeps the subtitle segments of the video's window only. */
  private async slide(tl: Timeline): Promise<void> {
    const first = tl.segments[0]?.seq;
    if (first === undefined) return;
    for (const [seq, e] of this.written) {
      if (seq >= first) continue;
      this.written.delete(seq);
      for (const lang of this.o.langs) await rm(join(this.o.dir, captionsFolder(lang), e.uri), { force: true });
    }
  }

  /** The class is over: every line in its segments, the playlists closed, and (recorded) the transcript. */
  private async finish(): Promise<void> {
    const entries = this.entries();
    if (this.o.record && entries.length) {
      const all = await this.o.cues(0);
      for (const e of entries) await this.writeSegment(e, all);
      const t0 = entries[0]!.pdt;
      for (const lang of this.o.langs) {
        const mine = all.filter((c) => c.lang === lang);
        const folder = join(this.o.dir, captionsFolder(lang));
        await writeFile(join(folder, TRANSCRIPT_VTT), transcriptVtt(mine, t0));
        await writeFile(join(folder, TRANSCRIPT_TXT), transcriptText(mine, t0));
      }
    }
    await this.writePlaylists(true);
  }

  private entries(): Written[] {
    return [...this.written.values()].sort((a, b) => a.seq - b.seq);
  }

  private async writePlaylists(ended: boolean): Promise<void> {
    const entries = this.entries();
    const tl = this.timeline;
    const discontinuitySequence = this.o.record ? 0 : tl?.discontinuitySequence ?? 0;
    const text = subtitlePlaylist(entries, { targetDuration: tl?.targetDuration ?? 2, discontinuitySequence, ended, event: this.o.record });
    for (const lang of this.o.langs) {
      const folder = join(this.o.dir, captionsFolder(lang));
      await writeFile(join(folder, `${RUNG_PLAYLIST}.tmp`), text);
      await rename(join(folder, `${RUNG_PLAYLIST}.tmp`), join(folder, RUNG_PLAYLIST));
    }
  }
}
