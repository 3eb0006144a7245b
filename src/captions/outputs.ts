// The speech engine of a class whose channel has `--captions auto`, as the class's output (speech.ts), with what
// the server gives it: the engine command from the config and where its lines and its state go (the hub).

import type { CaptionCue } from '../domain/captions.js';
import type { Logger } from '../log.js';
import type { PidFile } from '../media/pid-file.js';
import type { Channel } from '../domain/channel.js';
import type { MediaSink } from '../media/sink.js';
import type { EngineCommand } from './engine.js';
import { SpeechOutput } from './speech.js';

export interface SpeechOutputsOptions {
  ffmpegPath: string;
  engine: EngineCommand;
  log: Logger;
  pids?: PidFile;
  onCue(slug: string, sessionId: string, cue: Omit<CaptionCue, 'id'>): void;
  onStatus(slug: string, running: boolean, message: string): void;
}

/** The class as this factory sees it (live/outputs.ts OutputContext, without importing the layer above). */
interface Ctx {
  channel: Channel;
  sessionId: string;
  plan: { input?: 'mkv' };
  feed(sink: MediaSink): () => void;
}

export function speechOutputs(o: SpeechOutputsOptions): { create(ctx: Ctx): SpeechOutput[] } {
  return {
    create(ctx: Ctx): SpeechOutput[] {
      const { channel, sessionId } = ctx;
      if (channel.captions !== 'auto') return [];
      return [new SpeechOutput({
        ffmpegPath: o.ffmpegPath, engine: o.engine, input: ctx.plan.input === 'mkv' ? 'mkv' : 'flv', lang: channel.captionLanguages[0] ?? 'en',
        feed: ctx.feed, log: o.log, pids: o.pids,
        onCue: (cue) => o.onCue(channel.slug, sessionId, cue),
        onStatus: (running, message) => o.onStatus(channel.slug, running, message),
      })];
    },
  };
}
