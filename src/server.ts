// Composition root: builds every component from the Config in dependency order, starts them, and stops them
// in reverse. Holds no state of its own beyond the component handles.

import { availableParallelism } from 'node:os';
import { mkdirSync } from 'node:fs';
import type { Config } from './config/schema.js';
import { createLogger, type Logger } from './log.js';
import { openStore, type Store } from './store/index.js';
import { RtmpIngest } from './ingest/rtmp.js';
import { LiveManager } from './live/manager.js';
import { defaultBudget } from './live/admission.js';
import { Transcoder } from './transcode/supervisor.js';
import { locateTool } from './transcode/locate.js';
import { probeFile } from './transcode/probe.js';
import { Origin } from './hls/origin.js';
import { HttpServer } from './http/app.js';
import { routes } from './http/routes.js';

export interface ServerOptions {
  log?: Logger;
  /** x264 preset for the ladder (tests use a faster one). */
  preset?: string;
}

export interface RunningServer {
  config: Config;
  store: Store;
  live: LiveManager;
  ingest: RtmpIngest;
  http: HttpServer;
  origin: Origin;
  httpPort: number;
  rtmpPort: number;
  stop(): Promise<void>;
}

export async function startServer(config: Config, opts: ServerOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? createLogger(config['log.level']);
  const ffmpeg = locateTool('ffmpeg', { configured: config['transcode.ffmpegPath'] });
  const ffprobe = locateTool('ffprobe', { configured: config['transcode.ffprobePath'] });
  if ('error' in ffmpeg) throw new Error(ffmpeg.error);
  if ('error' in ffprobe) throw new Error(ffprobe.error);
  log.info('ffmpeg found', { ffmpeg: ffmpeg.path, source: ffmpeg.source, ffprobe: ffprobe.path });

  mkdirSync(config['paths.media'], { recursive: true });
  const store = openStore(config['paths.db'], { busyTimeoutMs: config['store.busyTimeoutMs'] });
  const stale = store.sessions.endAllOpen('server restarted');
  if (stale) log.warn('closed sessions left open by a previous run', { count: stale });

  const budget = defaultBudget(config['transcode.budgetPixelsPerSecond']);
  let ingest!: RtmpIngest;
  const live = new LiveManager(
    { mediaDir: config['paths.media'], graceMs: config['ingest.reconnectGraceSeconds'] * 1000, budget },
    {
      channelForKey: (key) => store.streamKeys.channelForKey(key),
      channelById: (id) => store.channels.byId(id),
      sessions: store.sessions,
      ingest: { meta: (id) => ingest.meta(id), subscribe: (id, sink) => ingest.subscribe(id, sink), kick: (id) => ingest.kick(id) },
      createTranscoder: (req) => new Transcoder({
        ffmpegPath: ffmpeg.path, plan: req.plan, outDir: req.outDir, record: req.record, segmentPrefix: req.segmentPrefix,
        preset: opts.preset ?? 'veryfast', liveWindow: 6, maxBufferedBytes: 8 * 1024 * 1024, feed: req.feed, log,
        onSlowChange: req.onSlowChange,
      }),
      probe: (path) => probeFile(path, ffprobe.path),
      log,
    },
  );
  ingest = new RtmpIngest({
    host: config.bindAddress,
    port: config['rtmp.port'],
    tls: config['rtmp.tlsCert'] && config['rtmp.tlsKey']
      ? { port: config['rtmp.tlsPort'], cert: config['rtmp.tlsCert'], key: config['rtmp.tlsKey'] } : undefined,
    graceMs: config['ingest.reconnectGraceSeconds'] * 1000,
    maxFailuresPerMinute: config['ingest.maxFailuresPerMinute'],
    log,
  }, {
    admit: (a) => live.admit(a),
    disconnected: (id) => live.disconnected(id),
    ended: (id) => live.ended(id),
  });

  const origin = new Origin({ mediaDir: config['paths.media'], cacheBytes: 64 * 1024 * 1024, liveWindow: 6 });
  const status = () => ({ ...live.snapshot(), cores: availableParallelism() });
  const http = new HttpServer({ host: config.bindAddress, port: config['http.port'], log }, routes({
    origin,
    verifyToken: (t) => store.apiTokens.verify(t),
    status,
    sessions: store.sessions,
    metrics: () => metricsText(live, origin, ingest),
  }));

  try {
    await http.start();
    await ingest.start();
  } catch (err) {
    http.stop();
    await ingest.stop();
    store.close();
    throw err;
  }
  log.info('serving', { http: `${config.bindAddress}:${http.boundPort}`, rtmp: `${config.bindAddress}:${ingest.port}`, budget });

  let stopping: Promise<void> | undefined;
  return {
    config, store, live, ingest, http, origin, httpPort: http.boundPort, rtmpPort: ingest.port,
    stop: () => (stopping ??= (async () => {
      log.info('stopping: no new publishes; closing live classes');
      await live.shutdown();
      await ingest.stop();
      http.stop();
      store.close();
      log.info('stopped');
    })()),
  };
}

function metricsText(live: LiveManager, origin: Origin, ingest: RtmpIngest): string {
  const snap = live.snapshot();
  const lines = [
    `kmk_transcode_budget_pixels_per_second ${snap.budget}`,
    `kmk_transcode_used_pixels_per_second ${snap.used}`,
    `kmk_live_channels ${snap.channels.length}`,
    `kmk_origin_requests_total ${origin.counters.requests}`,
    `kmk_origin_cache_hits_total ${origin.counters.cacheHits}`,
    `kmk_origin_not_found_total ${origin.counters.notFound}`,
    `kmk_origin_bytes_out_total ${origin.counters.bytesOut}`,
    `kmk_ingest_rejected_publishes_total ${ingest.counters.rejectedPublishes}`,
    `kmk_ingest_refused_connections_total ${ingest.counters.refusedConnections}`,
    `kmk_ingest_refused_plays_total ${ingest.counters.refusedPlays}`,
  ];
  for (const c of snap.channels) {
    const t = c.transcoder;
    if (!t) continue;
    lines.push(`kmk_transcoder_restarts_total{channel="${c.channel}"} ${t.restarts}`);
    lines.push(`kmk_pipe_dropped_bytes_total{channel="${c.channel}"} ${t.pipe.droppedBytes}`);
  }
  return lines.join('\n') + '\n';
}
