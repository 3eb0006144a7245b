// The ffmpeg arguments of an `ultra` (Low-Latency HLS) ladder: the same one decode and scalers as the classic
// ladder, but each rung leaves as fragmented MP4 on its own pipe (fd 3, 4, …) in fragments of one part each (and a
// new fragment at every keyframe), so our LL-HLS packager can publish a part the moment ffmpeg flushes it. Pure; golden-tested in test/transcode-args.test.ts.

import { aacArgs, audioSource, AUDIO_ONLY_VARIANT, inputArgs, x264Args } from './args.js';
import type { LadderPlan } from './ladder.js';

export interface LlArgsOptions {
  preset: string;
  /** The part target (seconds): ffmpeg flushes a fragment once it holds this much. */
  partSeconds: number;
}

/** The file descriptor rung i is written to (the child's stdio index); the audio-only rendition follows the rungs. */
export const llOutputFd = (i: number): number => 3 + i;

/** The renditions of an LL-HLS ladder in output (pipe) order: one per rung, then the audio-only one. */
export function llOutputNames(plan: LadderPlan): string[] {
  return [...plan.rungs.map((r) => r.name as string), ...(plan.audioOnlyKbps ? [AUDIO_ONLY_VARIANT] : [])];
}

export const llOutputCount = (plan: LadderPlan): number => llOutputNames(plan).length;

/** The stage input's descriptor: after the output pipes. */
export const llStageFd = (plan: LadderPlan): number => 3 + llOutputCount(plan);

/** One AAC frame at 48 kHz (seconds). */
const AAC_FRAME = 1024 / 48000;

export function llFfmpegArgs(plan: LadderPlan, o: LlArgsOptions): string[] {
  const audioOutputs = (plan.audio !== 'none' ? plan.rungs.length : 0) + (plan.audioOnlyKbps ? 1 : 0);
  const a = inputArgs(plan, { fd: llStageFd(plan), outputs: audioOutputs });
  plan.rungs.forEach((r, i) => {
    if (r.copy) a.push('-map', '0:v:0', '-c:v', 'copy'); // the source is already a fitting H.264 stream
    else {
      a.push(
        '-map', `[v${i}]`,
        // zerolatency: no B-frames, no lookahead: a frame leaves the encoder as soon as it is in
        ...x264Args(plan, r, '', o.preset, true),
      );
    }
    if (plan.audio !== 'none') {
      a.push('-map', audioSource(plan, i));
      // Each rung carries its own audio (muxed), so a player needs one playlist per rung, not two.
      if (plan.audio === 'copy') a.push('-c:a', 'copy');
      else a.push('-c:a', 'aac', '-b:a', `${plan.audioKbps}k`, '-ac', '2', '-ar', '48000');
    }
    a.push(
      '-f', 'mp4',
      // An empty moov up front (the init segment), a fragment per part and at each keyframe, offsets relative to
      // each moof. (One fragment per frame would give every sample its own rounded start time: FLV's millisecond
      // timestamps then overlap AAC frames by a few samples, and browsers drop the overlapped audio.)
      '-movflags', '+frag_keyframe+empty_moov+default_base_moof',
      '-frag_duration', String(Math.round(o.partSeconds * 1e6)),
      '-flush_packets', '1', // every fragment reaches the pipe at once
      `pipe:${llOutputFd(i)}`,
    );
  });
  if (plan.audioOnlyKbps) {
    a.push(
      '-map', audioSource(plan, plan.audio !== 'none' ? plan.rungs.length : 0), ...aacArgs(plan.audioOnlyKbps, ''),
      '-f', 'mp4',
      // Every AAC frame is a sync sample: fragments by time only. ffmpeg closes a fragment once it holds at least
      // -frag_duration, so ask for one frame less than the part: no part is then longer than the part target.
      '-movflags', '+empty_moov+default_base_moof',
      '-frag_duration', String(Math.round((o.partSeconds - AAC_FRAME) * 1e6)),
      '-flush_packets', '1',
      `pipe:${llOutputFd(plan.rungs.length)}`,
    );
  }
  return a;
}
