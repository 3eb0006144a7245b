// Composition root: builds every component from the Config in dependency order, wires their ports together,
// starts them, and stops them in reverse. Construction and wiring only: every decision lives in the module that
// owns it (see docs/architecture.md).

import { availableParallelism, hostname } from 'node:os';
import { mkdirSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { portRange, type Config } from './config/schema.js';
import { obsServerUrl, publicBaseUrl } from './config/urls.js';
import { createLogger, type Logger } from './log.js';
import { UserError } from './domain/errors.js';
import { MASTER_PLAYLIST, vodDir } from './domain/media-layout.js';
import { asStore, connectStore, isShared, openStore, safeUrl, storeSettings, type SqliteStore, type Store } from './store/index.js';
import { lockDataFolder } from './store/data-lock.js';
import { signPlayback, type PlaybackScope } from './auth/playback-token.js';
import { loadJoinSecret } from './auth/join-secret.js';
import { DiskMonitor } from './media/disk.js';
import { PidFile } from './media/pid-file.js';
import { RtmpIngest } from './ingest/rtmp.js';
import { WebRtcIngest } from './ingest/webrtc.js';
import { iceServersOf } from './config/webrtc.js';
import { whipRoutes } from './http/whip-routes.js';
import { stageRoutes } from './http/stage-routes.js';
import { StageSfu } from './ingest/stage-sfu.js';
import { IngestRouter, type Ingest } from './live/ports.js';
import { LiveManager, type LiveChannelView } from './live/manager.js';
import { defaultBudget } from './live/admission.js';
import { HealthReporter } from './live/health.js';
import { channelPlayback, sessionReplay, type PlaybackFacts } from './live/playback.js';
import { recoverInterrupted } from './live/recover.js';
import { locateTool } from './transcode/locate.js';
import { probeFile } from './transcode/probe.js';
import { PlaybackGate } from './hls/access.js';
import { Origin } from './hls/origin.js';
import { LlRegistry } from './hls/ll/registry.js';
import { speechOutputs } from './captions/outputs.js';
import type { LocalOutputs } from './live/outputs.js';
import { engineCommand } from './captions/engine.js';
import { hlsOutputs } from './hls/outputs.js';
import { cdnOrigin } from './hls/cdn.js';
import { HttpServer, type HttpRequest } from './http/app.js';
import { authorize, metricsRoute, routes } from './http/routes.js';
import { parseListen } from './config/urls.js';
import { instructor, viewer, webRoutes } from './http/web-routes.js';
import { captionRoutes } from './http/caption-routes.js';
import { rebuildRecordingCaptions, recordedLanguages, recordingStart } from './captions/recording.js';
import { ltiRoutes } from './http/lti-routes.js';
import { reportRoutes } from './http/report-routes.js';
import { loadAssets } from './http/pages.js';
import type { Hub } from './hub/hub.js';
import { createHub, installationVerifier, socketDeps } from './hub/compose.js';
import { PersistDrain } from './hub/drain.js';
import { bindHub } from './hub/socket.js';
import { mint } from './auth/mint.js';
import { ToolKeys } from './lti/keys.js';
import { LaunchVerifier } from './lti/verify.js';
import { LtiTool } from './lti/tool.js';
import { PlatformServices } from './lti/services.js';
import { Passback } from './lti/passback.js';
import { frameAncestorsOf } from './lti/platforms.js';
import { ClassFollower, courseChannelInput } from './classes/follow.js';
import { expectedAudience, expectedMinutes } from './classes/audience.js';
import { channelForSession } from './classes/resolve.js';
import { Housekeeping, retentionTasks } from './classes/housekeeping.js';
import { ClusterNode } from './cluster/node.js';
import { Lifecycle } from './lifecycle.js';
import { costCsv, costFor, courseAttendanceCsv, reportCsv, sessionReport } from './reports/service.js';
import { pricesFrom } from './reports/prices.js';
import { TrafficCounter } from './reports/traffic.js';
import { createMuxApi, muxPlaybackUrl, type MuxApi } from './mux/client.js';
import { Archiver } from './mux/archive.js';
import { muxOverflow, muxWebhook } from './mux/overflow.js';
import { Metrics, Timings } from './metrics.js';

export interface ServerOptions {
  log?: Logger;
  /** x264 preset for the ladder (tests use a faster one). */
  preset?: string;
  /** A MuxApi to use instead of one built from the config. */
  muxApi?: MuxApi;
  /** Free bytes on the media disk (tests inject a full disk). */
  freeSpace?: (dir: string) => Promise<number>;
  /** `serve --workers`: share the HTTP port with worker processes and listen for them on this loopback port (0: any). */
  internalPort?: number;
}

export interface RunningServer {
  config: Config;
  /** The embedded store's synchronous repositories, for the test harness (undefined on a shared PostgreSQL store);
   * the server itself runs on `shared`. */
  store: SqliteStore;
  /** The store the server runs on. */
  shared: Store;
  live: LiveManager;
  ingest: RtmpIngest;
  /** The WebRTC (WHIP) ingest, when webrtc.enabled. */
  webrtc?: WebRtcIngest;
  /** The stage's media (WebRTC among stage members, their voices into the ladder), when webrtc.enabled. */
  stage?: StageSfu;
  http: HttpServer;
  origin: Origin;
  hub: Hub;
  disk: DiskMonitor;
  archiver?: Archiver;
  passback: Passback;
  httpPort: number;
  rtmpPort: number;
  /** What is live now, where it runs, the budget: for /api/status and `kmk-live status`. */
  status(): ServerStatus;
  /** Every route (method and uWS pattern), for the OpenAPI check. */
  routeTable: { method: string; pattern: string }[];
  /** The loopback port worker processes forward to (with ServerOptions.internalPort). */
  /** The metrics.listen port, when set. */
  metricsPort?: number;
  internalPort?: number;
  /** Where /metrics gets the worker processes' series. */
  setWorkerMetrics(fn: () => Promise<Awaited<ReturnType<Metrics['json']>>[]>): void;
  stop(): Promise<void>;
}

export interface ServerStatus extends ReturnType<LiveManager['snapshot']> {
  cores: number;
  disk: ReturnType<DiskMonitor['state']>;
  channels: (LiveChannelView & { viewers: number; muxStream?: { status: string; at: string } | null })[];
}

export async function startServer(config: Config, opts: ServerOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? createLogger(config['log.level']);
  const ffmpeg = locateTool('ffmpeg', { configured: config['transcode.ffmpegPath'] });
  const ffprobe = locateTool('ffprobe', { configured: config['transcode.ffprobePath'] });
  if ('error' in ffmpeg) throw new Error(ffmpeg.error);
  if ('error' in ffprobe) throw new Error(ffprobe.error);
  log.info('ffmpeg found', { ffmpeg: ffmpeg.path, source: ffmpeg.source, ffprobe: ffprobe.path });

  const mediaDir = config['paths.media'];
  mkdirSync(mediaDir, { recursive: true });
  const lock = lockDataFolder(config['paths.data']);
  const settings = storeSettings(config);
  if (isShared(settings) && !config['hub.joinSecret']) {
    lock.release();
    // A secret generated into each box's data folder would make one box's join and playback tokens void on another.
    throw new UserError('boxes sharing a store (store.url) must share hub.joinSecret: set the same secret (32+ characters) on every box, e.g. KMK_HUB_JOIN_SECRET');
  }
  const sqlite = isShared(settings) ? undefined : openStore(settings.file, { busyTimeoutMs: settings.busyTimeoutMs });
  let speechEngine;
  try {
    speechEngine = engineCommand({ engine: config['captions.engine'], command: config['captions.engineCommand'], pocketsphinxModel: config['captions.pocketsphinxModel'] });
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  const store = sqlite ? asStore(sqlite) : connectStore(settings, { onError: (err, what) => log.warn('the shared store failed', { what, err }) });
  try {
    await store.ready();
  } catch (err) {
    await store.close().catch(() => undefined);
    lock.release();
    throw new UserError(`the store at ${config['store.url'] ? safeUrl(config['store.url']) : settings.file} cannot be opened: ${(err as Error).message}`);
  }
  const read = store.read;
  const budget = defaultBudget(config['transcode.budgetPixelsPerSecond']);
  const pids = new PidFile(mediaDir, log);
  const disk = new DiskMonitor(mediaDir, config['paths.minFreeMegabytes'] * 1024 * 1024, log, opts.freeSpace);

  // ---- Mux (optional) -----------------------------------------------------------------------------------------
  const muxApi: MuxApi | undefined = opts.muxApi ?? (config['mux.tokenId'] && config['mux.tokenSecret'] ? await createMuxApi({
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
      await store.close();
      lock.release();
      throw new UserError(`mux.signingKeyPrivate cannot sign playback tokens: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  log.info(muxApi ? 'Mux configured: overflow and archive on' : 'Mux not configured: overflow and archive off');
  const archiver = muxApi ? new Archiver({
    mediaDir, ffmpegPath: ffmpeg.path, chunkBytes: config['mux.uploadChunkBytes'],
    deleteLocal: config['mux.deleteLocalAfterArchive'], log, pids, waitForLease: true,
    // The transcripts go with the archive: Mux fetches them from here (a private class's with a day-long token).
    captionUrl: (id, lang) => {
      const c = read.channel(read.sessionChannel(id) ?? '');
      const pt = c && !c.public ? `?pt=${encodeURIComponent(signPlayback(`s:${id}`, Math.floor(Date.now() / 1000) + 86400, playbackSecret, 'mux'))}` : '';
      return `${publicBaseUrl(config)}/vod/${id}/captions-${lang}/transcript.vtt${pt}`;
    },
  }, muxApi, store.mux) : undefined;

  // ---- live classes -------------------------------------------------------------------------------------------
  let ingest!: RtmpIngest;
  // Every way in, behind one port (the ingests are made below, once the live classes exist to admit into).
  const ingests: Ingest[] = [];
  // Low-Latency HLS (latency 'ultra'): the packagers of live classes, which the origin serves from memory.
  const llStreams = new LlRegistry();
  let cluster!: ClusterNode;
  let stageSfu: StageSfu | undefined;
  // The stage's picture in the broadcast (members' tiles over the class's video): every local ladder encodes its top rung.
  const composeStage = config['webrtc.enabled'] && config['stage.picture'];
  const live = new LiveManager(
    {
      mediaDir, graceMs: config['ingest.reconnectGraceSeconds'] * 1000, budget, stallMs: config['ingest.stallSeconds'] * 1000,
      crf: { lecture: config['transcode.lectureCrf'], motion: config['transcode.motionCrf'] }, composeStage,
    },
    {
      channelForKey: (key) => {
        const id = read.channelForKey(key);
        if (id !== undefined) store.streamKeys.markUsed(id);
        return id;
      },
      // A scheduled class decides whether its session is recorded.
      channelById: (id) => channelForSession(read.channelById(id)!, read.classesOf(id), Date.now()),
      sessions: store.sessions,
      // On a shared store: a class live on another box is refused here with that box's name.
      liveElsewhere: (id) => cluster.liveElsewhere(id),
      roomElsewhere: () => {
        const b = cluster.best();
        return b && b.name !== cluster.name && b.budget > b.used ? b : undefined;
      },
      ingest: new IngestRouter(ingests),
      outputs: allOutputs(hlsOutputs({
        ffmpegPath: ffmpeg.path, ffprobePath: ffprobe.path, preset: opts.preset ?? 'veryfast', partSeconds: config['hls.partSeconds'],
        liveWindow: 6, llStreams, log, pids,
        onEncodeCpu: (sessionId, ms) => {
          try {
            store.reports.addEncodeCpu(sessionId, ms);
          } catch (err) {
            log.warn('could not record encode CPU', { session: sessionId, err });
          }
        },
        onWriteFailed: (what) => disk.writeFailed(what),
        captionCues: (sessionId, since) => store.engagement.captions(sessionId, since),
        stageMix: (slug: string) => stageSfu?.mix(slug),
        stagePicture: (slug: string) => (composeStage ? stageSfu?.picture(slug) : undefined),
      }), speechOutputs({
        ffmpegPath: ffmpeg.path, log, pids,
        engine: speechEngine,
        onCue: (slug, sessionId, cue) => hub.speechCaption(slug, sessionId, cue),
        onStatus: (slug, running, message) => hub.speechStatus(slug, running, message),
      })),
      overflow: muxApi ? muxOverflow({ api: muxApi, repo: store.mux, ingestUrl: config['mux.ingestUrl'], ffmpegPath: ffmpeg.path, log, pids }) : undefined,
      refuseNew: () => disk.refusal(),
      expect: async (channel) => ({
        ...(await expectedAudience(store, channel, Date.now())), minutes: expectedMinutes(read.classesOf(channel.id), Date.now()),
        cdnPerGb: config['cost.cdnPerGb'], boxPerMonth: config['cost.boxPerMonth'], cores: availableParallelism(),
      }),
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
  ingests.push(ingest);
  // WebRTC (WHIP): a browser's studio or OBS's WHIP output, the second way in behind the same port.
  const iceServers = iceServersOf(config);
  const webrtc = config['webrtc.enabled'] ? new WebRtcIngest({
    ...(config['webrtc.publicIp'] ? { publicIp: config['webrtc.publicIp'] } : {}),
    ...(portRange(config['webrtc.udpPorts']) ? { udpPorts: portRange(config['webrtc.udpPorts'])! } : {}),
    iceServers, maxPublishers: config['webrtc.maxPublishers'], graceMs: config['ingest.reconnectGraceSeconds'] * 1000,
    maxFailuresPerMinute: config['ingest.maxFailuresPerMinute'], log,
  }, {
    admit: (a) => live.admit(a),
    disconnected: (id) => live.disconnected(id),
    ended: (id) => live.ended(id),
  }) : undefined;
  if (webrtc) ingests.push(webrtc);
  // The stage (issue 27): members' media among themselves, and their voices into the class's ladder.
  let stageHub: Pick<Hub, 'mayPublish'> | undefined;
  const stage = stageSfu = config['webrtc.enabled'] ? new StageSfu({
    ...(config['webrtc.publicIp'] ? { publicIp: config['webrtc.publicIp'] } : {}),
    ...(portRange(config['webrtc.udpPorts']) ? { udpPorts: portRange(config['webrtc.udpPorts'])! } : {}),
    iceServers, maxConnections: config['webrtc.maxPublishers'] * config['stage.maxMembers'], log,
    ...(composeStage ? { picture: { ffmpegPath: ffmpeg.path, pids } } : {}),
  }, { mayPublish: (slug, userId) => stageHub?.mayPublish(slug, userId) }) : undefined;
  const playbackFacts: PlaybackFacts = {
    live: (slug) => live.playback(slug),
    recordingKept: (id) => access(join(vodDir(mediaDir, id), MASTER_PLAYLIST)).then(() => true, () => false),
    archivePlaybackId: async (id) => (await store.mux.sessionMux(id))?.playbackId,
    muxUrl: async (pb) => muxPlaybackUrl(pb, signed ? await muxApi!.signPlayback(pb, config['mux.playbackTokenTtlSeconds']) : undefined),
    elsewhere: (slug) => {
      const c = read.channel(slug);
      return c && cluster.liveElsewhere(c.id)?.url;
    },
    recordingOn: async (id) => {
      const node = await store.nodes.sessionNode(id);
      return node && node !== cluster.name ? cluster.urlOf(node) : undefined;
    },
  };

  // ---- engagement hub -----------------------------------------------------------------------------------------
  const timings = new Timings();
  const secret = loadJoinSecret(config['hub.joinSecret'], config['paths.data']);
  const staffMaxSeconds = config['hub.staffTokenMaxHours'] * 3600;
  const verifyJoin = installationVerifier(config, read, secret);
  // On a shared store other boxes' rooms are open: each room's attendance is closed when a box takes it (the hub).
  if (!isShared(settings)) await store.engagement.closeOpenAttendance(Date.now());
  const { hub, backplane } = createHub(config, store, {
    log,
    liveSession: (slug) => {
      const c = live.current(slug);
      return c && c.state !== 'starting' ? c.sessionId : undefined;
    },
    observe: { fanout: (s) => timings.fanout.observe(s), lag: (s) => timings.backplaneLag.observe(s), persistBatch: (s) => timings.persistBatch.observe(s) },
  });
  // With a backplane, engagement records reach SQLite through Redis: this box writes them when hub.writer is on.
  const drain = config['hub.backplane'] && config['hub.writer'] ? new PersistDrain({
    url: config['hub.backplane'], log, everyMs: 250, batch: 2000, id: `${hostname()}:${process.pid}`,
  }, { persist: (ops) => store.engagement.apply(ops), observe: (s) => timings.persistBatch.observe(s) }) : undefined;

  // ---- LMS ----------------------------------------------------------------------------------------------------
  const toolBase = publicBaseUrl(config);
  // ---- this box among the boxes sharing the store ----------------------------------------------------------------
  const shared = isShared(settings);
  cluster = new ClusterNode({
    nodes: store.nodes, me: { name: settings.node ?? 'local', url: toolBase, rtmp: obsServerUrl(config) }, log,
    here: () => {
      const snap = live.snapshot();
      return { sessions: snap.channels.map((c) => c.sessionId), used: snap.used, budget: snap.budget, classes: snap.channels.map((c) => ({ channel: c.channel, session: c.sessionId, state: c.state })) };
    },
    closedForDeadBox: (s) => hub.classEnded(s.channel, s.id, true),
  });
  /** Work one box does for all on a shared store: true when this box holds (or took) the lease now. */
  const leased = async (name: string, ms: number): Promise<boolean> => !shared || store.nodes.tryLease(name, cluster.name, Date.now(), ms);
  const ltiKeys = new ToolKeys(store.lti);
  await ltiKeys.ensure();
  const passback = new Passback({
    scoreMode: config['lti.scoreMode'], presentPercent: config['lti.presentPercent'], retryBaseMs: config['lti.retryBaseSeconds'] * 1000,
    maxAttempts: config['lti.maxAttempts'], pollMs: 5000,
  }, {
    repo: store.lti, classes: store.classes, services: new PlatformServices(ltiKeys),
    attendance: (id) => store.engagement.attendance(id),
    sessionSpan: async (id) => {
      const s = await store.sessions.find(id);
      return s && { start: Date.parse(s.startedAt), end: s.endedAt ? Date.parse(s.endedAt) : null };
    },
    // One box works the outbox at a time; another takes over half a minute after it stops renewing.
    ...(shared ? { mayRun: () => leased('lti-outbox', 30_000) } : {}),
    log,
  });
  const follower = new ClassFollower({
    channel: (slug) => read.channel(slug),
    classes: store.classes,
    archive: archiver ? (id) => archiver.enqueue(id) : undefined,
    passback: (id) => passback.enqueue(id),
    log,
  });
  live.on('started', (e) => hub.classStarted(e.channel, e.sessionId, e.startedAt));
  const followFailed = (err: unknown): void => log.warn('could not follow a class for its schedule and course', { err });
  live.on('started', (e) => void follower.started(e).catch(followFailed));
  live.on('ended', (e) => hub.classEnded(e.channel, e.sessionId, e.recorded));
  live.on('ended', (e) => void follower.ended(e).catch(followFailed));
  live.on('publisher', (e) => hub.publisherState(e.channel, e.sessionId, e.state));
  const frameAncestors = (): string => frameAncestorsOf(config['web.frameAncestors'], read.platforms());
  const tool = new LtiTool({
    repo: store.lti, classes: store.classes, keys: ltiKeys, toolBase, secret,
    verifier: new LaunchVerifier(store.lti, { clockSkewSeconds: config['lti.clockSkewSeconds'] }),
    createCourseChannel: async (title) => {
      const c = await store.channels.create(courseChannelInput(title, {
        ladder: config['channels.defaultLadder'], latency: config['channels.defaultLatency'], overflow: config['channels.defaultOverflow'],
        profile: config['channels.defaultProfile'],
      }));
      log.info('channel created for an LMS course', { channel: c.slug });
      return { id: c.id, slug: c.slug };
    },
    channelSlug: async (id) => read.channelById(id)?.slug,
    liveSession: (slug) => live.current(slug)?.sessionId ?? null,
    // An LMS launch is a fresh login: staff tokens live as long as the staff limit allows, at most a working day.
    requireBinding: config['lti.requireBrowserBinding'],
    replayable: async (id) => (await store.sessions.find(id))?.recorded === true,
    mintJoin: (channel, user, name, role) => mint({ channel, user, name, role, ttl: `${Math.min(8 * 3600, staffMaxSeconds)}s` }, secret, Math.floor(Date.now() / 1000), { staff: true, staffMaxSeconds }).token,
    log,
  });

  // ---- media origin and pages ---------------------------------------------------------------------------------
  const playbackSecret = createHmac('sha256', secret).update('kmk-playback-tokens').digest();
  const gate = new PlaybackGate({
    owner: (kind, name) => {
      const slug = kind === 'hls' ? name : read.sessionChannel(name);
      return slug ? read.channel(slug) : undefined;
    },
  }, playbackSecret);
  const playbackToken = (scope: PlaybackScope, viewer?: string): string =>
    signPlayback(scope, Math.floor(Date.now() / 1000) + config['hls.playbackTokenTtlSeconds'], playbackSecret, viewer);
  const traffic = new TrafficCounter({
    liveSession: (slug) => live.current(slug)?.sessionId,
    save: (rows) => store.reports.addTraffic(rows),
    onError: (err) => log.warn('could not record origin traffic', { err }),
  }, { flushMs: 5000, maxKeys: 10000 });
  const origin = new Origin({
    mediaDir, cacheBytes: 64 * 1024 * 1024, liveWindow: 6,
    onServed: (kind, owner, rel, bytes) => traffic.served(kind, owner, rel, bytes),
    onBadPlaylist: (path) => disk.writeFailed(path.slice(mediaDir.length + 1)),
    ll: (channel) => llStreams.get(channel),
    cdnBaseUrl: config['hls.cdnBaseUrl'],
    access: (kind, owner, pt) => gate.check(kind, owner, pt, Date.now()),
    liveClass: (slug) => live.current(slug) !== undefined,
  });
  const status = (): ServerStatus => {
    const snap = live.snapshot();
    return {
      ...snap, cores: availableParallelism(), disk: disk.state(),
      // For classes relayed to Mux: what Mux's webhooks last said about the stream (active, idle, disconnected).
      channels: snap.channels.map((c) => ({
        ...c, viewers: hub.presence(c.channel), ...(c.mode === 'mux' ? { muxStream: read.muxStream(c.channel) } : {}),
      })),
    };
  };
  const health = new HealthReporter({
    view: (slug) => live.snapshot().channels.find((c) => c.channel === slug),
    publisherMeta: (slug) => live.publisherMeta(slug),
    viewers: (slug) => hub.presence(slug),
    obsServer: obsServerUrl(config),
    disk: () => disk.state(),
  });
  const web = webRoutes({
    get frameAncestors() {
      return frameAncestors();
    },
    // The other boxes' origins too: a class or replay on another box plays from there.
    get cdnOrigin() {
      return [cdnOrigin(config['hls.cdnBaseUrl']), ...cluster.boxes().filter((b) => b.name !== cluster.name).map((b) => cdnOrigin(b.url))].filter(Boolean).join(' ');
    },
    sessionChannel: (id) => read.sessionChannel(id),
    playbackToken,
    assets: loadAssets(),
    verifyJoin,
    channel: (slug) => read.channel(slug),
    addBeacon: (b) => store.beacons.add(b),
    health: (slug) => health.health(slug),
    playback: (slug) => channelPlayback(slug, playbackFacts),
    replay: (sessionId) => sessionReplay(sessionId, playbackFacts),
    muxWebhook: archiver && muxApi ? muxWebhook(muxApi, (e) => archiver.onEvent(e)) : undefined,
    rotateKey: async (slug) => {
      const c = await store.channels.get(slug);
      const { key, info } = await store.streamKeys.rotate(c.id);
      log.info('stream key rotated from the studio', { channel: slug, fingerprint: info.fingerprint });
      return { key, fingerprint: info.fingerprint, server: obsServerUrl(config) };
    },
  });
  stageHub = hub;
  const verifyToken = (t: string) => store.apiTokens.verify(t);
  const instructorOf = (req: Pick<HttpRequest, 'headers'>, slug: string): boolean => instructor(req, slug, verifyJoin);
  const lti = ltiRoutes({
    tool, keys: ltiKeys, repo: store.lti, classes: store.classes, toolBase, toolTitle: 'KMK LiveStream', frameAncestors,
    authorizeApi: (req, scope, channel) => authorize(req, { verifyToken }, scope, channel),
    instructorOf: (req, slug) => instructorOf(req, slug),
    channel: (slug) => read.channel(slug),
    scheduled: (k) => hub.scheduleChanged(k.channel),
    loginsPerMinute: config['lti.loginsPerMinutePerAddress'],
    sessionOpen: (id) => {
      const slug = read.sessionChannel(id);
      return slug === undefined ? undefined : read.openSession(slug) === id;
    },
  });
  const reports = reportRoutes({
    authorizeApi: (req, scope, channel) => authorize(req, { verifyToken }, scope, channel),
    instructorOf: (req, slug) => instructorOf(req, slug),
    sessionChannel: (id) => read.sessionChannel(id),
    report: (id) => sessionReport(store, id, Date.now()),
    reportCsv,
    courseChannel: async (id) => {
      const c = await store.classes.findCourse(id);
      return c ? (c.channelId === null ? null : read.channelById(c.channelId)?.slug ?? null) : undefined;
    },
    courseCsv: (id) => courseAttendanceCsv(store, id, Date.now()),
    cost: (from, to, channel) => costFor(store, pricesFrom(config), from, to, channel, Date.now()),
    costCsv,
    channelSessions: async (slug) => (read.channel(slug) ? store.sessions.list({ channel: slug, limit: 50 }) : undefined),
  });
  const metrics = new Metrics(async () => {
    const snap = live.snapshot();
    const players = new Map<string, number>();
    for (const c of snap.channels) {
      const channelId = read.channel(c.channel)?.id;
      if (channelId !== undefined) players.set(c.channel, await store.beacons.playersSince(channelId, Date.now() - 60_000));
    }
    const ltiOutbox = await store.lti.pendingCount();
    return {
      live: {
        budget: snap.budget, used: snap.used,
        channels: snap.channels.map((c) => {
          const meta = live.publisherMeta(c.channel);
          const pub = live.publisherOf(c.channel);
          const rtc = pub && webrtc?.owns(pub) ? webrtc.stats(pub) : undefined;
          const ll = llStreams.get(c.channel);
          const mux = c.mode === 'mux' ? { status: read.muxStream(c.channel)?.status ?? 'unknown', relaying: c.relaying ?? false } : undefined;
          return {
            channel: c.channel, state: c.state, mode: c.mode, viewers: hub.presence(c.channel),
            ingestBytes: meta?.inBytes, ingestFps: meta?.fps, transcoder: c.transcoder, llWaiters: ll?.waiting,
            ...(rtc ? { webrtc: { packets: rtc.packets, lost: rtc.lost, framesDropped: rtc.framesDropped, ...(rtc.rttMs !== undefined ? { rttMs: rtc.rttMs } : {}) } } : {}),
            players: players.get(c.channel),
            segmentAgeSeconds: c.mode === 'local' ? origin.segmentAge(c.channel, c.ladder[0]) : undefined, mux,
          };
        }),
      },
      origin: { ...origin.counters, byStatus: origin.byStatus },
      ingest: ingest.counters,
      ...(webrtc ? { webrtc: { publishers: webrtc.ids().length, ...webrtc.counters } } : {}),
      hub: {
        connections: hub.connections, ...hub.counters, ownedRooms: hub.ownedRooms,
        backplane: backplane ? { connected: backplane.connected, published: backplane.counters.published, received: backplane.counters.received } : undefined,
        writer: drain ? { active: drain.isWriter, written: drain.counters.written, failures: drain.counters.failures, backlog: drain.counters.backlog } : undefined,
      },
      ws: http.wsCounters,
      disk: disk.state(),
      ltiOutbox,
    };
  }, timings, shared ? cluster.name : undefined);
  let workerMetrics: () => Promise<Awaited<ReturnType<Metrics['json']>>[]> = async () => [];
  const metricsText = async (): Promise<{ text: string; contentType: string }> => ({ text: await metrics.text(await workerMetrics()), contentType: metrics.contentType });
  const whip = whipRoutes({ whip: webrtc, channel: (slug) => read.channel(slug), instructorOf: (req, slug) => instructorOf(req, slug), iceServers });
  const stageHttp = stageRoutes({ ...(stage ? { stage } : {}), channel: (slug) => read.channel(slug), verifyJoin, iceServers });
  const captions = captionRoutes({
    sessionChannel: (id) => read.sessionChannel(id),
    mayWatch: (req, slug) => {
      const c = read.channel(slug);
      return !!c && viewer(req, slug, c, verifyJoin) !== null;
    },
    instructorOf: (req, slug) => instructorOf(req, slug),
    transcript: async (id) => {
      const dir = vodDir(mediaDir, id);
      if (!(await access(join(dir, MASTER_PLAYLIST)).then(() => true, () => false))) return undefined;
      const t0 = await recordingStart(dir);
      // A recording without captions has an empty transcript (its replay page asks for it all the same).
      if (t0 === undefined) return { sessionId: id, t0: null, languages: [], lines: [] };
      const lines = (await store.engagement.captions(id)).map(({ by: _by, ...line }) => line);
      return { sessionId: id, t0, languages: await recordedLanguages(dir), lines };
    },
    correct: async (id, cueId, text) => {
      const cues = await store.engagement.captions(id);
      const cue = cues.find((c) => c.id === cueId);
      const channelId = read.channel(read.sessionChannel(id) ?? '')?.id;
      if (!cue || channelId === undefined) return undefined;
      const fixed = { ...cue, text };
      await store.engagement.apply([{ op: 'caption', cue: fixed, sessionId: id, channelId }]);
      const files = await rebuildRecordingCaptions(vodDir(mediaDir, id), cues.map((c) => (c.id === cueId ? fixed : c)));
      log.info('caption line corrected', { session: id, cue: cueId, files });
      return fixed;
    },
  });
  const allRoutes = [...web, ...lti, ...reports, ...whip, ...stageHttp, ...captions, ...routes({
    origin,
    verifyToken,
    status,
    sessions: store.sessions,
    metrics: metricsText,
    metricsToken: config['metrics.token'] || undefined,
    channelExists: (slug) => read.channel(slug) !== undefined,
    health: () => store.health(),
    elsewhere: async (kind, rest) => {
      const name = decodeURIComponent(rest.split('/')[0] ?? '');
      return kind === 'hls' ? playbackFacts.elsewhere!(name) : playbackFacts.recordingOn!(name);
    },
    joinSecret: secret,
    staffMaxSeconds,
  })];
  const http: HttpServer = new HttpServer({ host: config.bindAddress, port: config['http.port'], log, shared: opts.internalPort !== undefined }, allRoutes);
  // `serve --workers`: the worker processes hand what is not a hub socket to this process on a loopback port.
  const internal = opts.internalPort !== undefined ? new HttpServer({ host: '127.0.0.1', port: opts.internalPort, log, fromWorkers: true }, allRoutes) : undefined;
  // metrics.listen: /metrics alone on an address of its own (an internal interface Prometheus reaches).
  const metricsAt = parseListen(config['metrics.listen']);
  const metricsHttp = metricsAt ? new HttpServer({ host: metricsAt.host, port: metricsAt.port, log }, [metricsRoute({ metrics: metricsText, metricsToken: config['metrics.token'] || undefined, metricsOpen: true })]) : undefined;
  const socket = bindHub(http, hub, socketDeps(config, read, secret), {
    maxBackpressureBytes: config['hub.maxBackpressureBytes'], idleTimeoutSeconds: config['hub.idleTimeoutSeconds'],
  });

  // ---- start, in order; stopped in the reverse order ------------------------------------------------------------
  // Each component starts after what it needs and stops before it: ingest stops taking publishes first, the live
  // classes end while the hub, HTTP, archive and passback still run to hear of it, the store closes last.
  const running = new Lifecycle(log);
  const housekeeping = new Housekeeping({
    everyMs: 3600000, log,
    tasks: retentionTasks({
      beacons: store.beacons, classes: store.classes, beaconRetentionDays: config['reports.beaconRetentionDays'],
      mayRun: async (name, now) => !shared || store.nodes.tryLease(name, cluster.name, now, 1800_000),
    }),
  });
  try {
    await running.start('store', { stop: async () => { await store.close(); lock.release(); } });
    await running.start('disk', disk);
    await running.start('archiver', archiver ?? {});
    await running.start('cluster', cluster);
    await running.start('passback', passback);
    await running.start('traffic', traffic);
    await running.start('housekeeping', housekeeping);
    await running.start('drain', drain ?? {}); // stopped after the hub: the records it queued at its stop are written too
    await running.start('hub', hub); // fails here, clearly, if hub.backplane names a Redis that does not answer
    await running.start('http', http);
    await running.start('internal http', internal ?? {});
    await running.start('metrics http', metricsHttp ?? {});
    await running.start('hub socket', { stop: () => socket.stop() });
    // The HTTP port is ours, so no other server runs on this data: ffmpeg processes it left are stopped, and the
    // classes it left open were interrupted. Their recordings are closed and kept before ingest starts (a new class
    // on a channel clears its live folder).
    await running.start('recovery', {
      start: async () => {
        await pids.reap();
        await recoverInterrupted(store.sessions, mediaDir, log, (path) => probeFile(path, ffprobe.path));
        const stale = await store.sessions.endAllOpen('server restarted');
        if (stale) log.warn('closed sessions left open by a previous run', { count: stale });
      },
    });
    await running.start('live classes', live);
    await running.start('ingest', ingest);
    await running.start('webrtc ingest', webrtc ?? {});
    await running.start('stage', stage ?? {});
  } catch (err) {
    await running.stop();
    throw err;
  }
  log.info('serving', { http: `${config.bindAddress}:${http.boundPort}`, rtmp: `${config.bindAddress}:${ingest.port}`, budget });

  let stopping: Promise<void> | undefined;
  return {
    config, store: sqlite!, shared: store, live, ingest, webrtc, ...(stage ? { stage } : {}), http, origin, hub, disk, archiver, passback, httpPort: http.boundPort, rtmpPort: ingest.port, status,
    internalPort: internal?.boundPort,
    metricsPort: metricsHttp?.boundPort,
    routeTable: allRoutes.map((r) => ({ method: r.method, pattern: r.pattern })),
    setWorkerMetrics: (fn) => {
      workerMetrics = fn;
    },
    stop: () => (stopping ??= (async () => {
      log.info('stopping: no new publishes; closing live classes');
      await running.stop();
      log.info('stopped');
    })()),
  };
}

/** Several output factories as one: a class's outputs in their order. */
function allOutputs(...parts: LocalOutputs[]): LocalOutputs {
  return { create: (ctx) => parts.flatMap((p) => p.create(ctx)) };
}
