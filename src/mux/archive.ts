// Archives recorded classes to Mux: remux the recording to MP4 (no re-encode), create a direct upload, send it in
// resumable chunks (Content-Range; the offset is asked again after a restart), then record the asset and playback
// ids when Mux reports the asset ready (by polling or webhook). Job state lives in SQLite, so nothing is lost.

import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { MuxRepository } from '../store/ports.js';
import type { ArchiveJob } from '../domain/records.js';
import type { MuxApi, MuxEvent, MuxTextTrack } from './client.js';
import { recordedLanguages } from '../captions/recording.js';
import { languageName } from '../domain/captions.js';
import { MASTER_PLAYLIST, vodDir } from '../domain/media-layout.js';
import { FfmpegProcess } from '../media/ffmpeg-process.js';
import type { PidFile } from '../media/pid-file.js';

export interface ArchiverOptions {
  mediaDir: string;
  ffmpegPath: string;
  chunkBytes: number;
  deleteLocal: boolean;
  log: Logger;
  maxAttempts?: number;
  pollMs?: number;
  /** How many times to ask Mux about the asset before leaving it to the webhook. */
  maxPolls?: number;
  /** Where the remux's ffmpeg pid is kept while it runs. */
  pids?: PidFile;
  /**
   * When another process holds a job's lease, look again when the lease ends instead of leaving the job (the
   * server: a process that crashed mid-upload holds its lease for up to a minute, and its restart must resume).
   */
  waitForLease?: boolean;
  /** Where Mux can fetch a recording's transcript of one language (the box's public URL); absent: none sent. */
  captionUrl?(sessionId: string, lang: string): string | undefined;
}

export type Progress = (job: ArchiveJob) => void;

type Repo = Pick<MuxRepository, 'createJob' | 'job' | 'jobByUpload' | 'jobByAsset' | 'unfinishedJobs' | 'updateJob' | 'lease' | 'setSessionAsset' | 'channelByLiveStream' | 'overflowSessionOf' | 'firstSeen' | 'setStreamStatus'>;

/** The top variant and audio playlists of a recording, read from its master playlist. */
export async function recordingInputs(dir: string): Promise<{ video: string; audio?: string }> {
  const master = await readFile(join(dir, MASTER_PLAYLIST), 'utf8');
  const video = master.split('\n').map((l) => l.trim()).find((l) => l && !l.startsWith('#'));
  if (!video) throw new Error('the recording has no variant playlist');
  const audio = /TYPE=AUDIO[^\n]*URI="([^"]+)"/.exec(master)?.[1];
  return { video: join(dir, video), audio: audio ? join(dir, audio) : undefined };
}

/** ffmpeg arguments to remux a recording into one MP4 without re-encoding (golden-tested). */
export function remuxArgs(inputs: { video: string; audio?: string }, out: string): string[] {
  return [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-i', inputs.video, ...(inputs.audio ? ['-i', inputs.audio] : []),
    '-map', '0:v:0', ...(inputs.audio ? ['-map', '1:a:0'] : ['-map', '0:a:0?']),
    '-c', 'copy', // no re-encode: Mux makes its own renditions
    '-bsf:a', 'aac_adtstoasc', // ADTS (TS) to MP4's AAC framing
    '-movflags', '+faststart',
    out,
  ];
}

export class Archiver {
  private readonly running = new Map<string, Promise<ArchiveJob>>();
  private stopped = false;
  /** Aborted by stop(): cuts an in-flight chunk, remux, API call or backoff short. */
  private readonly abort = new AbortController();

  constructor(private readonly o: ArchiverOptions, private readonly api: MuxApi, private readonly repo: Repo) {}

  /**
   * Resumes jobs left unfinished by a previous run. On a shared store the list holds every box's jobs: only those
   * whose recording is on this box's disk are resumed here (the others wait for their own box).
   */
  async start(): Promise<void> {
    for (const j of await this.repo.unfinishedJobs()) {
      if (!existsSync(vodDir(this.o.mediaDir, j.sessionId))) continue;
      void this.run(j.sessionId).catch(() => {});
    }
  }

