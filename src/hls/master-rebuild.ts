// A master playlist made again from what a recording's rung folders hold, for a class that crashed before its
// master was written (the first seconds): each folder's playlist gives its segments and their durations, one probe
// of its first media (or its init segment) gives codecs and size, and the bytes over the seconds give BANDWIDTH.
// Never touches what exists: it only writes master.m3u8 when there is none.

import { readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MASTER_PLAYLIST, RUNG_PLAYLIST } from '../domain/media-layout.js';
import { masterPlaylist, type AudioOnlyVariant, type MasterVariant } from './master.js';
import { AUDIO_ONLY_VARIANT } from '../transcode/args.js';
import { codecString, type ProbedStream } from '../transcode/probe.js';

/** The media a variant playlist names: its init segment (EXT-X-MAP) and segments with their durations. Pure. */
export function playlistMedia(text: string): { init?: string; segments: { uri: string; seconds: number }[] } {
  const init = /#EXT-X-MAP:URI="([^"?]+)/.exec(text)?.[1];
  const segments: { uri: string; seconds: number }[] = [];
  let seconds: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^#EXTINF:([\d.]+)/.exec(line);
    if (m) seconds = Number(m[1]);
    else if (line && !line.startsWith('#') && seconds !== undefined) {
      segments.push({ uri: line.split('?')[0]!.trim(), seconds });
      seconds = undefined;
    }
  }
  return { init, segments };
}

const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$/;

/** Writes `dir/master.m3u8` from its rung folders; false when there is nothing to make it from. */
export async function rebuildMaster(dir: string, probe: (path: string) => Promise<ProbedStream[]>): Promise<boolean> {
  const variants: MasterVariant[] = [];
  let audio: { uri: string; codec: string; name: string } | undefined;
  let audioOnly: AudioOnlyVariant | undefined;
  for (const name of (await readdir(dir)).filter((n) => SAFE_NAME.test(n)).sort()) {
    let text: string;
    try {
      text = await readFile(join(dir, name, RUNG_PLAYLIST), 'utf8');
    } catch {
      continue; // not a rung folder
    }
    const media = playlistMedia(text);
    const present: { bytes: number; seconds: number }[] = [];
    for (const s of media.segments) {
      if (!SAFE_NAME.test(s.uri)) continue;
      try {
        present.push({ bytes: (await stat(join(dir, name, s.uri))).size, seconds: s.seconds });
      } catch {
        // a segment the crash kept from being written
      }
    }
    if (present.length === 0) continue;
    const first = media.init && SAFE_NAME.test(media.init) ? media.init : media.segments.find((s) => SAFE_NAME.test(s.uri))!.uri;
    const streams = await probe(join(dir, name, first)).catch(() => [] as ProbedStream[]);
    const video = streams.find((s) => s.kind === 'video');
    const sound = streams.find((s) => s.kind === 'audio');
    const seconds = present.reduce((n, s) => n + s.seconds, 0);
    const bytes = present.reduce((n, s) => n + s.bytes, 0);
    const peak = Math.max(...present.map((s) => (s.bytes * 8) / Math.max(0.1, s.seconds)));
    if (!video && sound && name === AUDIO_ONLY_VARIANT) {
      audioOnly = {
        uri: `${name}/${RUNG_PLAYLIST}`, audioCodec: codecString(sound) ?? 'mp4a.40.2',
        bandwidth: Math.round(peak), averageBandwidth: Math.round((bytes * 8) / Math.max(0.1, seconds)),
      };
      continue;
    }
    if (!video) {
      if (sound) audio = { uri: `${name}/${RUNG_PLAYLIST}`, codec: codecString(sound) ?? 'mp4a.40.2', name: 'audio' };
      continue;
    }
    variants.push({
      uri: `${name}/${RUNG_PLAYLIST}`,
      bandwidth: Math.round(peak), averageBandwidth: Math.round((bytes * 8) / Math.max(0.1, seconds)),
      width: video.width ?? 0, height: video.height ?? 0, frameRate: video.fps ?? 30,
      videoCodec: codecString(video) ?? 'avc1.640028',
      // fMP4 rungs (latency 'ultra') carry their audio in the same stream.
      ...(sound ? { audioCodec: codecString(sound) ?? 'mp4a.40.2' } : {}),
    });
  }
  if (variants.length === 0) return false;
  await writeFile(join(dir, `${MASTER_PLAYLIST}.tmp`), masterPlaylist(variants, audio, audioOnly));
  await rename(join(dir, `${MASTER_PLAYLIST}.tmp`), join(dir, MASTER_PLAYLIST));
  return true;
}
