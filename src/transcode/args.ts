// Builds the one-process ffmpeg argument list for a live ladder. Pure: golden-tested per profile in
// test/transcode-args.test.ts, so every flag change is a visible diff there. One comment per flag says why.

import { join } from 'node:path';
import type { LadderPlan } from './ladder.js';
import { tuneOf } from './quality.js';
import { STRIP_H, STRIP_W } from '../media/tiles.js';
import { PICTURE_FPS } from './stage-picture.js';

export interface ArgsOptions {
  /** Folder the variant playlists and segments go to (one subfolder per variant). */
  outDir: string;
  /** Keep every segment (recording) instead of a sliding live window. */
  record: boolean;
  /** Continue existing playlists after a restart, marking the gap with EXT-X-DISCONTINUITY. */
  resume: boolean;
  preset: string;
  liveWindow: number;
  /** Unique per session, so segment URLs never repeat across classes (they are cached as immutable). */
  segmentPrefix: string;
}

export const AUDIO_VARIANT = 'audio';
/** The audio-only rendition's folder (a variant of its own in the master playlist, not an alternative audio). */
export const AUDIO_ONLY_VARIANT = 'audio-only';

/** AAC-LC stereo 48 kHz encoder flags for output audio stream `n` ('' for the output's only audio). */
export function aacArgs(kbps: number, n: number | ''): string[] {
  const s = n === '' ? '' : `:${n}`;
  return [`-c:a${s}`, 'aac', `-b:a${s}`, `${kbps}k`, `-ac:a${s}`, '2', `-ar:a${s}`, '48000'];
}

/** How many encoded audio streams the outputs take (each gets its own copy of the stage mix). */
export type AudioOutputs = number;

/** What output audio stream `i` maps: the class's sound, or the stage mix's i-th copy. */
export const audioSource = (plan: LadderPlan, i: number): string => (plan.stageAudio ? `[sa${i}]` : '0:a:0');

/** The filter that mixes the stage's voices (input 1) into the class's sound, split for `outputs` encoders. */
export function stageAudioFilter(plan: LadderPlan, outputs: AudioOutputs): string | undefined {
  if (!plan.stageAudio || outputs === 0) return undefined;
  const labels = Array.from({ length: outputs }, (_x, i) => `[sa${i}]`).join('');
  // normalize=0: each voice at its own level (amix would otherwise halve both, and the class sounds quieter with
  // nobody on stage); duration=first: the class's sound decides when the mix ends.
  const mixed = plan.stageAudio === 'alone' ? '[1:a:0]anull' : '[0:a:0]aresample=48000[ca];[ca][1:a:0]amix=inputs=2:duration=first:normalize=0';
  return `${mixed},asplit=${outputs}${labels}`;
}

/** The stage inputs: raw PCM on `fd` (transcode/stage-audio.ts), then the picture's strips on `fd + 1`
 * (transcode/stage-picture.ts), both written by the box in step with the class's media. */
export function stageInputArgs(plan: LadderPlan, fd: number): string[] {
  if (!plan.stageAudio) return [];
  const a = ['-thread_queue_size', '1024', '-f', 's16le', '-ar', '48000', '-ac', '1', '-i', `pipe:${fd}`];
  if (plan.stagePicture) {
    a.push(
      '-thread_queue_size', '16', // strips are large (half a megabyte): a few queued are plenty
      '-f', 'rawvideo', '-pixel_format', 'yuva420p', '-video_size', `${STRIP_W}x${STRIP_H}`, '-framerate', String(PICTURE_FPS),
      '-i', `pipe:${fd + 1}`,
    );
  }
  return a;
}

/** Pipes the stage takes from `fd` on: its sound, and its picture when composed. */
export const stagePipes = (plan: LadderPlan): number => (plan.stageAudio ? 1 : 0) + (plan.stagePicture ? 1 : 0);

