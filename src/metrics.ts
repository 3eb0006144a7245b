// The /metrics text (Prometheus exposition format): one place that reads every component's counters. Pure over
// the snapshot it is given; the composition root passes the live components in.

export interface MetricSources {
  live: { budget: number; used: number; channels: { channel: string; transcoder?: { restarts: number; crashLoop: boolean; pipe: { droppedBytes: number } } }[] };
  origin: { requests: number; cacheHits: number; notFound: number; bytesOut: number; stalePlaylists: number };
  ingest: { rejectedPublishes: number; refusedConnections: number; refusedPlays: number; protocolErrors: number };
  hub: { connections: number; frames: number; invalid: number; eventsDropped: number; persistFailures: number; persistRetries: number };
  ws: { sendDropped: number; closedAbnormal: number };
  disk: { freeBytes: number | null; low: boolean; writeErrors: number };
}

export function metricsText(m: MetricSources): string {
  const lines = [
    `kmk_transcode_budget_pixels_per_second ${m.live.budget}`,
    `kmk_transcode_used_pixels_per_second ${m.live.used}`,
    `kmk_live_channels ${m.live.channels.length}`,
    `kmk_origin_requests_total ${m.origin.requests}`,
    `kmk_origin_cache_hits_total ${m.origin.cacheHits}`,
    `kmk_origin_not_found_total ${m.origin.notFound}`,
    `kmk_origin_bytes_out_total ${m.origin.bytesOut}`,
    `kmk_origin_stale_playlists_total ${m.origin.stalePlaylists}`,
    `kmk_ingest_rejected_publishes_total ${m.ingest.rejectedPublishes}`,
    `kmk_ingest_refused_connections_total ${m.ingest.refusedConnections}`,
    `kmk_ingest_refused_plays_total ${m.ingest.refusedPlays}`,
    `kmk_ingest_protocol_errors_total ${m.ingest.protocolErrors}`,
    `kmk_hub_connections ${m.hub.connections}`,
    `kmk_hub_frames_total ${m.hub.frames}`,
    `kmk_hub_invalid_frames_total ${m.hub.invalid}`,
    `kmk_hub_events_dropped_total ${m.hub.eventsDropped}`,
    `kmk_hub_send_dropped_total ${m.ws.sendDropped}`,
    `kmk_hub_closed_abnormal_total ${m.ws.closedAbnormal}`,
    `kmk_hub_persist_failures_total ${m.hub.persistFailures}`,
    `kmk_hub_persist_retries_total ${m.hub.persistRetries}`,
    `kmk_media_disk_low ${m.disk.low ? 1 : 0}`,
    `kmk_media_write_errors_total ${m.disk.writeErrors}`,
  ];
  if (m.disk.freeBytes !== null) lines.push(`kmk_media_disk_free_bytes ${m.disk.freeBytes}`);
  for (const c of m.live.channels) {
    const t = c.transcoder;
    if (!t) continue;
    lines.push(`kmk_transcoder_restarts_total{channel="${c.channel}"} ${t.restarts}`);
    lines.push(`kmk_transcoder_crash_loop{channel="${c.channel}"} ${t.crashLoop ? 1 : 0}`);
    lines.push(`kmk_pipe_dropped_bytes_total{channel="${c.channel}"} ${t.pipe.droppedBytes}`);
  }
  return lines.join('\n') + '\n';
}
