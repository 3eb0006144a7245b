// How an encoded rung spends its bits: a quality target (x264 CRF) under a cap (the rung's bitrate as the VBV
// maxrate, never above what the source itself sends), so a still slide costs little and motion stays bounded.
// Two profiles, chosen per channel: `lecture` (slides, text, a talking head) and `motion` (labs, sport). Pure.

import type { EncodeProfile } from '../domain/channel.js';

export interface EncodeQuality {
  profile: EncodeProfile;
  /** x264 constant rate factor: the quality aimed at (lower is better and bigger). */
  crf: number;
  /** x264 psy tuning of the profile, or null. */
  tune: string | null;
  /** The shared audio rendition's AAC rate (kbit/s), re-encoded even from AAC; null: AAC is copied as sent. */
  audioKbps: number | null;
}

/** The configured CRF of each profile (transcode.lectureCrf, transcode.motionCrf). */
export type CrfTable = Record<EncodeProfile, number>;

export const DEFAULT_CRF: CrfTable = { lecture: 26, motion: 23 };

/**
 * `lecture`: x264's `stillimage` tuning (less deblocking, so text and slide edges stay sharp; more adaptive
 * quantisation for flat slide backgrounds). `motion`: x264's defaults.
 */
const TUNE: Record<EncodeProfile, string | null> = { lecture: 'stillimage', motion: null };

/**
 * `lecture`: speech, re-encoded to 96 kbit/s AAC-LC stereo (OBS sends 160 kbit/s by default: more than a lecture's
 * whole 720p picture, bench/cost.mjs). `motion`: the publisher's AAC copied (music, a lab's sounds).
 */
const AUDIO_KBPS: Record<EncodeProfile, number | null> = { lecture: 96, motion: null };

export function encodeQuality(profile: EncodeProfile, crf: CrfTable = DEFAULT_CRF): EncodeQuality {
  return { profile, crf: crf[profile], tune: TUNE[profile], audioKbps: AUDIO_KBPS[profile] };
}

/** The x264 `tune` value of a rung: the profile's psy tuning, plus `zerolatency` for LL-HLS parts. */
export function tuneOf(q: EncodeQuality, zeroLatency: boolean): string | undefined {
  const t = [q.tune, zeroLatency ? 'zerolatency' : null].filter((x): x is string => x !== null);
  return t.length ? t.join(',') : undefined;
}