/** Share of the picture's width the stage's strip spans (its tiles are right-aligned in it). */
const STRIP_SHARE = 0.85;
const evenOf = (n: number): number => Math.max(2, Math.round(n / 2) * 2);

/** The overlay of the stage's strip (input 2) on the class's video at the top rung's size, before the split. */
export function stagePictureFilter(w: number, h: number): { base: string; over: string } {
  const sw = evenOf(w * STRIP_SHARE);
  const sh = evenOf((sw * STRIP_H) / STRIP_W);
  const margin = evenOf(h * 0.03);
  return {
    base: `scale=${w}:${h},setsar=1`,
    // eof_action=pass: the class's picture goes on alone if the strips end first (the class is stopping).
    over: `[2:v:0]scale=${sw}:${sh}[tiles];[base][tiles]overlay=x=${w - sw - margin}:y=${h - sh - margin}:eof_action=pass`,
  };
}

/** Input, the one decode and the scalers: shared by the HLS (TS) and the LL-HLS (fMP4) outputs. */
export function inputArgs(plan: LadderPlan, stage?: { fd: number; outputs: AudioOutputs }): string[] {
  const a: string[] = [
    '-hide_banner',
    '-loglevel', 'warning', // warnings and errors only: stderr is matched against known failures
    '-nostats', // progress comes from -progress, not the interactive status line
    '-progress', 'pipe:1', // key=value progress blocks on stdout (fps, speed, bitrate)
    '-stats_period', '1',
    '-fflags', '+genpts', // tolerate FLV packets without pts after a publisher reconnect
    '-analyzeduration', '1000000', // the FLV header and metadata arrive first; 1 s is plenty
    // Media arrives through our bounded pipe, not a second hop: FLV from RTMP, Matroska from WebRTC (VP8, Opus).
    '-f', plan.input === 'mkv' ? 'matroska' : 'flv', '-i', 'pipe:0',
    ...(stage ? stageInputArgs(plan, stage.fd) : []),
  ];
  const graph: string[] = [];
  const encoded = plan.rungs.map((r, i) => ({ r, i })).filter(({ r }) => !r.copy);
  if (encoded.length > 0) {
    // Decode once, split into one scaler per encoded rung.
    const splits = encoded.map(({ i }) => `[s${i}]`).join('');
    // A 10-bit or 4:4:4 source becomes 8-bit 4:2:0 on every rung: the only format every player decodes.
    const format = plan.convert ? ',format=yuv420p' : '';
    const scales = encoded.map(({ r, i }) => `[s${i}]scale=${r.width}:${r.height},setsar=1${format}[v${i}]`).join(';');
    // A browser's frames come when they come (15–30 a second, by load and network): made constant before the split,
    // or ffmpeg takes Matroska's 1 ms time base for the rate and repeats frames a thousand times a second.
    const cfr = plan.input === 'mkv' ? `fps=${encoded[0]!.r.fps},` : '';
    if (stage && plan.stagePicture) {
      // The stage's tiles go on at the top rung's size, so every rung shows the same picture.
      const top = encoded[0]!.r;
      const p = stagePictureFilter(top.width, top.height);
      graph.push(`[0:v:0]${cfr}${p.base}${format}[base];${p.over},split=${encoded.length}${splits};${scales}`);
    } else graph.push(`[0:v:0]${cfr}split=${encoded.length}${splits};${scales}`);
  }
  const mix = stage ? stageAudioFilter(plan, stage.outputs) : undefined;
  if (mix) graph.push(mix);
  if (graph.length) a.push('-filter_complex', graph.join(';'));
  return a;
}

/**
 * The encoder flags of one re-encoded rung; `n` is the output stream index the options apply to. Capped CRF: the
 * profile's quality target, with the rung's rate as the VBV cap (the advertised BANDWIDTH stays an upper bound).
 */
