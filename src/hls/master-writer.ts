// Writes a live class's master playlist once every variant has its first segment: probes one segment per variant
// for its CODECS and size, measures BANDWIDTH (copied rungs have no configured rate), and renames the file into
// place so a player never reads half of it. The class run starts it beside the ladder and awaits it at the end.

import { existsSync } from 'node:fs';
import { readdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MASTER_PLAYLIST, RUNG_PLAYLIST } from '../domain/media-layout.js';
import { masterPlaylist, type AudioOnlyVariant, type MasterSubtitles, type MasterVariant } from './master.js';
import { AUDIO_ONLY_VARIANT, AUDIO_VARIANT } from '../transcode/args.js';
import type { LadderPlan } from '../transcode/ladder.js';
import { codecString, type ProbedStream } from '../transcode/probe.js';

export interface MasterWriterDeps {
  probe(path: string): Promise<ProbedStream[]>;
  /** True once no segment is still to come (the class ended and its ladder exited). */
  over(): boolean;
  /** Gives up after this long without a segment in every variant. */
  timeoutMs?: number;
  /** Caption tracks (WebVTT renditions) to list. */
  subtitles?: MasterSubtitles[];
}

/** Resolves true once master.m3u8 is written, false when the class ended (or timed out) before. */
export async function writeMasterWhenReady(dir: string, plan: LadderPlan, d: MasterWriterDeps): Promise<boolean> {
  const names = [
    ...plan.rungs.map((r) => r.name as string), ...(plan.audio !== 'none' ? [AUDIO_VARIANT] : []), ...(plan.audioOnlyKbps ? [AUDIO_ONLY_VARIANT] : []),
  ];
  const deadline = Date.now() + (d.timeoutMs ?? 60000);
  const first = new Map<string, string>();
  for (;;) {
    for (const n of names) {
      if (first.has(n)) continue;
      const seg = await firstSegment(join(dir, n));
      if (seg) first.set(n, seg);
    }
    if (first.size === names.length) break;
    if (d.over() || Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  // Probe every variant's first segment at once: the master playlist waits on the slowest. A segment still being
  // written can fail to probe (a quiet start gives an audio segment of a few hundred bytes): try again shortly, on
  // the next segment once there is one, until the deadline.
  const probeOne = async (n: string): Promise<readonly [string, ProbedStream[]]> => {
    for (;;) {
      try {
        return [n, await d.probe(first.get(n)!)] as const;
      } catch (err) {
        if (d.over() || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 300));
        const again = await secondSegment(join(dir, n));
        if (again) first.set(n, again);
      }
    }
  };
  const probes = new Map(await Promise.all(names.map(probeOne)));
  const variants: MasterVariant[] = [];
  for (const r of plan.rungs) {
    const v = probes.get(r.name)?.find((s) => s.kind === 'video');
    const bytes = (await stat(first.get(r.name)!)).size;
    variants.push({
      uri: `${r.name}/${RUNG_PLAYLIST}`,
      ...bandwidth(plan, r, bytes),
      width: v?.width ?? r.width,
      height: v?.height ?? r.height,
      frameRate: r.fps,
      videoCodec: (v && codecString(v)) ?? 'avc1.640028',
    });
  }
  const a = probes.get(AUDIO_VARIANT)?.find((s) => s.kind === 'audio');
  const audio = plan.audio !== 'none'
    ? { uri: `${AUDIO_VARIANT}/${RUNG_PLAYLIST}`, codec: (a && codecString(a)) ?? 'mp4a.40.2', name: 'audio' }
    : undefined;
  let audioOnly: AudioOnlyVariant | undefined;
  if (plan.audioOnlyKbps) {
    const s = probes.get(AUDIO_ONLY_VARIANT)?.find((x) => x.kind === 'audio');
    const bytes = (await stat(first.get(AUDIO_ONLY_VARIANT)!)).size;
    audioOnly = { uri: `${AUDIO_ONLY_VARIANT}/${RUNG_PLAYLIST}`, audioCodec: (s && codecString(s)) ?? 'mp4a.40.2', ...audioOnlyBandwidth(plan.audioOnlyKbps, bytes, plan.segmentSeconds) };
  }
  await writeFile(join(dir, `${MASTER_PLAYLIST}.tmp`), masterPlaylist(variants, audio, audioOnly, d.subtitles));
  await rename(join(dir, `${MASTER_PLAYLIST}.tmp`), join(dir, MASTER_PLAYLIST));
  return true;
}

/** BANDWIDTH and AVERAGE-BANDWIDTH of one rung from its configured rate or (copied rungs) its first segment. Pure. */
export function bandwidth(plan: LadderPlan, r: LadderPlan['rungs'][number], firstSegmentBytes: number): { bandwidth: number; averageBandwidth: number } {
  const measured = (firstSegmentBytes * 8) / plan.segmentSeconds;
  const audioBps = plan.audio === 'none' ? 0 : plan.audioKbps * 1000;
  const nominal = r.videoKbps * 1000 + audioBps;
  return {
    // Copied rungs have no configured rate: measure the first segment and leave headroom for peaks.
    bandwidth: Math.max(r.copy ? measured * 1.25 : r.videoKbps * 1100 + audioBps, measured),
    averageBandwidth: r.copy ? measured + audioBps : nominal,
  };
}

/** BANDWIDTH and AVERAGE-BANDWIDTH of the audio-only rendition: its rate with the container's overhead, or what
 * its first segment measured if more. Pure. */
export function audioOnlyBandwidth(kbps: number, firstSegmentBytes: number, seconds: number): { bandwidth: number; averageBandwidth: number } {
  const measured = (firstSegmentBytes * 8) / Math.max(0.1, seconds);
  const nominal = kbps * 1000 * 1.15; // MPEG-TS or fMP4 framing of small AAC frames: about 15 %
  return { bandwidth: Math.round(Math.max(nominal, measured) * 1.1), averageBandwidth: Math.round(Math.max(nominal, measured)) };
}

/** The second segment of a variant once there is one (the first is then complete too, but it failed to probe). */
async function secondSegment(dir: string): Promise<string | undefined> {
  try {
    const files = (await readdir(dir)).filter((f) => f.endsWith('.ts')).sort();
    return files.length >= 3 ? join(dir, files[1]!) : undefined;
  } catch {
    return undefined;
  }
}

async function firstSegment(dir: string): Promise<string | undefined> {
  try {
    const files = (await readdir(dir)).filter((f) => f.endsWith('.ts')).sort();
    // The newest file may still be being written; the first complete one is any but the last.
    if (!existsSync(join(dir, RUNG_PLAYLIST)) || files.length === 0) return undefined;
    return join(dir, files[0]!);
  } catch {
    return undefined;
  }
}