  /**
   * Stops every running job and waits until each has recorded where it stands and released its lease, so the
   * store can be closed after this and the next start resumes at once. A stop is not counted as a failed attempt.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await Promise.allSettled([...this.running.values()]);
  }

  async enqueue(sessionId: string): Promise<ArchiveJob> {
    await this.repo.createJob(sessionId);
    return this.run(sessionId);
  }

  run(sessionId: string, progress?: Progress): Promise<ArchiveJob> {
    let p = this.running.get(sessionId);
    if (!p) {
      p = this.runWithRetries(sessionId, progress).finally(() => this.running.delete(sessionId));
      this.running.set(sessionId, p);
    }
    return p;
  }

  private async runWithRetries(sessionId: string, progress?: Progress): Promise<ArchiveJob> {
    const max = this.o.maxAttempts ?? 5;
    for (;;) {
      if (this.stopped) return (await this.repo.job(sessionId))!;
      if (!(await this.repo.lease(sessionId, 60000))) {
        const held = (await this.repo.job(sessionId))!; // another process has it (or had it, and crashed)
        if (!this.o.waitForLease || held.status === 'ready' || held.status === 'errored') return held;
        await this.sleep(Math.min(Math.max(held.leaseUntil - Date.now(), 0), 60000) + 500).catch(() => {});
        continue;
      }
      try {
        return await this.step(sessionId, progress);
      } catch (err) {
        if (this.stopped) {
          await this.repo.updateJob(sessionId, { leaseUntil: 0 });
          return (await this.repo.job(sessionId))!;
        }
        const job = (await this.repo.job(sessionId))!;
        const attempts = job.attempts + 1;
        const message = err instanceof Error ? err.message : String(err);
        await this.repo.updateJob(sessionId, { attempts, error: message.slice(0, 300), leaseUntil: 0, ...(attempts >= max ? { status: 'errored' } : {}) });
        this.o.log.warn('archive attempt failed', { session: sessionId, attempts, err: message });
        if (attempts >= max) return (await this.repo.job(sessionId))!;
        await this.sleep(Math.min(1000 * 2 ** (attempts - 1), 30000)).catch(() => {});
      }
    }
  }

  private async step(sessionId: string, progress?: Progress): Promise<ArchiveJob> {
    let job = (await this.repo.job(sessionId))!;
    const dir = vodDir(this.o.mediaDir, sessionId);
    if (!job.file || !existsSync(job.file)) {
      await this.repo.updateJob(sessionId, { status: 'remuxing' });
      const out = join(dir, 'archive.mp4');
      await runFfmpeg(this.o.ffmpegPath, remuxArgs(await recordingInputs(dir), out), this.abort.signal, this.o.log, this.o.pids);
      const size = (await stat(out)).size;
      await this.repo.updateJob(sessionId, { file: out, size, sha256: await sha256(out), bytesSent: 0 });
      job = (await this.repo.job(sessionId))!;
    }
    if (job.status === 'remuxing' || job.status === 'pending' || job.status === 'uploading') {
      if (!job.uploadUrl) {
        const up = await this.untilStopped(this.api.createUpload(await this.textTracks(sessionId)));
        await this.repo.updateJob(sessionId, { uploadId: up.id, uploadUrl: up.url, bytesSent: 0 });
      }
      await this.repo.updateJob(sessionId, { status: 'uploading' });
      await this.upload(sessionId, progress);
      await this.repo.updateJob(sessionId, { status: 'processing' });
      job = (await this.repo.job(sessionId))!;
      progress?.(job);
    }
    return this.awaitAsset(sessionId, progress);
  }

  /** The recording's transcripts, as subtitle tracks Mux fetches from this box when it makes the asset. */
  private async textTracks(sessionId: string): Promise<MuxTextTrack[]> {
    if (!this.o.captionUrl) return [];
    const langs = await recordedLanguages(vodDir(this.o.mediaDir, sessionId));
    return langs.flatMap((lang) => {
      const url = this.o.captionUrl!(sessionId, lang);
      return url ? [{ url, languageCode: lang, name: languageName(lang) }] : [];
    });
  }

