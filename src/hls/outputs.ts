// The outputs of a class that runs on this box, in start order: for an `ultra` class the LL-HLS packager (fMP4
// parts in memory, kept across ffmpeg runs and publisher reconnects), the ladder, and the master playlist. The
// class run starts, stops and closes them; this factory only assembles them from the options the server gives.

import type { Logger } from '../log.js';
import type { PidFile } from '../media/pid-file.js';
import type { MediaSink } from '../media/sink.js';
import { isDiskFailure } from '../media/failures.js';
import type { Channel } from '../domain/channel.js';
import { LadderOutput } from '../transcode/ladder-output.js';
import { withStageAudio, withStagePicture, type LadderPlan } from '../transcode/ladder.js';
import type { PictureSource } from '../media/stage-picture.js';
import type { MixSource } from '../transcode/stage-audio.js';
import { probeFile } from '../transcode/probe.js';
import { Transcoder } from '../transcode/supervisor.js';
import { llOutputNames } from '../transcode/ll-args.js';
import { partTargetFor } from './ll/assembler.js';
import type { LlRegistry } from './ll/registry.js';
import { LlStream } from './ll/stream.js';
import { writeLlMaster } from './ll-master.js';
import { writeMasterWhenReady } from './master-writer.js';
import { MasterOutput } from './master-output.js';
import { CaptionsOutput, captionsFolder } from '../captions/output.js';
import { fileTimeline, llTimeline } from '../captions/sources.js';
import { join } from 'node:path';
import { languageName, type CaptionCue } from '../domain/captions.js';

export interface HlsOutputOptions {
  ffmpegPath: string;
  ffprobePath: string;
  /** x264 preset for the ladder. */
  preset: string;
  /** LL-HLS part length asked for (hls.partSeconds), rounded to whole frames. */
  partSeconds: number;
  /** Segments in a live playlist. */
  liveWindow: number;
  /** Where the origin finds a live `ultra` class's packager. */
  llStreams: LlRegistry;
  log: Logger;
  pids?: PidFile;
  /** The CPU one ladder process used (ms), counted against its session. */
  onEncodeCpu(sessionId: string, ms: number): void;
  /** A write to the media folder failed (a full disk). */
  onWriteFailed(what: string): void;
  /** A session's caption lines still on screen at or after `since` (epoch ms). */
  captionCues(sessionId: string, since: number): Promise<CaptionCue[]>;
  /** The class's stage voices, when this box has a stage (WebRTC on): mixed into the ladder's sound. */
  stageMix?(slug: string): MixSource | undefined;
  /** The class's stage picture, when this box composes it (stage.picture): laid over the ladder's video. */
  stagePicture?(slug: string): PictureSource | undefined;
}

/** The class as the outputs see it (live/outputs.ts OutputContext). */
interface Ctx {
  channel: Channel;
  sessionId: string;
  dir: string;
  plan: LadderPlan;
  record: boolean;
  feed(sink: MediaSink): () => void;
  onSlowChange(slow: boolean): void;
  inputFlowing(): boolean;
}

/** An `ultra` class's packager as an output: opened with the class, finished and retired when it closes. */
class LlPackagerOutput {
  readonly kind = 'll-packager';
  constructor(readonly stream: LlStream, private readonly retire: () => void) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async close(): Promise<{ published?: boolean }> {
    await this.stream.finish();
    this.retire();
    return {};
  }
}

