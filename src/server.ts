// Composition root: builds every component from the Config in dependency order, starts them, and stops them
// in reverse. Holds no state of its own beyond the component handles.

import { availableParallelism } from 'node:os';
import { mkdirSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from './config/schema.js';
import { obsServerUrl, publicBaseUrl } from './config/urls.js';
import { createHmac, randomBytes } from 'node:crypto';
import { signPlayback, type PlaybackScope } from './auth/playback-token.js';
import { PlaybackGate } from './hls/access.js';
import { ToolKeys } from './lti/keys.js';
import { LaunchVerifier } from './lti/verify.js';
import { LtiTool } from './lti/tool.js';
import { PlatformServices } from './lti/services.js';
import { Passback } from './lti/passback.js';
import { ltiRoutes } from './http/lti-routes.js';
import { reportRoutes } from './http/report-routes.js';
import { costCsv, courseAttendanceCsv, periodCost, reportCsv, sessionReport } from './reports/service.js';
import { checkPrices, forChannel } from './reports/cost.js';
import { pricesFrom } from './reports/prices.js';
import { TrafficCounter } from './reports/traffic.js';
import { authorize } from './http/routes.js';
import { classForNewSession, nextStart } from './classes/resolve.js';
import { recoverRecording } from './live/recover.js';
import type { RungName } from './domain/channel.js';
import { createLogger, type Logger } from './log.js';
import { openStore, type Store } from './store/index.js';
import { RtmpIngest } from './ingest/rtmp.js';
import { LiveManager, type LiveChannelView } from './live/manager.js';
import { defaultBudget } from './live/admission.js';
import { channelPlayback, sessionReplay, type PlaybackFacts } from './live/playback.js';
import { Transcoder } from './transcode/supervisor.js';
import { locateTool } from './transcode/locate.js';
import { probeFile } from './transcode/probe.js';
import { Origin } from './hls/origin.js';
import { HttpServer } from './http/app.js';
import { json, type HttpRequest } from './http/app.js';
import { routes } from './http/routes.js';
import { instructor, webRoutes } from './http/web-routes.js';
import { loadAssets } from './http/pages.js';
import { Hub } from './hub/hub.js';
import { bindHub } from './hub/socket.js';
import { mint } from './hub/mint.js';
import { loadJoinSecret } from './auth/join-secret.js';
import { UserError } from './domain/errors.js';
import { createMuxApi, muxPlaybackUrl, type MuxApi } from './mux/client.js';
import { Relay } from './mux/relay.js';
import { Archiver } from './mux/archive.js';
import { MASTER_PLAYLIST, vodDir } from './domain/media-layout.js';

export interface ServerOptions {
  log?: Logger;
  /** x264 preset for the ladder (tests use a faster one). */
  preset?: string;
  /** A MuxApi to use instead of one built from the config. */
  muxApi?: MuxApi;
}

export interface RunningServer {
  config: Config;
  store: Store;
  live: LiveManager;
  ingest: RtmpIngest;
  http: HttpServer;
  origin: Origin;
  hub: Hub;
  archiver?: Archiver;
  passback: Passback;
  httpPort: number;
  rtmpPort: number;
  /** What is live now, where it runs, the budget: for /api/status and `kmk-live status`. */
  status(): ServerStatus;
  stop(): Promise<void>;
}

export interface ServerStatus extends ReturnType<LiveManager['snapshot']> {
  cores: number;
  channels: (LiveChannelView & { muxStream?: { status: string; at: string } | null })[];
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

  const budget = defaultBudget(config['transcode.budgetPixelsPerSecond']);
  const muxApi: MuxApi | undefined = opts.muxApi ?? (config['mux.tokenId'] && config['mux.tokenSecret'] ? createMuxApi({
    tokenId: config['mux.tokenId'], tokenSecret: config['mux.tokenSecret'], webhookSecret: config['mux.webhookSecret'],
    baseUrl: config['mux.baseUrl'], playbackPolicy: config['mux.playbackPolicy'],
    signingKeyId: config['mux.signingKeyId'], signingKeyPrivate: config['mux.signingKeyPrivate'],
  }) : undefined);
  const signed = Boolean(muxApi && config['mux.playbackPolicy'] === 'signed');
  if (signed) {
    // Fail at start, not when the first learner needs a token.
    try {
      await muxApi!.signPlayback('startup-check', 60);
    } catch (err) {
      store.close();
      throw new UserError(`mux.signingKeyPrivate cannot sign playback tokens: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  log.info(muxApi ? 'Mux configured: overflow and archive on' : 'Mux not configured: overflow and archive off');
  const archiver = muxApi ? new Archiver({
    mediaDir: config['paths.media'], ffmpegPath: ffmpeg.path, chunkBytes: config['mux.uploadChunkBytes'],
    deleteLocal: config['mux.deleteLocalAfterArchive'], log,
  }, muxApi, store.mux) : undefined;
  let ingest!: RtmpIngest;
  const live = new LiveManager(
    { mediaDir: config['paths.media'], graceMs: config['ingest.reconnectGraceSeconds'] * 1000, budget, stallMs: config['ingest.stallSeconds'] * 1000 },
    {
      channelForKey: (key) => store.streamKeys.channelForKey(key),
      // A scheduled class decides whether its session is recorded.
      channelById: (id) => {
        const c = store.channels.byId(id);
        const k = classForNewSession(store.classes.list({ channelId: id }), Date.now());
        return k ? { ...c, record: k.record } : c;
      },
      sessions: store.sessions,
      ingest: { meta: (id) => ingest.meta(id), subscribe: (id, sink) => ingest.subscribe(id, sink), kick: (id) => ingest.kick(id) },
      createTranscoder: (req) => new Transcoder({
        ffmpegPath: ffmpeg.path, plan: req.plan, outDir: req.outDir, record: req.record, segmentPrefix: req.segmentPrefix,
        preset: opts.preset ?? 'veryfast', liveWindow: 6, maxBufferedBytes: 8 * 1024 * 1024, feed: req.feed, log,
        onSlowChange: req.onSlowChange,
        onProcessCpu: (ms) => {
          try {
            store.reports.addEncodeCpu(req.sessionId, ms);
          } catch (err) {
            log.warn('could not record encode CPU', { session: req.sessionId, err });
          }
        },
      }),
      probe: (path) => probeFile(path, ffprobe.path),
      overflow: muxApi ? {
        ensureStream: async (slug) => {
          const known = store.mux.channelStream(slug);
          const stream = known.liveStreamId ? await muxApi.liveStream(known.liveStreamId) : await muxApi.createLiveStream();
          if (!known.liveStreamId) store.mux.setChannelStream(slug, stream.id, stream.playbackId);
          if (!stream.streamKey) throw new Error('Mux returned no stream key');
          return { target: `${config['mux.ingestUrl'].replace(/\/$/, '')}/${stream.streamKey}`, playbackId: stream.playbackId ?? known.playbackId };
        },
        createRelay: (req) => new Relay({ ffmpegPath: ffmpeg.path, target: req.target, feed: req.feed, onGiveUp: req.onGiveUp, log }),
        markOverflow: (id) => store.mux.markOverflow(id),
      } : undefined,
      log,
    },
  );
  const playbackFacts: PlaybackFacts = {
    live: (slug) => live.playback(slug),
    recordingKept: (id) => access(join(vodDir(config['paths.media'], id), MASTER_PLAYLIST)).then(() => true, () => false),
    archivePlaybackId: (id) => store.mux.sessionMux(id)?.playbackId,
    muxUrl: async (pb) => muxPlaybackUrl(pb, signed ? await muxApi!.signPlayback(pb, config['mux.playbackTokenTtlSeconds']) : undefined),
  };
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

  const secret = loadJoinSecret(config['hub.joinSecret'], config['paths.data']);
  store.engagement.closeOpenAttendance(Date.now());
  const hub = new Hub({
    tickMs: config['hub.tickMs'], flushMs: 250, chatMaxLength: config['hub.chatMaxLength'], chatBurst: config['hub.chatBurst'],
    chatWindowMs: config['hub.chatWindowSeconds'] * 1000, historySize: 100, presenceEveryMs: 2000, maxQueue: 5000,
  }, {
    channelId: (slug) => store.channels.find(slug)?.id,
    startsAt: (slug) => {
      const c = store.channels.find(slug);
      return c ? nextStart(store.classes.list({ channelId: c.id }), Date.now()) ?? c.startsAt : null;
    },
    loadRoom: (id, session, n) => store.engagement.loadRoom(id, session, n),
    liveSession: (slug) => {
      const c = live.current(slug);
      return c && c.state !== 'starting' ? c.sessionId : undefined;
    },
    persist: (ops) => store.engagement.apply(ops),
    log,
  });
  live.on('started', (e) => hub.classStarted(e.channel, e.sessionId));
  live.on('ended', (e) => hub.classEnded(e.channel, e.sessionId, e.recorded));
  live.on('publisher', (e) => hub.publisherState(e.channel, e.sessionId, e.state));
  const toolBase = publicBaseUrl(config);
  const ltiKeys = new ToolKeys(store.lti);
  await ltiKeys.ensure();
  const passback = new Passback({
    scoreMode: config['lti.scoreMode'], presentPercent: config['lti.presentPercent'], retryBaseMs: config['lti.retryBaseSeconds'] * 1000,
    maxAttempts: config['lti.maxAttempts'], pollMs: 5000,
  }, {
    repo: store.lti, classes: store.classes, services: new PlatformServices(ltiKeys),
    attendance: (id) => store.engagement.attendance(id),
    sessionSpan: (id) => {
      const s = store.sessions.find(id);
      return s && { start: Date.parse(s.startedAt), end: s.endedAt ? Date.parse(s.endedAt) : null };
    },
    log,
  });
  live.on('started', (e) => {
    const c = store.channels.find(e.channel);
    const k = c && classForNewSession(store.classes.list({ channelId: c.id }), Date.now());
    if (k) {
      store.classes.attachSession(k.id, e.sessionId);
      log.info('session delivers a scheduled class', { channel: e.channel, sessionId: e.sessionId, class: k.id });
    }
  });
  live.on('ended', (e) => {
    const ch = store.channels.find(e.channel);
    const k = store.classes.bySession(e.sessionId);
    if (archiver && (ch?.archive || k?.archive) && e.recorded) void archiver.enqueue(e.sessionId).catch(() => {});
    if (k?.courseId && store.classes.findCourse(k.courseId)?.platformId != null) passback.enqueue(k.id);
  });
  const playbackSecret = createHmac('sha256', secret).update('kmk-playback-tokens').digest();
  const gate = new PlaybackGate({
    owner: (kind, name) => {
      const slug = kind === 'hls' ? name : store.sessions.find(name)?.channel;
      return slug ? store.channels.find(slug) : undefined;
    },
  }, playbackSecret);
  const playbackToken = (scope: PlaybackScope, viewer?: string): string =>
    signPlayback(scope, Math.floor(Date.now() / 1000) + config['hls.playbackTokenTtlSeconds'], playbackSecret, viewer);
  // The LMS frames the pages: every registered platform's origin may, besides web.frameAncestors.
  const frameAncestors = (): string => {
    const origins = new Set<string>();
    for (const p of store.lti.platforms()) {
      for (const u of [p.issuer, p.authUrl]) {
        try {
          origins.add(new URL(u).origin);
        } catch {
          // registration checked the URLs; nothing to add
        }
      }
    }
    return [config['web.frameAncestors'], ...origins].join(' ');
  };

  const traffic = new TrafficCounter({
    liveSession: (slug) => live.current(slug)?.sessionId,
    save: (rows) => store.reports.addTraffic(rows),
    onError: (err) => log.warn('could not record origin traffic', { err }),
  }, { flushMs: 5000, maxKeys: 10000 });
  const origin = new Origin({
    mediaDir: config['paths.media'], cacheBytes: 64 * 1024 * 1024, liveWindow: 6,
    onServed: (kind, owner, rel, bytes) => traffic.served(kind, owner, rel, bytes),
  });
  const status = (): ServerStatus => {
    const snap = live.snapshot();
    return {
      ...snap, cores: availableParallelism(),
      // For classes relayed to Mux: what Mux's webhooks last said about the stream (active, idle, disconnected).
      channels: snap.channels.map((c) => (c.mode === 'mux' ? { ...c, muxStream: store.mux.streamStatus(c.channel) } : c)),
    };
  };
  const ingestRates = new Map<string, { at: number; bytes: number; kbps: number }>();
  const web = webRoutes({
    get frameAncestors() {
      return frameAncestors();
    },
    sessionChannel: (id) => store.sessions.find(id)?.channel,
    playbackToken,
    assets: loadAssets(),
    secret,
    channel: (slug) => store.channels.find(slug),
    addBeacon: (b) => store.beacons.add(b),
    health: (slug) => {
      const view = live.snapshot().channels.find((c) => c.channel === slug);
      const cur = live.current(slug);
      const meta = cur ? live.publisherMeta(slug) : undefined;
      let kbps = 0;
      if (meta) {
        const prev = ingestRates.get(slug);
        const now = Date.now();
        kbps = prev && now > prev.at ? ((meta.inBytes - prev.bytes) * 8) / (now - prev.at) : 0;
        if (!prev || now - prev.at > 1000) ingestRates.set(slug, { at: now, bytes: meta.inBytes, kbps: kbps || prev?.kbps || 0 });
        kbps = ingestRates.get(slug)?.kbps ?? kbps;
      }
      return {
        state: view?.state ?? 'offline', sessionId: view?.sessionId ?? null, since: view?.since ?? null,
        ingest: meta ? { kbps: Math.round(kbps), fps: meta.fps, width: meta.width, height: meta.height } : null,
        ladder: view?.ladder ?? [], speed: view?.transcoder?.speed ?? null, slow: view?.slow ?? false,
        restarts: view?.transcoder?.restarts ?? 0, reconnects: view?.reconnects ?? 0, notes: view?.notes ?? [],
        viewers: hub.presence(slug), obsServer: obsServerUrl(config),
      };
    },
    playback: (slug) => channelPlayback(slug, playbackFacts),
    replay: (sessionId) => sessionReplay(sessionId, playbackFacts),
    muxWebhook: archiver && muxApi ? async (raw, signature) => {
      let event;
      try {
        event = await muxApi.verifyWebhook(raw, { 'mux-signature': signature });
      } catch {
        return 'bad_signature';
      }
      return (await archiver.onEvent(event)) ? 'ok' : 'duplicate';
    } : undefined,
    rotateKey: (slug) => {
      const c = store.channels.get(slug);
      const { key, info } = store.streamKeys.rotate(c.id);
      log.info('stream key rotated from the studio', { channel: slug, fingerprint: info.fingerprint });
      return { key, fingerprint: info.fingerprint, server: obsServerUrl(config) };
    },
  });
  const tool = new LtiTool({
    repo: store.lti, classes: store.classes, keys: ltiKeys, toolBase, secret,
    verifier: new LaunchVerifier(store.lti, { clockSkewSeconds: config['lti.clockSkewSeconds'] }),
    createCourseChannel: (title) => {
      const c = store.channels.create({
        slug: `course-${randomBytes(4).toString('hex')}`, title: title.slice(0, 200),
        ladder: config['channels.defaultLadder'].split(',') as RungName[], latency: config['channels.defaultLatency'],
        record: true, archive: false, overflow: config['channels.defaultOverflow'],
      });
      log.info('channel created for an LMS course', { channel: c.slug });
      return { id: c.id, slug: c.slug };
    },
    channelSlug: (id) => store.channels.findById(id)?.slug,
    liveSession: (slug) => live.current(slug)?.sessionId ?? null,
    mintJoin: (channel, user, name, role) => mint({ channel, user, name, role, ttl: '8h' }, secret, Math.floor(Date.now() / 1000)).token,
    log,
  });
  const verifyToken = (t: string) => store.apiTokens.verify(t);
  const instructorOf = (req: Pick<HttpRequest, 'headers'>, slug: string): boolean => instructor(req, slug, secret);
  const lti = ltiRoutes({
    tool, keys: ltiKeys, repo: store.lti, classes: store.classes, toolBase, toolTitle: 'KMK LiveStream', frameAncestors,
    authorizeApi: (req, scope) => authorize(req, { verifyToken }, scope),
    instructorOf: (req, slug) => instructorOf(req, slug),
    channel: (slug) => store.channels.find(slug),
    scheduled: (k) => hub.scheduleChanged(k.channel),
  });
  const reports = reportRoutes({
    authorizeApi: (req, scope) => authorize(req, { verifyToken }, scope),
    instructorOf: (req, slug) => instructorOf(req, slug),
    sessionChannel: (id) => store.sessions.find(id)?.channel,
    report: (id) => sessionReport(store, id, Date.now()),
    reportCsv,
    courseChannel: (id) => {
      const c = store.classes.findCourse(id);
      return c ? (c.channelId === null ? null : store.channels.findById(c.channelId)?.slug ?? null) : undefined;
    },
    courseCsv: (id) => courseAttendanceCsv(store, id, Date.now()),
    cost: (from, to, channel) => {
      const prices = pricesFrom(config);
      const bad = checkPrices(prices);
      if (bad) return bad;
      const all = periodCost(store, prices, from, to, Date.now());
      return channel ? forChannel(all, channel) : all;
    },
    costCsv,
    channelSessions: (slug) => (store.channels.find(slug) ? store.sessions.list({ channel: slug, limit: 50 }) : undefined),
  });
  const http: HttpServer = new HttpServer({ host: config.bindAddress, port: config['http.port'], log }, [...web, ...lti, ...reports, ...routes({
    origin,
    verifyToken,
    status,
    sessions: store.sessions,
    metrics: (): string => metricsText(live, origin, ingest, hub, http),
    playbackAccess: (kind, owner, pt) => gate.check(kind, owner, pt, Date.now()),
    mintJoinToken: ({ channel, body }) => {
      if (!store.channels.find(channel)) return json(404, { error: 'not_found', message: 'no such channel' });
      let input: Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(body);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        input = parsed as Record<string, unknown>;
      } catch {
        return json(400, { error: 'bad_request', message: 'send a JSON object: {"user": "...", "name": "...", "role": "learner", "ttl": "4h"}' });
      }
      try {
        const { token, claims } = mint({ channel, user: input.user, name: input.name, role: input.role, ttl: input.ttl }, secret, Math.floor(Date.now() / 1000));
        return json(201, { token, expiresAt: new Date(claims.exp * 1000).toISOString(), watchUrl: `/watch/${channel}?token=${token}`, wsUrl: `/ws?token=${token}` });
      } catch (err) {
        if (err instanceof UserError) return json(400, { error: 'bad_request', message: err.message });
        throw err;
      }
    },
  })]);
  bindHub(http, hub, { secret, allowsGuests: (slug) => store.channels.find(slug)?.allowGuests }, {
    maxBackpressureBytes: config['hub.maxBackpressureBytes'], idleTimeoutSeconds: config['hub.idleTimeoutSeconds'],
  });
  hub.start();
  archiver?.start();
  passback.start();
  traffic.start();
  // Every second: drop stalled publishers; every fifth: save bytes in, so a crash loses at most a few seconds of them.
  let ticks = 0;
  const progress = setInterval(() => {
    live.checkStalls(Date.now());
    if (++ticks % 5 === 0) live.saveProgress();
  }, 1000);
  progress.unref();

  try {
    await http.start();
    // The HTTP port is ours, so no other server runs on this data: classes it left open were interrupted. Their
    // recordings are closed and kept before ingest starts (a new class on a channel clears its live folder).
    await recoverInterrupted(store, config['paths.media'], log);
    const stale = store.sessions.endAllOpen('server restarted');
    if (stale) log.warn('closed sessions left open by a previous run', { count: stale });
    await ingest.start();
  } catch (err) {
    clearInterval(progress);
    hub.stop();
    http.stop();
    await ingest.stop();
    await archiver?.stop();
    await passback.stop();
    traffic.stop();
    store.close();
    throw err;
  }
  log.info('serving', { http: `${config.bindAddress}:${http.boundPort}`, rtmp: `${config.bindAddress}:${ingest.port}`, budget });

  let stopping: Promise<void> | undefined;
  return {
    config, store, live, ingest, http, origin, hub, archiver, passback, httpPort: http.boundPort, rtmpPort: ingest.port, status,
    stop: () => (stopping ??= (async () => {
      log.info('stopping: no new publishes; closing live classes');
      clearInterval(progress);
      await live.shutdown();
      await ingest.stop();
      http.stop();
      hub.stop();
      await archiver?.stop(); // its jobs record where they stand before the store closes
      await passback.stop();
      traffic.stop();
      store.close();
      log.info('stopped');
    })()),
  };
}

/** Sessions a crash interrupted: their recordings are closed and kept as replays before anything can delete them. */
async function recoverInterrupted(store: Store, mediaDir: string, log: Logger): Promise<void> {
  for (const s of store.sessions.open()) {
    const r = s.recorded ? await recoverRecording(mediaDir, s.channel, s.id).catch((err: unknown) => {
      log.error('could not recover a recording', { session: s.id, err });
      return { result: 'failed' as const };
    }) : { result: 'not_recorded' as const };
    const at = r.result === 'recovered' ? new Date(Math.max(r.lastWriteMs, Date.parse(s.startedAt))) : new Date();
    store.sessions.endInterrupted(s.id, at, r.result === 'recovered');
    if (r.result === 'recovered') log.warn('recovered the recording of a class interrupted by a crash', { session: s.id, channel: s.channel });
    else log.warn('closed a class interrupted by a crash', { session: s.id, channel: s.channel, recording: r.result });
  }
}

function metricsText(live: LiveManager, origin: Origin, ingest: RtmpIngest, hub: Hub, http: HttpServer): string {
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
    `kmk_hub_connections ${hub.connections}`,
    `kmk_hub_frames_total ${hub.counters.frames}`,
    `kmk_hub_invalid_frames_total ${hub.counters.invalid}`,
    `kmk_hub_events_dropped_total ${hub.counters.eventsDropped}`,
    `kmk_hub_send_dropped_total ${http.wsCounters.sendDropped}`,
    `kmk_hub_closed_abnormal_total ${http.wsCounters.closedAbnormal}`,
    `kmk_hub_persist_failures_total ${hub.counters.persistFailures}`,
  ];
  for (const c of snap.channels) {
    const t = c.transcoder;
    if (!t) continue;
    lines.push(`kmk_transcoder_restarts_total{channel="${c.channel}"} ${t.restarts}`);
    lines.push(`kmk_pipe_dropped_bytes_total{channel="${c.channel}"} ${t.pipe.droppedBytes}`);
  }
  return lines.join('\n') + '\n';
}