  /** Sends the file in chunks from wherever the upload server says it stands. */
  private async upload(sessionId: string, progress?: Progress): Promise<void> {
    const job = (await this.repo.job(sessionId))!;
    const size = job.size!;
    let offset = await this.serverOffset(job.uploadUrl!, size);
    const fh = await open(job.file!, 'r');
    try {
      while (offset < size) {
        if (this.stopped) throw new Error('stopped');
        const len = Math.min(this.o.chunkBytes, size - offset);
        const buf = Buffer.alloc(len);
        await fh.read(buf, 0, len, offset);
        const r = await fetch(job.uploadUrl!, {
          method: 'PUT', body: buf, signal: this.abort.signal,
          headers: { 'Content-Type': 'video/mp4', 'Content-Range': `bytes ${offset}-${offset + len - 1}/${size}` },
        });
        if (r.status !== 308 && !r.ok) throw new Error(`upload chunk refused: HTTP ${r.status}`);
        offset = r.status === 308 ? rangeEnd(r.headers.get('range')) ?? offset + len : size;
        await this.repo.updateJob(sessionId, { bytesSent: offset });
        progress?.((await this.repo.job(sessionId))!);
      }
    } finally {
      await fh.close();
    }
  }

  private async serverOffset(url: string, size: number): Promise<number> {
    const r = await fetch(url, { method: 'PUT', headers: { 'Content-Range': `bytes */${size}` }, signal: this.abort.signal });
    if (r.ok) return size; // already complete
    if (r.status === 308) return rangeEnd(r.headers.get('range')) ?? 0;
    throw new Error(`upload status query refused: HTTP ${r.status}`);
  }

  private async awaitAsset(sessionId: string, progress?: Progress): Promise<ArchiveJob> {
    const poll = this.o.pollMs ?? 1000;
    for (let i = 0; i < (this.o.maxPolls ?? 120) && !this.stopped; i++) {
      let job = (await this.repo.job(sessionId))!;
      if (job.status === 'ready' || job.status === 'errored') return job;
      if (!job.assetId && job.uploadId) {
        const up = await this.untilStopped(this.api.upload(job.uploadId));
        if (up.assetId) await this.repo.updateJob(sessionId, { assetId: up.assetId });
      }
      job = (await this.repo.job(sessionId))!;
      if (job.assetId) {
        const asset = await this.untilStopped(this.api.asset(job.assetId));
        if (asset.status === 'ready') {
          await this.markReady(sessionId, asset.id, asset.playbackId);
          const done = (await this.repo.job(sessionId))!;
          progress?.(done);
          return done;
        }
        if (asset.status === 'errored') {
          await this.repo.updateJob(sessionId, { status: 'errored', error: 'Mux could not process the asset' });
          return (await this.repo.job(sessionId))!;
        }
      }
      await this.repo.updateJob(sessionId, { leaseUntil: Date.now() + 60000 });
      await this.sleep(poll).catch(() => {});
    }
    await this.repo.updateJob(sessionId, { leaseUntil: 0 }); // a webhook (or the next start) finishes it
    return (await this.repo.job(sessionId))!;
  }

