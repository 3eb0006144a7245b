// Plans the output ladder for one source: which rungs, what size and bitrate, whether the top rung is copied.
// Pure: the same source and profile always give the same plan.

import type { RungName } from '../domain/channel.js';
import { encodeQuality, type EncodeQuality } from './quality.js';

export interface RungSpec {
  name: RungName;
  height: number;
  videoKbps: number;
}

/** Default rungs; width follows the source aspect ratio. */
export const DEFAULT_RUNGS: Record<RungName, RungSpec> = {
  '1080p': { name: '1080p', height: 1080, videoKbps: 5000 },
  '720p': { name: '720p', height: 720, videoKbps: 2800 },
  '480p': { name: '480p', height: 480, videoKbps: 1400 },
  '360p': { name: '360p', height: 360, videoKbps: 800 },
  // The rung for a poor mobile link: with the audio-only rendition's 64 kbit/s, under 400 kbit/s in all.
  '240p': { name: '240p', height: 240, videoKbps: 300 },
};

/** The audio-only rendition every master playlist offers (AAC-LC stereo; for a learner on a very poor link). */
export const AUDIO_ONLY_KBPS = 64;

export interface SourceInfo {
  videoCodec: 'h264' | 'hevc' | 'vp8' | 'vp9' | 'other';
  width: number;
  height: number;
  fps: number;
  audioCodec: 'aac' | 'opus' | 'other' | 'none';
  /** The container the ingest hands the media over in (absent: FLV, from RTMP). */
  container?: 'flv' | 'mkv';
  /** The way in (absent: RTMP). */
  via?: 'rtmp' | 'whip';
  /** Seconds between source keyframes, when observed. */
  keyframeInterval?: number;
  videoKbps?: number;
  /** H.264 profile_idc from the stream's decoder configuration (100 High; 110 High 10; 122 4:2:2; 244 4:4:4). */
  videoProfile?: number;
}

/** H.264 profiles that are 8-bit 4:2:0, i.e. what every player decodes: only these may be copied. */
const PLAYABLE_PROFILES = [66, 77, 88, 100];

/** True when the source is not 8-bit 4:2:0 H.264 (10-bit, 4:2:2, 4:4:4): every rung converts it. */
export function needsConversion(source: SourceInfo): boolean {
  return source.videoProfile !== undefined && !PLAYABLE_PROFILES.includes(source.videoProfile);
}

export interface PlannedRung {
  name: RungName;
  width: number;
  height: number;
  fps: number;
  videoKbps: number;
  /** Copied from the source without re-encoding. */
  copy: boolean;
}

export interface LadderPlan {
  rungs: PlannedRung[];
  segmentSeconds: number;
  audio: 'copy' | 'aac' | 'none';
  audioKbps: number;
  /** Rungs dropped to fit the transcode budget. */
  dropped: RungName[];
  /** How the encoded rungs spend their bits (transcode/quality.ts). */
  encode: EncodeQuality;
  /** The source is 10-bit or 4:2:2/4:4:4: every rung is converted to 8-bit 4:2:0 (none is copied). */
  convert?: boolean;
  /** The audio-only rendition's AAC rate (kbit/s); absent when the source has no audio. */
  audioOnlyKbps?: number;
  /** Matroska from a WebRTC publisher; absent: FLV from RTMP. */
  input?: 'mkv';
  /** The stage's voices come in on a second input and are mixed with the class's sound ('alone': the source has none). */
  stageAudio?: 'mix' | 'alone';
  /** The stage's picture (a strip of members' tiles) comes in on a third input and is laid over the video. */
  stagePicture?: boolean;
}

/** The plan with the stage's voices mixed in: the sound is then always encoded (a mix cannot be copied). Pure. */
export function withStageAudio(plan: LadderPlan): LadderPlan {
  if (plan.stageAudio) return plan;
  const alone = plan.audio === 'none';
  return { ...plan, audio: 'aac', audioOnlyKbps: plan.audioOnlyKbps ?? AUDIO_ONLY_KBPS, stageAudio: alone ? 'alone' : 'mix' };
}

/** The plan with the stage's picture laid over its video: only when every rung is encoded (a copied rung cannot
 * show it; the shell plans with the top rung encoded when the box composes the stage, see live/admission.ts). Pure. */
export function withStagePicture(plan: LadderPlan): LadderPlan {
  if (plan.stagePicture || plan.rungs.length === 0 || plan.rungs.some((r) => r.copy)) return plan;
  return { ...withStageAudio(plan), stagePicture: true };
}