export function x264Args(plan: LadderPlan, r: LadderPlan['rungs'][number], n: number | '', preset: string, zeroLatency = false): string[] {
  const seg = plan.segmentSeconds;
  const s = n === '' ? '' : `:${n}`;
  const gop = String(Math.max(1, Math.round(r.fps * seg)));
  const topCopied = plan.rungs[0]?.copy === true;
  const tune = tuneOf(plan.encode, zeroLatency);
  return [
    `-c:v${s}`, 'libx264',
    `-preset:v${s}`, preset,
    `-profile:v${s}`, 'high',
    ...(tune ? [`-tune:v${s}`, tune] : []), // lecture: stillimage (sharp text); LL-HLS: zerolatency (no lookahead)
    `-crf:v${s}`, String(plan.encode.crf), // the quality aimed at: a still slide costs a few kbit/s
    `-maxrate:v${s}`, `${r.videoKbps}k`, // the cap: motion never peaks above the rung's advertised rate
    `-bufsize:v${s}`, `${r.videoKbps * 2}k`,
    `-g:v${s}`, gop, `-keyint_min:v${s}`, gop, // one keyframe per segment on every rung
    `-sc_threshold:v${s}`, '0', // no scene-cut keyframes: they would misalign the rungs
    // Keyframes on segment boundaries; with a copied top rung, follow the source's keyframes instead.
    `-force_key_frames:v${s}`, topCopied ? 'source' : `expr:gte(t,n_forced*${seg})`,
  ];
}

/** The stage input's descriptor for a classic ladder (its only extra pipe). */
export const STAGE_FD = 3;

export function ffmpegArgs(plan: LadderPlan, o: ArgsOptions): string[] {
  const seg = plan.segmentSeconds;
  const audioOutputs = (plan.audio !== 'none' ? 1 : 0) + (plan.audioOnlyKbps ? 1 : 0);
  const a = inputArgs(plan, { fd: STAGE_FD, outputs: audioOutputs });
  plan.rungs.forEach((r, i) => {
    if (r.copy) {
      a.push('-map', '0:v:0', `-c:v:${i}`, 'copy'); // the source is already a fitting H.264 stream
      return;
    }
    a.push('-map', `[v${i}]`, ...x264Args(plan, r, i, o.preset));
  });
  if (plan.audio !== 'none') {
    a.push('-map', audioSource(plan, 0));
    if (plan.audio === 'copy') a.push('-c:a:0', 'copy'); // AAC already: no re-encode
    else a.push(...aacArgs(plan.audioKbps, 0)); // encoded once, shared by all rungs
  }
  // The audio-only rendition: always encoded, a fixed small rate whatever the publisher sends.
  if (plan.audioOnlyKbps) a.push('-map', audioSource(plan, plan.audio !== 'none' ? 1 : 0), ...aacArgs(plan.audioOnlyKbps, 1));
  const flags = ['independent_segments', 'program_date_time'];
  if (!o.record) flags.push('delete_segments'); // sliding window: old segments leave the disk
  if (o.resume) flags.push('append_list', 'discont_start'); // restart continues the playlist after a discontinuity
  const streamMap = plan.rungs.map((r, i) => `v:${i},agroup:aud,name:${r.name}`);
  if (plan.audio !== 'none') streamMap.push(`a:0,agroup:aud,name:${AUDIO_VARIANT}`);
  if (plan.audioOnlyKbps) streamMap.push(`a:1,name:${AUDIO_ONLY_VARIANT}`);
  a.push(
    '-f', 'hls',
    '-hls_time', String(seg),
    '-hls_list_size', o.record ? '0' : String(o.liveWindow), // recording keeps the whole class in the playlist
    '-hls_flags', flags.join('+'),
    '-hls_segment_type', 'mpegts',
    '-hls_segment_filename', join(o.outDir, '%v', `${o.segmentPrefix}_%05d.ts`),
    '-var_stream_map', streamMap.join(' '),
    join(o.outDir, '%v', 'index.m3u8'),
  );
  if (o.record) a.splice(a.indexOf('-hls_flags'), 0, '-hls_playlist_type', 'event');
  return a;
}
