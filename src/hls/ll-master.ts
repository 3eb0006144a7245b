// Writes an `ultra` class's master playlist once every rung has its first segment: CODECS from each rung's init
// segment (video and the audio muxed with it), BANDWIDTH from the configured rate or the first segment.

import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MASTER_PLAYLIST, RUNG_PLAYLIST } from '../domain/media-layout.js';
import type { LadderPlan } from '../transcode/ladder.js';
import { AUDIO_ONLY_VARIANT } from '../transcode/args.js';
import { masterPlaylist, type AudioOnlyVariant, type MasterSubtitles, type MasterVariant } from './master.js';
import { audioOnlyBandwidth, bandwidth } from './master-writer.js';
import { MASTER_AFTER_SEGMENTS, type RungReady } from './ll/stream.js';

/** The variants of an LL-HLS master playlist. Pure. */
export function llVariants(plan: LadderPlan, ready: readonly RungReady[]): MasterVariant[] {
  return plan.rungs.map((r) => {
    const got = ready.find((x) => x.name === r.name);
    const video = got?.tracks.find((t) => t.kind === 'video');
    const audio = got?.tracks.find((t) => t.kind === 'audio');
    return {
      uri: `${r.name}/${RUNG_PLAYLIST}`,
      ...bandwidth(plan, r, got?.firstSegmentBytes ?? 0),
      width: video?.width || r.width,
      height: video?.height || r.height,
      frameRate: r.fps,
      videoCodec: video?.codec ?? 'avc1.640028',
      ...(audio ? { audioCodec: audio.codec ?? 'mp4a.40.2' } : {}),
    };
  });
}

/** The audio-only variant of an LL-HLS master playlist, once its rendition has a segment. Pure. */
export function llAudioOnly(plan: LadderPlan, ready: readonly RungReady[]): AudioOnlyVariant | undefined {
  const got = ready.find((x) => x.name === AUDIO_ONLY_VARIANT);
  if (!plan.audioOnlyKbps || !got) return undefined;
  const audio = got.tracks.find((t) => t.kind === 'audio');
  const seconds = got.firstSegmentSeconds > 0 ? got.firstSegmentSeconds : plan.segmentSeconds;
  return { uri: `${AUDIO_ONLY_VARIANT}/${RUNG_PLAYLIST}`, audioCodec: audio?.codec ?? 'mp4a.40.2', ...audioOnlyBandwidth(plan.audioOnlyKbps, got.firstSegmentBytes, seconds) };
}

/** Resolves true once master.m3u8 is written, false when the class ended before every rung had its segments. */
export async function writeLlMaster(dir: string, plan: LadderPlan, stream: { ready(minSegments?: number): Promise<RungReady[] | undefined> }, subtitles: MasterSubtitles[] = []): Promise<boolean> {
  const ready = await stream.ready(MASTER_AFTER_SEGMENTS);
  if (!ready) return false;
  await writeFile(join(dir, `${MASTER_PLAYLIST}.tmp`), masterPlaylist(llVariants(plan, ready), undefined, llAudioOnly(plan, ready), subtitles));
  await rename(join(dir, `${MASTER_PLAYLIST}.tmp`), join(dir, MASTER_PLAYLIST));
  return true;
}