  /** The SDK call, or a rejection as soon as the archiver stops (the call's result is then not needed). */
  private untilStopped<T>(p: Promise<T>): Promise<T> {
    const signal = this.abort.signal;
    if (signal.aborted) return Promise.reject(new Error('stopped'));
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(new Error('stopped'));
      signal.addEventListener('abort', onAbort, { once: true });
      p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** Waits ms (the timer keeps a CLI process alive meanwhile); stop() cancels the timer and rejects. */
  private sleep(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    return this.untilStopped(new Promise<void>((r) => { timer = setTimeout(r, ms); })).finally(() => clearTimeout(timer));
  }

  private async markReady(sessionId: string, assetId: string, playbackId: string | null): Promise<void> {
    const before = await this.repo.job(sessionId);
    if (before?.status === 'ready') return;
    await this.repo.updateJob(sessionId, { status: 'ready', assetId, playbackId, error: null, leaseUntil: 0 });
    await this.repo.setSessionAsset(sessionId, assetId, playbackId);
    this.o.log.info('archive ready on Mux', { session: sessionId, asset: assetId });
    if (this.o.deleteLocal) await rm(vodDir(this.o.mediaDir, sessionId), { recursive: true, force: true });
  }

  /** Applies a verified webhook event once; returns false for an event already handled. */
  async onEvent(e: MuxEvent): Promise<boolean> {
    if (!(await this.repo.firstSeen(e.id, e.type))) return false;
    const d = e.data;
    const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
    switch (e.type) {
      case 'video.upload.asset_created': {
        const job = await this.repo.jobByUpload(str(d.id) ?? '');
        if (job && str(d.asset_id)) await this.repo.updateJob(job.sessionId, { assetId: str(d.asset_id)!, status: job.status === 'ready' ? 'ready' : 'processing' });
        break;
      }
      case 'video.asset.ready': {
        const assetId = str(d.id) ?? '';
        const playbackId = Array.isArray(d.playback_ids) ? str((d.playback_ids[0] as { id?: unknown } | undefined)?.id) ?? null : null;
        const job = (await this.repo.jobByAsset(assetId)) ?? (await this.repo.jobByUpload(str(d.upload_id) ?? ''));
        if (job) await this.markReady(job.sessionId, assetId, playbackId);
        const live = str(d.live_stream_id);
        if (live) {
          const slug = await this.repo.channelByLiveStream(live);
          const session = slug ? (await this.repo.overflowSessionOf(slug)) : undefined;
          if (session) await this.repo.setSessionAsset(session, assetId, playbackId);
        }
        break;
      }
      case 'video.asset.errored': {
        const job = await this.repo.jobByAsset(str(d.id) ?? '');
        if (job) await this.repo.updateJob(job.sessionId, { status: 'errored', error: 'Mux could not process the asset' });
        break;
      }
      case 'video.live_stream.active':
      case 'video.live_stream.idle':
      case 'video.live_stream.disconnected':
      {
        const status = e.type.split('.').pop()!;
        const applied = await this.repo.setStreamStatus(str(d.id) ?? '', status, e.createdAt ?? new Date().toISOString());
        this.o.log[status === 'disconnected' ? 'warn' : 'info']('Mux live stream status', { liveStream: str(d.id), status, applied });
        break;
      }
      default:
        break;
    }
    return true;
  }
}

function rangeEnd(header: string | null): number | undefined {
  const m = /bytes=0-(\d+)/.exec(header ?? '');
  return m ? Number(m[1]) + 1 : undefined;
}

async function runFfmpeg(path: string, args: string[], signal: AbortSignal, log: Logger, pids?: PidFile): Promise<void> {
  const proc = new FfmpegProcess({ label: 'remux', ffmpegPath: path, args: () => args, restart: { kind: 'never' }, log, pids });
  // On abort the process is stopped; its exit still follows, so nothing is left writing when this settles.
  const abort = (): void => void proc.stop(2000);
  signal.addEventListener('abort', abort, { once: true });
  try {
    await proc.start();
    const exit = await proc.exit();
    if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('stopped');
    if (exit.code !== 0) throw new Error(`remux failed: ${exit.line ?? exit.reason}`);
  } finally {
    signal.removeEventListener('abort', abort);
  }
}

function sha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file).on('data', (c) => h.update(c)).on('error', reject).on('end', () => resolve(h.digest('hex')));
  });
}