/** Encoded pixels per second one core sustains with x264 veryfast, measured on the reference box. */
export const PIXELS_PER_CORE = 40_000_000;

const even = (n: number): number => Math.max(2, Math.round(n / 2) * 2);

/** Encoded pixels per second of the rungs that are re-encoded (copied rungs cost no encode). */
export function pixelRate(rungs: readonly PlannedRung[]): number {
  return rungs.filter((r) => !r.copy).reduce((sum, r) => sum + r.width * r.height * r.fps, 0);
}

/** True when the top rung may be passed through as the source sends it (H.264 8-bit 4:2:0 at the rung's height,
 * keyframes on every segment boundary). */
export function mayPassThrough(source: SourceInfo, topHeight: number, segmentSeconds: number): boolean {
  return !needsConversion(source) && source.videoCodec === 'h264' && source.height === topHeight && keyframesAligned(source, segmentSeconds);
}

/** True when the source's keyframes fall on every segment boundary. */
export function keyframesAligned(source: SourceInfo, segmentSeconds: number): boolean {
  const k = source.keyframeInterval;
  if (!k || k <= 0) return false;
  const ratio = segmentSeconds / k;
  return Math.abs(ratio - Math.round(ratio)) < 0.02 && Math.round(ratio) >= 1;
}

export interface PlanOptions {
  profile: readonly RungName[];
  segmentSeconds: number;
  rungs?: Record<RungName, RungSpec>;
  /** Encoded-pixel budget left for this channel; rungs are dropped from the top to fit. */
  budget?: number;
  audioKbps?: number;
  /** The channel's encoding profile with its configured CRF (default: lecture). */
  encode?: EncodeQuality;
  /** Encode the top rung even when the source could be passed through (transcode/top-rung.ts decides). */
  encodeTop?: boolean;
}

export function planLadder(source: SourceInfo, opts: PlanOptions): LadderPlan {
  const specs = opts.rungs ?? DEFAULT_RUNGS;
  const aspect = source.width > 0 && source.height > 0 ? source.width / source.height : 16 / 9;
  const fps = source.fps > 0 ? Math.min(Math.round(source.fps * 100) / 100, 60) : 30;
  const fitting = opts.profile.map((n) => specs[n]).filter((s) => s.height <= source.height).sort((a, b) => b.height - a.height);
  // A source below every rung still gets one rung at its own size.
  const chosen = fitting.length > 0 ? fitting : [{ ...specs[opts.profile[opts.profile.length - 1] ?? '360p'], height: even(source.height) }];
  // A rung's rate is its cap: never above what the source itself sends, when the publisher says.
  const sourceKbps = source.videoKbps && source.videoKbps > 0 ? Math.round(source.videoKbps) : Infinity;
  let rungs: PlannedRung[] = chosen.map((s) => ({
    name: s.name, height: even(s.height), width: even(s.height * aspect), fps, videoKbps: Math.min(s.videoKbps, sourceKbps), copy: false,
  }));
  const top = rungs[0];
  const convert = needsConversion(source);
  if (top && !opts.encodeTop && mayPassThrough(source, top.height, opts.segmentSeconds)) {
    top.width = source.width;
    top.copy = true;
    if (source.videoKbps && source.videoKbps > 0) top.videoKbps = Math.round(source.videoKbps);
  }
  const dropped: RungName[] = [];
  if (opts.budget !== undefined) {
    while (rungs.length > 1 && pixelRate(rungs) > opts.budget) {
      dropped.push(rungs[0]!.name);
      rungs = rungs.slice(1);
    }
  }
  const encode = opts.encode ?? encodeQuality('lecture');
  // AAC is copied only where the profile keeps the publisher's sound (motion); a lecture's speech is re-encoded smaller.
  const audio = source.audioCodec === 'none' ? 'none' : source.audioCodec === 'aac' && encode.audioKbps === null ? 'copy' : 'aac';
  return {
    rungs, segmentSeconds: opts.segmentSeconds, audio, audioKbps: opts.audioKbps ?? encode.audioKbps ?? 128, dropped, encode,
    ...(convert ? { convert } : {}), ...(audio !== 'none' ? { audioOnlyKbps: AUDIO_ONLY_KBPS } : {}),
    ...(source.container === 'mkv' ? { input: 'mkv' as const } : {}),
  };
}
