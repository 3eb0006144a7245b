// After a crash (SIGKILL, power loss) a class's recording is still in media/live/<channel>/ with open EVENT
// playlists. Before anything can delete it (the next class on the channel clears that folder), each interrupted
// session's folder is closed (EXT-X-ENDLIST on every variant) and moved to media/vod/<session>/, so its replay plays.

import { access, mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { liveDir, MASTER_PLAYLIST, RUNG_PLAYLIST, vodDir, vodRoot } from '../domain/media-layout.js';
import type { Logger } from '../log.js';
import { rebuildMaster } from '../hls/master-rebuild.js';
import type { ProbedStream } from '../transcode/probe.js';

/** Reads a media file's streams (ffprobe): rebuilds the master of a class that crashed before writing it. */
export type Probe = (path: string) => Promise<ProbedStream[]>;

export type Recovery = { result: 'recovered'; lastWriteMs: number } | { result: 'no_files' | 'not_this_session' | 'no_master' };

/** Appends EXT-X-ENDLIST to a media playlist that lacks it. Pure. */
export function closePlaylist(text: string): string {
  if (text.includes('#EXT-X-ENDLIST')) return text;
  return `${text}${text.endsWith('\n') ? '' : '\n'}#EXT-X-ENDLIST\n`;
}

/** Closes and moves a crashed session's recording; lastWriteMs is when its last segment was written (its real end). */
/** Closes every rendition playlist under a class's folder (a ladder killed before it finished leaves them open). */
export async function closePlaylists(dir: string): Promise<number> {
  let closed = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const playlist = join(dir, name, RUNG_PLAYLIST);
    const text = await readFile(playlist, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const done = closePlaylist(text);
    if (done !== text) {
      await writeFile(playlist, done);
      closed += 1;
    }
  }
  return closed;
}

export async function recoverRecording(mediaDir: string, slug: string, sessionId: string, probe?: Probe): Promise<Recovery> {
  const dir = liveDir(mediaDir, slug);
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return { result: 'no_files' };
  }
  let variants = 0;
  let lastWriteMs = 0;
  let ours = false;
  for (const name of entries) {
    const playlist = join(dir, name, RUNG_PLAYLIST);
    let text: string;
    try {
      text = await readFile(playlist, 'utf8');
    } catch {
      continue;
    }
    // Segment names carry the session id: a folder left by another session is not this one's to claim.
    if (!text.includes(sessionId)) continue;
    ours = true;
    variants += 1;
    lastWriteMs = Math.max(lastWriteMs, (await stat(playlist)).mtimeMs);
    const closed = closePlaylist(text);
    if (closed !== text) await writeFile(playlist, closed);
  }
  if (!ours || variants === 0) return { result: 'not_this_session' };
  try {
    await access(join(dir, MASTER_PLAYLIST));
  } catch {
    // The crash came before the master was written (the first seconds of a class): make it from the rungs.
    if (!probe || !(await rebuildMaster(dir, probe))) return { result: 'no_master' };
  }
  await mkdir(vodRoot(mediaDir), { recursive: true });
  await rename(dir, vodDir(mediaDir, sessionId));
  return { result: 'recovered', lastWriteMs };
}

export interface InterruptedSessions {
  open(): Promise<{ id: string; channel: string; recorded: boolean; startedAt: string }[]>;
  endInterrupted(id: string, at: Date, recorded: boolean): Promise<void>;
  /** On a shared store: this box's sessions another box closed while this one was down (their files are here). */
  closedWhileAway?(): Promise<{ id: string; channel: string }[]>;
  markRecovered?(id: string, kept: boolean): Promise<void>;
}

/** Every session a crash left open: its recording closed and kept as a replay, its row ended. */
export async function recoverInterrupted(sessions: InterruptedSessions, mediaDir: string, log: Logger, probe?: Probe): Promise<void> {
  for (const s of await sessions.open()) {
    const r = s.recorded ? await recoverRecording(mediaDir, s.channel, s.id, probe).catch((err: unknown) => {
      log.error('could not recover a recording', { session: s.id, err });
      return { result: 'failed' as const };
    }) : { result: 'not_recorded' as const };
    const at = r.result === 'recovered' ? new Date(Math.max(r.lastWriteMs, Date.parse(s.startedAt))) : new Date();
    await sessions.endInterrupted(s.id, at, r.result === 'recovered');
    if (r.result === 'recovered') log.warn('recovered the recording of a class interrupted by a crash', { session: s.id, channel: s.channel });
    else log.warn('closed a class interrupted by a crash', { session: s.id, channel: s.channel, recording: r.result });
  }
  for (const s of (await sessions.closedWhileAway?.()) ?? []) {
    const r = await recoverRecording(mediaDir, s.channel, s.id, probe).catch((err: unknown) => {
      log.error('could not recover a recording', { session: s.id, err });
      return { result: 'failed' as const };
    });
    await sessions.markRecovered?.(s.id, r.result === 'recovered');
    log.warn('recovered the recording of a class another box closed while this one was down', { session: s.id, channel: s.channel, recording: r.result });
  }
}
