// A class's speech engine as one of its outputs (channels with `--captions auto`): started and stopped with the
// ladder. An ffmpeg decodes the class's audio to 16 kHz mono PCM; the engine (engine.ts) hears it in real time and
// answers with phrases, which become caption lines timed by when their audio arrived. Neither process can stop the
// class: a full pipe drops audio, a dead engine is restarted (1 s, then up to 10 s apart) and the studio is told.

import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { cueDurationMs, type CaptionCue } from '../domain/captions.js';
import type { Logger } from '../log.js';
import { BoundedFlvPipe } from '../media/flv-pipe.js';
import { FfmpegProcess, type ExitInfo } from '../media/ffmpeg-process.js';
import type { PidFile } from '../media/pid-file.js';
import type { MediaSink } from '../media/sink.js';
import { fifoSpawner } from './fifo.js';
import { PocketsphinxParser, SampleClock, parseEngineLine, phraseLines, type EngineCommand, type Phrase } from './engine.js';

export interface SpeechOutputOptions {
  ffmpegPath: string;
  engine: EngineCommand;
  /** The container the class's media arrives in. */
  input: 'flv' | 'mkv';
  lang: string;
  feed(sink: MediaSink): () => void;
  /** A recognised line, ready for the hub. */
  onCue(cue: Omit<CaptionCue, 'id'>): void;
  /** The engine started (again) or stopped; `message` says why, for the studio. */
  onStatus(running: boolean, message: string): void;
  log: Logger;
  pids?: PidFile;
}

/** Audio allowed to wait for a slow engine before it is dropped: 4 s. */
const MAX_QUEUED_BYTES = 4 * 32000;

export const decoderArgs = (input: 'flv' | 'mkv'): string[] => [
  '-hide_banner', '-loglevel', 'error', '-f', input === 'mkv' ? 'matroska' : 'flv', '-i', 'pipe:0',
  '-vn', '-sn', '-ac', '1', '-ar', '16000', '-f', 's16le', 'pipe:1',
];

export class SpeechOutput {
  readonly kind = 'speech';
  private readonly decoder: FfmpegProcess;
  private readonly engine: FfmpegProcess;
  private detach?: () => void;
  private engineIn?: Writable;
  private readonly clock = new SampleClock();
  private running = false;
  readonly stats = { phrases: 0, droppedBytes: 0, engineRestarts: 0 };

  constructor(private readonly o: SpeechOutputOptions) {
    this.decoder = new FfmpegProcess({
      label: 'speech decoder', ffmpegPath: o.ffmpegPath, args: () => decoderArgs(o.input), stdin: true, stdout: true,
      restart: { kind: 'backoff', initialMs: 500, maxMs: 10000 },
      onSpawn: (child) => {
        this.detach = o.feed(new BoundedFlvPipe(child.stdin!, 2 * 1024 * 1024));
        child.stdout!.on('data', (pcm: Buffer) => this.hear(pcm));
      },
      onExit: () => {
        this.detach?.();
        this.detach = undefined;
      },
      log: o.log, pids: o.pids,
    });
    this.engine = new FfmpegProcess({
      label: 'speech engine', ffmpegPath: o.engine.cmd, args: () => o.engine.args, stdin: true, stdout: true,
      restart: { kind: 'backoff', initialMs: 1000, maxMs: 10000 },
      healthyAfterMs: 30000,
      ...(o.engine.audioPath ? { spawn: fifoSpawner } : {}),
      onSpawn: (child) => {
        this.engineIn = child.stdin!;
        this.engineIn.on('error', () => {}); // the engine went away: its exit says so
        this.clock.engineStarted();
        const parser = new PocketsphinxParser();
        createInterface({ input: child.stdout! }).on('line', (line) => {
          const phrase = o.engine.output === 'json' ? parseEngineLine(line) : parser.push(line);
          if (phrase) this.said(phrase);
        });
        this.status(true, 'captions from speech are on');
      },
      onExit: (info, next) => {
        this.engineIn = undefined;
        if (info.stopped) return;
        this.stats.engineRestarts += 1;
        const why = engineExit(info, o.engine.cmd);
        o.log.warn('speech engine stopped', { reason: why, restartInMs: next.restartInMs });
        this.status(false, `captions stopped: ${why}; restarting${next.restartInMs ? ` in ${Math.ceil(next.restartInMs / 1000)} s` : ''}`);
      },
      log: o.log, pids: o.pids,
    });
  }

  async start(): Promise<void> {
    this.clock.reset();
    await this.engine.start();
    await this.decoder.start();
  }

  async stop(): Promise<void> {
    this.detach?.();
    this.detach = undefined;
    await this.decoder.stop(2000);
    // Its last utterance ends with the audio: let the engine say it before it is stopped.
    this.engineIn?.end();
    await this.engine.stop(3000);
  }

  async close(): Promise<{ published?: boolean }> {
    return {};
  }

  private hear(pcm: Buffer): void {
    this.clock.decoded(pcm.length, Date.now());
    const into = this.engineIn;
    if (!into || into.writableLength > MAX_QUEUED_BYTES) {
      this.stats.droppedBytes += pcm.length;
      return;
    }
    into.write(pcm);
    this.clock.wrote(pcm.length);
  }

  private said(p: Phrase): void {
    this.stats.phrases += 1;
    for (const line of phraseLines(p)) {
      const start = Math.round(this.clock.at(line.start));
      const spoken = Math.round(this.clock.at(line.end)) - start;
      this.o.onCue({ start, end: start + Math.max(spoken, cueDurationMs(line.text)), text: line.text, lang: this.o.lang, by: 'speech' });
    }
  }

  private status(running: boolean, message: string): void {
    if (running === this.running && running) return;
    this.running = running;
    this.o.onStatus(running, message);
  }
}

function engineExit(info: ExitInfo, cmd: string): string {
  if (/ENOENT/.test(info.reason)) {
    return cmd === 'pocketsphinx_continuous'
      ? 'the speech engine pocketsphinx_continuous is not installed (Debian: apt install pocketsphinx pocketsphinx-en-us)'
      : `the speech engine ${cmd} cannot be run (not found: check captions.engineCommand)`;
  }
  if (info.signal) return `the speech engine was killed (${info.signal})`;
  return `the speech engine exited with code ${info.code}`;
}
