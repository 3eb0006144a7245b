// What the studio's health card shows for one channel: state, the publisher's bitrate (measured over a second or
// more between polls), the ladder's speed, restarts and notes, viewers, and where OBS pushes.

import type { SourceMeta } from './ports.js';
import type { RunView } from './class-run.js';
import type { ChannelHealth } from '../domain/reports.js';

export interface HealthSources {
  view(slug: string): RunView | undefined;
  publisherMeta(slug: string): SourceMeta | undefined;
  viewers(slug: string): number;
  obsServer: string;
  disk(): { low: boolean; message: string | null };
}

export class HealthReporter {
  private readonly rates = new Map<string, { at: number; bytes: number; kbps: number }>();

  constructor(private readonly s: HealthSources) {}

  health(slug: string, now = Date.now()): ChannelHealth {
    const view = this.s.view(slug);
    const meta = view ? this.s.publisherMeta(slug) : undefined;
    const t = view?.transcoder;
    return {
      state: view?.state ?? 'offline', sessionId: view?.sessionId ?? null, since: view?.since ?? null,
      ingest: meta ? { kbps: Math.round(this.kbps(slug, meta.inBytes, now)), fps: meta.fps, width: meta.width, height: meta.height } : null,
      ladder: view?.ladder ?? [], speed: t?.speed ?? null, slow: view?.slow ?? false,
      restarts: t?.restarts ?? 0, crashLoop: t?.crashLoop ?? false, lastError: t?.crashLoop ? t.lastError ?? null : null,
      reconnects: view?.reconnects ?? 0, notes: view?.notes ?? [],
      // The same count the panel shows ("N watching"), live or not: a waiting room has viewers too.
      viewers: this.s.viewers(slug), obsServer: this.s.obsServer, disk: this.s.disk(),
    };
  }

  /** Kilobits per second since the last reading at least a second old (polls come faster than that). */
  private kbps(slug: string, bytes: number, now: number): number {
    const prev = this.rates.get(slug);
    const kbps = prev && now > prev.at ? ((bytes - prev.bytes) * 8) / (now - prev.at) : 0;
    if (!prev || now - prev.at > 1000) this.rates.set(slug, { at: now, bytes, kbps: kbps || prev?.kbps || 0 });
    return this.rates.get(slug)?.kbps ?? kbps;
  }
}
