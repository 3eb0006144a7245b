// One worker process of `kmk-live serve --workers N`: shares the HTTP port with the main process (SO_REUSEPORT),
// answers the engagement hub's WebSockets itself (rooms owned through the Redis backplane), and forwards every
// other request to the main process, which keeps RTMP ingest, transcoding, the origin's live state and SQLite
// writes. It reads channels from the same SQLite file and writes nothing to it.

import type { Config } from './config/schema.js';
import type { Logger } from './log.js';
import { connectStore, storeSettings } from './store/index.js';
import { loadJoinSecret } from './auth/join-secret.js';
import { HttpServer } from './http/app.js';
import { proxyRoutes } from './http/proxy.js';
import { createHub, socketDeps } from './hub/compose.js';
import { bindHub } from './hub/socket.js';
import type { Hub } from './hub/hub.js';
import { Metrics, Timings } from './metrics.js';

export interface RunningWorker {
  hub: Hub;
  httpPort: number;
  metrics: Metrics;
  stop(): Promise<void>;
}

export async function startWorker(config: Config, o: { mainPort: number; log: Logger }): Promise<RunningWorker> {
  if (!config['hub.backplane']) throw new Error('a worker process needs hub.backplane (a redis:// URL)');
  const log = o.log;
  const store = connectStore(storeSettings(config), { onError: (err, what) => log.warn('store', { what, err }) });
  await store.ready();
  const secret = loadJoinSecret(config['hub.joinSecret'], config['paths.data']);
  const timings = new Timings();
  const { hub, backplane } = createHub(config, store, {
    log,
    // The main process owns live classes; the session it opened is in the database.
    liveSession: (slug) => store.read.openSession(slug),
    observe: { fanout: (s) => timings.fanout.observe(s), lag: (s) => timings.backplaneLag.observe(s) },
  });
  const http = new HttpServer({ host: config.bindAddress, port: config['http.port'], log, shared: true }, proxyRoutes(`http://127.0.0.1:${o.mainPort}`));
  const socket = bindHub(http, hub, socketDeps(config, store.read, secret), {
    maxBackpressureBytes: config['hub.maxBackpressureBytes'], idleTimeoutSeconds: config['hub.idleTimeoutSeconds'],
  });
  const metrics = new Metrics(() => ({
    live: { budget: 0, used: 0, channels: [] },
    origin: { cacheHits: 0, notModified: 0, stalePlaylists: 0, byStatus: new Map() },
    ingest: { rejectedPublishes: 0, refusedConnections: 0, refusedPlays: 0, protocolErrors: 0 },
    hub: {
      connections: hub.connections, ...hub.counters, ownedRooms: hub.ownedRooms,
      backplane: backplane ? { connected: backplane.connected, published: backplane.counters.published, received: backplane.counters.received } : undefined,
    },
    ws: http.wsCounters,
    disk: { freeBytes: null, low: false, writeErrors: 0 },
    ltiOutbox: 0,
  }), timings, config['store.url'] ? storeSettings(config).node : undefined);
  try {
    await hub.start();
    await http.start();
  } catch (err) {
    await hub.stop().catch(() => {});
    await store.close();
    throw err;
  }
  log.info('worker serving', { http: `${config.bindAddress}:${http.boundPort}`, main: o.mainPort, node: backplane?.node });
  let stopping: Promise<void> | undefined;
  return {
    hub, httpPort: http.boundPort, metrics,
    stop: () => (stopping ??= (async () => {
      socket.stop();
      await http.stop();
      await hub.stop();
      await store.close();
    })()),
  };
}
