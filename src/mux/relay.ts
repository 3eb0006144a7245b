// Relays a class unchanged (no re-encode) to Mux's ingest with one ffmpeg `-c copy` process, fed through the same
// bounded pipe as the ladder. Retries with backoff; after repeated quick failures it gives up and says why, so the
// live manager can fall back to a local ladder. The target URL holds Mux's stream key: it is never logged.

import type { Logger } from '../log.js';
import { BoundedFlvPipe } from '../media/flv-pipe.js';
import { FfmpegProcess, type Clock, type ExitInfo, type Spawner } from '../media/ffmpeg-process.js';
import type { PidFile } from '../media/pid-file.js';
import type { MediaSink } from '../media/sink.js';
import { IngestLink, parseIngestTarget, type LinkStats } from './ingest-link.js';

/** Bytes the relay's feed may hold before it drops media (the held start of a class is a few MB). */
export const RELAY_BUFFER_BYTES = 32 * 1024 * 1024;

/** What the relay is fed: RTMP's FLV (forwarded as it is), or a WebRTC publisher's Matroska. */
export interface RelaySource {
  container: 'flv' | 'mkv';
  videoCodec: string;
}

/** Flags that make a WebRTC source fit RTMP: VP8 encoded once to H.264 (H.264 kept), Opus to AAC. */
function toRtmp(s: RelaySource): string[] {
  const video = s.videoCodec === 'h264' ? ['-c:v', 'copy']
    : ['-vf', 'fps=30', '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
      '-b:v', '2500k', '-maxrate', '2500k', '-bufsize', '5000k', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0'];
  return ['-map', '0:v:0', '-map', '0:a:0?', ...video, '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2'];
}

/** The relay's ffmpeg arguments (golden-tested). */
export function relayArgs(target: string, tcUrl?: string, source?: RelaySource): string[] {
  const mkv = source?.container === 'mkv';
  return [
    '-hide_banner', '-loglevel', 'warning', '-nostats',
    '-fflags', '+genpts', // tolerate FLV packets without pts after a publisher reconnect
    '-f', mkv ? 'matroska' : 'flv', '-i', 'pipe:0', // the same bounded feed as the ladder
    // RTMP's FLV unchanged (Mux transcodes, this box only forwards); a browser's VP8 and Opus cannot go over RTMP.
    ...(mkv ? toRtmp(source) : ['-map', '0', '-c', 'copy']),
    // Through the ingest link the socket is ours, the tcUrl stays the one the real ingest expects.
    ...(tcUrl ? ['-rtmp_tcurl', tcUrl] : []),
    '-f', 'flv', target,
  ];
}

export interface RelayOptions {
  ffmpegPath: string;
  target: string;
  /** Absent: FLV from RTMP. */
  source?: RelaySource;
  feed(sink: MediaSink): () => void;
  log: Logger;
  maxQuickFailures?: number;
  backoffMs?: number;
  onGiveUp(reason: string): void;
  spawn?: Spawner;
  clock?: Clock;
  pids?: PidFile;
}

export type RelayState = 'running' | 'retrying' | 'stopped' | 'gave-up';

export class Relay {
  private readonly proc: FfmpegProcess;
  private detach?: () => void;
  /** Carries ffmpeg's RTMP to the ingest so the end of the class arrives whole (see ingest-link.ts). */
  private readonly link?: IngestLink;
  private readonly tcUrl?: string;

  constructor(private readonly o: RelayOptions) {
    const target = parseIngestTarget(o.target);
    if (target) {
      this.link = new IngestLink(target);
      this.tcUrl = target.tcUrl;
    }
    this.proc = new FfmpegProcess({
      label: 'relay to Mux',
      ffmpegPath: o.ffmpegPath,
      args: () => (this.link ? relayArgs(this.link.localUrl, this.tcUrl, o.source) : relayArgs(o.target, undefined, o.source)),
      stdin: true,
      // Never echo ffmpeg's lines: they may contain the target URL, i.e. Mux's stream key.
      secretArgs: true,
      restart: { kind: 'backoff', initialMs: o.backoffMs ?? 500, maxMs: 10000, giveUpAfter: o.maxQuickFailures ?? 4, quickMs: 10000 },
      onSpawn: (child) => {
        // The whole class goes to Mux (it keeps the archive): the pipe holds up to 32 MB (the held start of the
        // class plus the seconds ffmpeg spends connecting to Mux's ingest) before it drops anything.
        const pipe = new BoundedFlvPipe(child.stdin!, RELAY_BUFFER_BYTES);
        this.pipes.push(pipe);
        this.detach = o.feed(pipe);
        o.log.info('relaying to Mux', { pid: child.pid });
      },
      onExit: (info, next) => {
        this.detach?.();
        this.detach = undefined;
        if (next.gaveUp) o.onGiveUp(relayReason(info));
      },
      log: o.log,
      spawn: o.spawn,
      clock: o.clock,
      pids: o.pids,
    });
  }

  get state(): RelayState {
    const s = this.proc.status().state;
    return s === 'running' ? 'running' : s === 'restarting' ? 'retrying' : s === 'gave-up' ? 'gave-up' : 'stopped';
  }

  get lastError(): string | undefined {
    return this.proc.status().lastError;
  }

  get restarts(): number {
    return this.proc.status().restarts;
  }

  async start(): Promise<void> {
    if (this.link) await this.link.start();
    await this.proc.start();
  }

  async stop(): Promise<void> {
    this.detach?.();
    this.detach = undefined;
    // A loaded box can leave the relay seconds behind: let it send everything it holds before it is killed.
    await this.proc.stop(15000);
    // ffmpeg is done: the link hands the ingest its last bytes and waits for the ingest to close.
    await this.link?.close();
    // Where the class's bytes went: what the relay's ffmpeg was given, what a full pipe had to drop, what left.
    const s = this.stats;
    (s.droppedBytes ? this.o.log.warn : this.o.log.info).call(this.o.log, 'relay to Mux stopped', { ...s, runs: this.pipes.length });
  }

  /** The pipes of every ffmpeg run so far (their byte counts). */
  private readonly pipes: BoundedFlvPipe[] = [];

  /** What every ffmpeg run of this relay was fed, and what full pipes dropped. */
  get stats(): { fedBytes: number; droppedBytes: number; droppedTags: number } & Partial<LinkStats> {
    const sum = (f: (p: BoundedFlvPipe) => number): number => this.pipes.reduce((n, p) => n + f(p), 0);
    return {
      fedBytes: sum((p) => p.stats.writtenBytes), droppedBytes: sum((p) => p.stats.droppedBytes), droppedTags: sum((p) => p.stats.droppedTags),
      ...this.link?.stats,
    };
  }
}

/** Why the relay failed, in words that never include the target. */
function relayReason(info: ExitInfo): string {
  return info.reason.startsWith('ffmpeg exited') ? 'Mux ingest refused or unreachable' : info.reason;
}
