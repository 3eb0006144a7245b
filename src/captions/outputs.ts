// The speech engine of a class whose channel has `--captions auto`, as the class's output (speech.ts), with what
// the server gives it: the engine command from the config and where its lines and its state go (the hub).

import type { CaptionCue } from '../domain/captions.js';
import type { Logger } from '../log.js';
import type { PidFile } from '../media/pid-file.js';
import type { ClassOutput, LocalOutputs, OutputContext } from '../live/outputs.js';
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

export function speechOutputs(o: SpeechOutputsOptions): LocalOutputs {
  return {
    create(ctx: OutputContext): ClassOutput[] {
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

/** Several factories as one: the class's outputs in their order. */
export function allOutputs(...parts: LocalOutputs[]): LocalOutputs {
  return { create: (ctx) => parts.flatMap((p) => p.create(ctx)) };
}
