// After a crash (SIGKILL, power loss) a class's recording is still in media/live/<channel>/ with open EVENT
// playlists. Before anything can delete it (the next class on the channel clears that folder), each interrupted
// session's folder is closed (EXT-X-ENDLIST on every variant) and moved to media/vod/<session>/, so its replay plays.

import { access, mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export type Recovery = { result: 'recovered'; lastWriteMs: number } | { result: 'no_files' | 'not_this_session' | 'no_master' };

/** Appends EXT-X-ENDLIST to a media playlist that lacks it. Pure. */
export function closePlaylist(text: string): string {
  if (text.includes('#EXT-X-ENDLIST')) return text;
  return `${text}${text.endsWith('\n') ? '' : '\n'}#EXT-X-ENDLIST\n`;
}

/** Closes and moves a crashed session's recording; lastWriteMs is when its last segment was written (its real end). */
export async function recoverRecording(mediaDir: string, slug: string, sessionId: string): Promise<Recovery> {
  const dir = join(mediaDir, 'live', slug);
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
    const playlist = join(dir, name, 'index.m3u8');
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
    await access(join(dir, 'master.m3u8'));
  } catch {
    return { result: 'no_master' };
  }
  await mkdir(join(mediaDir, 'vod'), { recursive: true });
  await rename(dir, join(mediaDir, 'vod', sessionId));
  return { result: 'recovered', lastWriteMs };
}
