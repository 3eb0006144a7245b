// /metrics in the Prometheus exposition format, with prom-client (the only module importing it). Every series is read
// from the components' own counters and snapshots at scrape time (collect callbacks over one snapshot per scrape),
// so nothing on a hot path calls into this module. Names follow Prometheus conventions: kmk_ prefix, base units,
// _total on counters. Process metrics (CPU, memory, event loop lag, handles) come from prom-client's defaults.

import {
  AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type MetricObjectWithValues, type MetricValue,
} from 'prom-client';

/** Timings observed as they happen (the only metrics not read at scrape time); cheap enough for the message path. */
export class Timings {
  readonly fanout = new Histogram({
    name: 'kmk_hub_fanout_seconds', registers: [],
    help: 'From an engagement event (chat, question, vote, presence) being made to its batch being handed to this process\'s sockets (includes the Redis hop with hub.backplane).',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5],
  });
  readonly backplaneLag = new Histogram({
    name: 'kmk_hub_backplane_lag_seconds', registers: [],
    help: 'From a room owner publishing a batch to Redis to another process receiving it (hub.backplane only).',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  });
  readonly persistBatch = new Histogram({
    name: 'kmk_hub_persist_batch_seconds', registers: [],
    help: 'Time to write one batch of engagement records (chat, votes, attendance) into SQLite.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  });
  all(): Histogram[] {
    return [this.fanout, this.backplaneLag, this.persistBatch];
  }
}

export interface ChannelSource {
  channel: string;
  state: string;
  mode: 'local' | 'mux';
  viewers: number;
  /** Bytes received from the publisher so far, and the frame rate it announced. */
  ingestBytes?: number;
  ingestFps?: number;
  transcoder?: { restarts: number; crashLoop: boolean; speed?: number; slow: boolean; cpuMs: number; pipe: { droppedBytes: number } };
  /** Blocking playlist reloads and hinted parts held for this channel (LL-HLS). */
  llWaiters?: number;
  /** Players that sent a quality beacon in the last minute. */
  players?: number;
  /** Seconds since the ladder last wrote a segment (its first rung's playlist); grows when production stalls. */
  segmentAgeSeconds?: number;
  /** A class published over WebRTC: packets in, those given up on after their retransmission was waited for, video
   * frames dropped waiting for a keyframe, and the round trip to the publisher. */
  webrtc?: { packets: number; lost: number; framesDropped: number; rttMs?: number };
  /** For classes relayed to Mux: the stream's status as Mux's webhooks last told it, and whether our relay runs. */
  mux?: { status: string; relaying: boolean };
}

export interface MetricSources {
  live: { budget: number; used: number; channels: ChannelSource[] };
  origin: { cacheHits: number; notModified: number; stalePlaylists: number; byStatus: ReadonlyMap<string, { requests: number; bytes: number }> };
  ingest: { rejectedPublishes: number; refusedConnections: number; refusedPlays: number; protocolErrors: number };
  /** With webrtc.enabled. */
  webrtc?: { publishers: number; rejectedPublishes: number; badOffers: number; connectTimeouts: number };
  hub: {
    connections: number; frames: number; invalid: number; eventsDropped: number; persistFailures: number; persistRetries: number; persisted: number;
    ownedRooms: number; forwarded: number; fannedIn: number; ownerChanges: number;
    /** With hub.backplane. */
    backplane?: { connected: boolean; published: number; received: number };
    /** With hub.backplane on the writer box. */
    writer?: { active: boolean; written: number; failures: number; backlog: number };
  };
  ws: { sendDropped: number; closedAbnormal: number; oversize: number };
  disk: { freeBytes: number | null; low: boolean; writeErrors: number };
  /** LTI grade passback items waiting to be sent. */
  ltiOutbox: number;
}

type Reader = (s: MetricSources) => [Record<string, string>, number][];

export class Metrics {
  readonly registry = new Registry();
  private snap?: MetricSources;

  /** @param node on a shared store, this box's name: every series carries it as label `node` */
  constructor(private readonly read: () => MetricSources | Promise<MetricSources>, timings?: Timings, node?: string) {
    if (node) this.registry.setDefaultLabels({ node });
    collectDefaultMetrics({ register: this.registry });
    for (const h of timings?.all() ?? []) this.registry.registerMetric(h);
    const one = (v: (s: MetricSources) => number): Reader => (s) => [[{}, v(s)]];
    const maybe = (v: (s: MetricSources) => number | undefined): Reader => (s) => {
      const x = v(s);
      return x === undefined ? [] : [[{}, x]];
    };
    const perChannel = (v: (c: ChannelSource) => number | undefined): Reader => (s) =>
      s.live.channels.flatMap((c) => {
        const x = v(c);
        return x === undefined ? [] : [[{ channel: c.channel }, x] as [Record<string, string>, number]];
      });
    this.gauge('kmk_transcode_budget_pixels_per_second', 'Encoded pixels per second this box may spend on ladders.', [], one((s) => s.live.budget));
    this.gauge('kmk_transcode_used_pixels_per_second', 'Encoded pixels per second the running ladders use.', [], one((s) => s.live.used));
    this.gauge('kmk_live_channels', 'Classes live now (any state but ended).', [], one((s) => s.live.channels.length));
    this.gauge('kmk_channel_live', 'A live class: 1 per channel, with its state and where it runs.', ['channel', 'state', 'mode'],
      (s) => s.live.channels.map((c) => [{ channel: c.channel, state: c.state, mode: c.mode }, 1]));
    this.gauge('kmk_channel_viewers', 'Learners connected to the class\'s engagement hub.', ['channel'], perChannel((c) => c.viewers));
    this.counter('kmk_ingest_received_bytes_total', 'Bytes received from the class\'s publisher (rate() gives the ingest bitrate).', ['channel'], perChannel((c) => c.ingestBytes));
    this.gauge('kmk_ingest_frames_per_second', 'Frame rate the publisher announced (WebRTC: measured).', ['channel'], perChannel((c) => c.ingestFps));
    this.counter('kmk_webrtc_packets_received_total', 'RTP packets received from a WebRTC publisher.', ['channel'], perChannel((c) => c.webrtc?.packets));
    this.counter('kmk_webrtc_packets_lost_total', 'RTP packets a WebRTC publisher\'s retransmission did not bring in time (given up).', ['channel'], perChannel((c) => c.webrtc?.lost));
    this.counter('kmk_webrtc_frames_dropped_total', 'Video frames dropped waiting for a keyframe after a loss.', ['channel'], perChannel((c) => c.webrtc?.framesDropped));
    this.gauge('kmk_webrtc_rtt_seconds', 'Round trip to the WebRTC publisher (ICE).', ['channel'], perChannel((c) => (c.webrtc?.rttMs === undefined ? undefined : c.webrtc.rttMs / 1000)));
    this.gauge('kmk_transcoder_speed_ratio', 'Ladder output seconds per wall-clock second over the last 10 s (1 = keeping up).', ['channel'], perChannel((c) => c.transcoder?.speed));
    this.gauge('kmk_transcoder_slow', 'The ladder has fallen behind real time (1) or not (0).', ['channel'], perChannel((c) => (c.transcoder ? Number(c.transcoder.slow) : undefined)));
    this.counter('kmk_transcoder_cpu_seconds_total', 'CPU seconds the class\'s ffmpeg ladder used.', ['channel'], perChannel((c) => (c.transcoder ? c.transcoder.cpuMs / 1000 : undefined)));
    this.counter('kmk_transcoder_restarts_total', 'Unexpected ffmpeg exits that were restarted.', ['channel'], perChannel((c) => c.transcoder?.restarts));
    this.gauge('kmk_transcoder_crash_loop', 'Several ffmpeg exits within a minute (1).', ['channel'], perChannel((c) => (c.transcoder ? Number(c.transcoder.crashLoop) : undefined)));
    this.counter('kmk_pipe_dropped_bytes_total', 'Media dropped because ffmpeg did not read fast enough.', ['channel'], perChannel((c) => c.transcoder?.pipe.droppedBytes));
    this.gauge('kmk_llhls_held_requests', 'Blocking playlist reloads and hinted parts waiting (LL-HLS).', ['channel'], perChannel((c) => c.llWaiters));
    this.counter('kmk_origin_requests_total', 'HLS and replay requests answered, by kind and status.', ['kind', 'status'],
      (s) => [...s.origin.byStatus].map(([k, v]) => [labelsOf(k), v.requests]));
    this.counter('kmk_origin_sent_bytes_total', 'Bytes of HLS and replay answers, by kind and status.', ['kind', 'status'],
      (s) => [...s.origin.byStatus].map(([k, v]) => [labelsOf(k), v.bytes]));
    this.counter('kmk_origin_memory_cache_hits_total', 'Segments served from the origin\'s memory.', [], one((s) => s.origin.cacheHits));
    this.counter('kmk_origin_not_modified_total', 'Revalidations answered 304.', [], one((s) => s.origin.notModified));
    this.counter('kmk_origin_stale_playlists_total', 'Broken playlists on disk answered with the last good one.', [], one((s) => s.origin.stalePlaylists));
    this.counter('kmk_ingest_rejected_publishes_total', 'Publishes refused (bad key, channel busy, box full).', [], one((s) => s.ingest.rejectedPublishes));
    this.counter('kmk_ingest_refused_connections_total', 'RTMP connections refused (too many failures from an address).', [], one((s) => s.ingest.refusedConnections));
    this.counter('kmk_ingest_refused_plays_total', 'RTMP play requests refused.', [], one((s) => s.ingest.refusedPlays));
    this.counter('kmk_ingest_protocol_errors_total', 'RTMP connections closed for malformed input.', [], one((s) => s.ingest.protocolErrors));
    this.gauge('kmk_webrtc_publishers', 'WebRTC (WHIP) publishers connected.', [], maybe((s) => s.webrtc?.publishers));
    this.counter('kmk_webrtc_rejected_publishes_total', 'WHIP publishes refused (bad key, channel busy, box full).', [], maybe((s) => s.webrtc?.rejectedPublishes));
    this.counter('kmk_webrtc_bad_offers_total', 'WHIP offers refused as malformed or unanswerable.', [], maybe((s) => s.webrtc?.badOffers));
    this.counter('kmk_webrtc_connect_timeouts_total', 'WHIP publishers whose connection never came up (UDP blocked?).', [], maybe((s) => s.webrtc?.connectTimeouts));
    this.gauge('kmk_hub_sockets', 'Open engagement hub WebSockets.', [], one((s) => s.hub.connections));
    // With serve --workers: how the kernel spread the sockets over the processes (each process labels its own).
    this.gauge('kmk_hub_process_sockets', 'Open engagement hub WebSockets of one process, by pid.', ['pid'], (s) => [[{ pid: String(process.pid) }, s.hub.connections]]);
    this.counter('kmk_hub_frames_received_total', 'WebSocket frames received by the hub.', [], one((s) => s.hub.frames));
    this.counter('kmk_hub_invalid_frames_total', 'Frames refused as malformed.', [], one((s) => s.hub.invalid));
    this.counter('kmk_hub_events_dropped_total', 'Events dropped by the hub\'s bounded queues.', [], one((s) => s.hub.eventsDropped));
    this.counter('kmk_hub_send_dropped_total', 'Frames not sent because a socket was over its backpressure limit.', [], one((s) => s.ws.sendDropped));
    this.counter('kmk_hub_backpressure_closes_total', 'Sockets closed abnormally (backpressure, errors).', [], one((s) => s.ws.closedAbnormal));
    this.counter('kmk_hub_oversize_frames_total', 'Frames over the size limit (socket closed with 1009).', [], one((s) => s.ws.oversize));
    this.gauge('kmk_hls_players', 'Players that sent a playback beacon in the last minute.', ['channel'], perChannel((c) => c.players));
    this.gauge('kmk_hls_segment_age_seconds', 'Seconds since the ladder last wrote a segment (segment production lag).', ['channel'], perChannel((c) => c.segmentAgeSeconds));
    this.gauge('kmk_mux_relay_state', 'A class relayed to Mux: 1, with Mux\'s stream status and whether our relay process runs.', ['channel', 'status', 'relaying'],
      (s) => s.live.channels.flatMap((c) => (c.mux ? [[{ channel: c.channel, status: c.mux.status, relaying: String(c.mux.relaying) }, 1] as [Record<string, string>, number]] : [])));
    this.gauge('kmk_hub_rooms_owned', 'Class rooms whose state this process owns.', [], one((s) => s.hub.ownedRooms));
    this.counter('kmk_hub_forwarded_total', 'Messages forwarded to the process owning their room (hub.backplane).', [], one((s) => s.hub.forwarded));
    this.counter('kmk_hub_fanned_in_total', 'Messages from other processes handled by a room this process owns.', [], one((s) => s.hub.fannedIn));
    this.counter('kmk_hub_owner_changes_total', 'Rooms this process took over (first use, or another process gone).', [], one((s) => s.hub.ownerChanges));
    this.gauge('kmk_hub_backplane_connected', 'Every process\'s Redis backplane is connected (1) or one is not (0); absent without one.', [],
      (s) => (s.hub.backplane ? [[{}, Number(s.hub.backplane.connected)]] : []), 'min');
    this.counter('kmk_hub_backplane_messages_total', 'Messages published to and received from the Redis backplane.', ['direction'],
      (s) => (s.hub.backplane ? [[{ direction: 'out' }, s.hub.backplane.published], [{ direction: 'in' }, s.hub.backplane.received]] : []));
    this.gauge('kmk_hub_writer_backlog', 'Engagement records waiting in Redis for the SQLite writer.', [], (s) => (s.hub.writer ? [[{}, s.hub.writer.backlog]] : []));
    this.gauge('kmk_hub_writer_active', 'This box holds the writer lease (1) or waits (0).', [], (s) => (s.hub.writer ? [[{}, Number(s.hub.writer.active)]] : []));
    this.counter('kmk_hub_persisted_total', 'Chat, questions, votes and counters written to SQLite.', [], one((s) => s.hub.persisted));
    this.counter('kmk_hub_persist_retries_total', 'SQLite writes retried (database busy).', [], one((s) => s.hub.persistRetries));
    this.counter('kmk_hub_persist_failures_total', 'SQLite writes that failed after their retries.', [], one((s) => s.hub.persistFailures));
    this.gauge('kmk_lti_outbox_pending', 'LTI grade passback items waiting to be sent.', [], one((s) => s.ltiOutbox));
    this.gauge('kmk_media_disk_low', 'The media disk is below paths.minFreeMegabytes (1): new classes are refused.', [], one((s) => Number(s.disk.low)));
    this.gauge('kmk_media_disk_free_bytes', 'Free bytes on the media disk.', [], (s) => (s.disk.freeBytes === null ? [] : [[{}, s.disk.freeBytes]]));
    this.counter('kmk_media_write_errors_total', 'Failed writes to the media folder.', [], one((s) => s.disk.writeErrors));
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text: one snapshot of every component, read once per scrape; `others` (the JSON of worker
   * processes' registries) are added in, series by series. */
  async text(others: MetricObjectWithValues<MetricValue<string>>[][] = []): Promise<string> {
    const mine = await this.json();
    if (others.length === 0) {
      this.snap = await this.read();
      try {
        return await this.registry.metrics();
      } finally {
        this.snap = undefined;
      }
    }
    return AggregatorRegistry.aggregate([mine, ...others]).metrics();
  }

  /** This process's series as JSON (what a worker hands the main process). */
  async json(): Promise<MetricObjectWithValues<MetricValue<string>>[]> {
    this.snap = await this.read();
    try {
      return await this.registry.getMetricsAsJSON();
    } finally {
      this.snap = undefined;
    }
  }

  /** @param aggregator how the series of worker processes combine with this one's (default: summed) */
  private gauge(name: string, help: string, labelNames: string[], values: Reader, aggregator: 'sum' | 'min' = 'sum'): void {
    const self = this;
    new Gauge({
      name, help, labelNames, registers: [this.registry], aggregator,
      collect() {
        this.reset();
        if (self.snap) for (const [labels, v] of values(self.snap)) this.set(labels, v);
      },
    });
  }

  /** A counter whose total lives in a component: set from it at each scrape (reset, then one increment). */
  private counter(name: string, help: string, labelNames: string[], values: Reader): void {
    const self = this;
    new Counter({
      name, help, labelNames, registers: [this.registry],
      collect() {
        this.reset();
        if (self.snap) for (const [labels, v] of values(self.snap)) if (v > 0) this.inc(labels, v);
      },
    });
  }
}

/** "hls 200" → { kind: 'hls', status: '200' }. */
function labelsOf(key: string): Record<string, string> {
  const [kind = '', status = ''] = key.split(' ');
  return { kind, status };
}
