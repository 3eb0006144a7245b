// What a publisher's source is, in words for the session row and the refusal a publisher gets when the ladder
// cannot take its video. Pure.

import type { SourceInfo } from '../transcode/ladder.js';

/** H.264 profiles the ladder may pass through as they are: 8-bit 4:2:0 (Baseline, Main, Extended, High). */
export const PASSTHROUGH_PROFILES: readonly number[] = [66, 77, 88, 100];

const PROFILE_NAMES: Record<number, string> = {
  66: 'Baseline', 77: 'Main', 88: 'Extended', 100: 'High', 110: 'High 10', 122: 'High 4:2:2', 244: 'High 4:4:4', 44: 'CAVLC 4:4:4',
};

export function profileName(profile: number | undefined): string | undefined {
  return profile === undefined ? undefined : PROFILE_NAMES[profile] ?? `profile ${profile}`;
}

/** The source as the session row records it. */
export function describeSource(s: SourceInfo): { codec: string; width: number; height: number; fps: number; audioCodec: string; ingest: 'rtmp' | 'whip' } {
  const profile = s.videoCodec === 'h264' && s.videoProfile !== undefined && !PASSTHROUGH_PROFILES.includes(s.videoProfile)
    ? ` (${profileName(s.videoProfile)})` : '';
  return { codec: s.videoCodec + profile, width: s.width, height: s.height, fps: s.fps, audioCodec: s.audioCodec, ingest: s.via ?? 'rtmp' };
}

/** Why this source cannot be taken, or undefined when the ladder can (converting it if need be). */
export function sourceRefusal(s: SourceInfo): string | undefined {
  // H.264 may be passed through; VP8 and VP9 (a browser's WebRTC) are decoded and encoded on every rung.
  if (s.videoCodec === 'h264' || s.videoCodec === 'vp8' || s.videoCodec === 'vp9') return undefined;
  const what = s.videoCodec === 'hevc' ? 'HEVC (H.265)' : 'a video codec other than H.264';
  return `the publisher sends ${what}; this server takes H.264 video (in OBS: Settings → Output → Encoder: x264 or a hardware H.264 encoder)`;
}