export function hlsOutputs(o: HlsOutputOptions) {
  return {
    create(ctx: Ctx) {
      const { channel, sessionId, dir } = ctx;
      const mix = o.stageMix?.(channel.slug);
      const picture = mix ? o.stagePicture?.(channel.slug) : undefined;
      const voiced = mix ? withStageAudio(ctx.plan) : ctx.plan;
      const plan = picture ? withStagePicture(voiced) : voiced;
      ctx = { ...ctx, plan };
      const packager = channel.latency === 'ultra' ? llPackager(o, ctx) : undefined;
      const ladder = new LadderOutput(() => new Transcoder({
        ll: packager ? { partSeconds: packager.stream.partTarget, attach: (outputs) => packager.stream.attach(outputs), finish: async () => {} } : undefined,
        ffmpegPath: o.ffmpegPath, plan, outDir: dir, record: ctx.record, segmentPrefix: sessionId,
        preset: o.preset, liveWindow: o.liveWindow, maxBufferedBytes: 8 * 1024 * 1024, feed: ctx.feed, log: o.log, pids: o.pids,
        ...(mix ? { stage: mix } : {}),
        ...(picture && plan.stagePicture ? { picture } : {}),
        onSlowChange: ctx.onSlowChange, inputFlowing: ctx.inputFlowing,
        onProcessCpu: (ms) => o.onEncodeCpu(sessionId, ms),
        onFailure: ({ failure }) => {
          if (isDiskFailure(failure)) o.onWriteFailed(`ladder of ${sessionId}`);
        },
      }));
      const captions = captionsFor(o, ctx, packager?.stream);
      const subtitles = captions ? langsOf(ctx).map((l) => ({ uri: `${captionsFolder(l)}/index.m3u8`, language: l, name: languageName(l) })) : [];
      const master = new MasterOutput(
        (over) => packager ? writeLlMaster(dir, plan, packager.stream, subtitles) : writeMasterWhenReady(dir, plan, { probe: (path) => probeFile(path, o.ffprobePath), over, subtitles }),
        () => o.log.info('class is live', { channel: channel.slug, session: sessionId }),
        (err) => o.log.error('could not write the master playlist', { channel: channel.slug, err }),
      );
      return [...(packager ? [packager] : []), ladder, ...(captions ? [captions] : []), master];
    },
  };
}

const langsOf = (ctx: Ctx): string[] => ctx.channel.captionLanguages.length ? ctx.channel.captionLanguages : ['en'];

/** A captioned class's WebVTT rendition, following its lowest rung: from ffmpeg's playlist and MPEG-TS segments,
 * or (`ultra`) from the LL-HLS packager's segments, whole ones (not parts: a line is about a second or more of
 * speech, so parts of a third of a second would only multiply requests). */
function captionsFor(o: HlsOutputOptions, ctx: Ctx, ll: LlStream | undefined): CaptionsOutput | undefined {
  if (ctx.channel.captions === 'off') return undefined;
  const { plan, sessionId } = ctx;
  const rung = plan.rungs[plan.rungs.length - 1]?.name;
  if (!rung) return undefined;
  return new CaptionsOutput({
    dir: ctx.dir, sessionId, langs: langsOf(ctx), record: ctx.record,
    source: ll ? llTimeline(ll, rung) : fileTimeline(join(ctx.dir, rung)),
    // A line about a segment arrives seconds after it (the captioner watches, then types): two segments' time,
    // still ahead of where a player of this latency plays.
    holdMs: plan.segmentSeconds * 2000,
    cues: (since) => o.captionCues(sessionId, since), log: o.log, onWriteFailed: o.onWriteFailed,
  });
}

function llPackager(o: HlsOutputOptions, ctx: Ctx): LlPackagerOutput {
  const { channel, sessionId, dir, plan } = ctx;
  const stream = o.llStreams.open(channel.slug, sessionId, () => new LlStream({
    dir, prefix: sessionId, rungs: llOutputNames(plan),
    partSeconds: partTargetFor(o.partSeconds, plan.rungs[0]?.fps ?? 30), segmentSeconds: plan.segmentSeconds,
    record: ctx.record, window: o.liveWindow, log: o.log, onWriteError: () => o.onWriteFailed(`LL-HLS output of ${sessionId}`),
  }));
  // Players still polling get the playlist with EXT-X-ENDLIST for a while after the class.
  return new LlPackagerOutput(stream, () => o.llStreams.retire(channel.slug, stream, 30000));
}
