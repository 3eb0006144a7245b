// /metrics scraped during a real class (an `ultra` one, so LL-HLS series exist too) and parsed with a Prometheus
// text-format parser: the series exist, follow the naming conventions and move. The Grafana dashboard in docs/
// asks only for series that exist. An optional bearer token guards the endpoint.
import { networkInterfaces } from 'node:os';
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import parse from 'parse-prometheus-text-format';
import { ROOT } from './helpers/cli.js';
import { freePort, push, startTestServer, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

interface Family { name: string; type: string; help: string; metrics: { value?: string; labels?: Record<string, string>; buckets?: unknown }[] }

const scrape = async (base: string, headers: Record<string, string> = {}): Promise<Map<string, Family>> => {
  const r = await fetch(`${base}/metrics`, { headers });
  return new Map((parse(await r.text()) as Family[]).map((f) => [f.name, f]));
};
const value = (m: Map<string, Family>, name: string, labels: Record<string, string> = {}): number => {
  const s = m.get(name)?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return s?.value === undefined ? Number.NaN : Number(s.value);
};

t.test('the metrics of a live class exist, follow the conventions and move', async (t) => {
  const ts = await startTestServer(testdir(t));
  t.teardown(() => ts.server.stop());
  const { key } = ts.createChannel('lecture', { latency: 'ultra', ladder: ['360p'], record: false });
  const pub = push(ts.rtmp(key), { seconds: 40, size: '640x360', gop: 30 });
  t.teardown(() => pub.kill('SIGKILL'));
  await waitFor('the master playlist', async () => (await ts.get('/hls/lecture/master.m3u8')).status === 200, 30000);
  await ts.get('/hls/lecture/360p/index.m3u8');
  await ts.get('/hls/lecture/nope.m3u8');
  const first = await scrape(ts.base);
  for (const f of first.values()) {
    t.match(f.name, /^[a-z_:][a-z0-9_:]*$/, `${f.name}: a valid name`);
    if (f.type === 'COUNTER') t.match(f.name, /_total$/, `${f.name}: counters end in _total`);
    t.ok(f.help.length > 0, `${f.name}: has help`);
  }
  const expected = ['kmk_channel_live', 'kmk_channel_viewers', 'kmk_ingest_received_bytes_total', 'kmk_ingest_frames_per_second', 'kmk_transcoder_cpu_seconds_total',
    'kmk_transcoder_restarts_total', 'kmk_origin_requests_total', 'kmk_origin_sent_bytes_total', 'kmk_llhls_held_requests', 'kmk_hub_sockets',
    'kmk_hub_frames_received_total', 'kmk_hub_backpressure_closes_total', 'kmk_lti_outbox_pending', 'kmk_media_disk_free_bytes',
    'process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds'];
  for (const name of expected) t.ok(first.has(name), `${name} is exported`);
  t.equal(value(first, 'kmk_channel_live', { channel: 'lecture', mode: 'local' }), 1);
  t.equal(value(first, 'kmk_ingest_frames_per_second', { channel: 'lecture' }), 30);
  t.ok(value(first, 'kmk_origin_requests_total', { kind: 'hls', status: '404' }) >= 1, 'a 404 counted by status');
  // A held blocking reload shows up while it waits.
  const text = await (await ts.get('/hls/lecture/360p/index.m3u8')).text();
  const hint = /PRELOAD-HINT:TYPE=PART,URI="[^"]*_(\d+)\.(\d+)\.m4s"/.exec(text)!;
  const held = ts.get(`/hls/lecture/360p/index.m3u8?_HLS_msn=${Number(hint[1]) + 1}&_HLS_part=1`);
  await new Promise((r) => setTimeout(r, 100));
  t.ok(value(await scrape(ts.base), 'kmk_llhls_held_requests', { channel: 'lecture' }) >= 1, 'a held reload is counted');
  await held;
  await new Promise((r) => setTimeout(r, 2500));
  const second = await scrape(ts.base);
  t.ok(value(second, 'kmk_ingest_received_bytes_total', { channel: 'lecture' }) > value(first, 'kmk_ingest_received_bytes_total', { channel: 'lecture' }), 'ingest bytes move');
  t.ok(value(second, 'kmk_origin_requests_total', { kind: 'hls', status: '200' }) > value(first, 'kmk_origin_requests_total', { kind: 'hls', status: '200' }), 'origin requests move');
  t.ok(value(second, 'kmk_transcoder_cpu_seconds_total', { channel: 'lecture' }) > 0, 'the ladder\'s CPU is counted');

  // Every series the Grafana dashboard asks for exists.
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'docs', 'grafana', 'kmk-live.json'), 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[] };
  t.ok(dashboard.panels.length >= 10, `${dashboard.panels.length} panels`);
  const asked = new Set(dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((x) => x.expr.match(/\b(kmk_[a-z0-9_]+|process_[a-z0-9_]+|nodejs_[a-z0-9_]+)/g) ?? [])));
  for (const name of asked) t.ok(second.has(name.replace(/_(bucket|sum|count)$/, '')), `dashboard series ${name} exists`);
});

t.test('metrics.token guards /metrics', async (t) => {
  const ts = await startTestServer(testdir(t), { KMK_METRICS_TOKEN: 'scrape-me' });
  t.teardown(() => ts.server.stop());
  const none = await ts.get('/metrics');
  t.equal(none.status, 401);
  t.equal(none.headers.get('www-authenticate'), 'Bearer');
  t.equal((await ts.get('/metrics', { Authorization: 'Bearer wrong' })).status, 401);
  const ok = await ts.get('/metrics', { Authorization: 'Bearer scrape-me' });
  t.equal(ok.status, 200);
  t.match(ok.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  t.match(await ok.text(), /kmk_hub_sockets 0/);
});

/** An address of this box that is not loopback (a request to it comes from it), if it has one. */
const outside = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

t.test('without metrics.token, /metrics answers only this box', async (t) => {
  const ts = await startTestServer(testdir(t), { KMK_BIND_ADDRESS: '0.0.0.0', KMK_METRICS_LISTEN: `127.0.0.1:${await freePort()}` });
  t.teardown(() => ts.server.stop());
  const local = await ts.get('/metrics');
  t.equal(local.status, 200, 'a client on loopback gets the series');
  t.match(await local.text(), /kmk_hub_sockets 0/);
  for (const h of [{ 'X-Forwarded-For': '203.0.113.9' }, { 'X-Real-IP': '203.0.113.9' }, { Forwarded: 'for=203.0.113.9' }]) {
    const r = await ts.get('/metrics', h);
    t.equal(r.status, 403, `a request a proxy on this box forwarded (${Object.keys(h)[0]}) is not local`);
    t.match(await r.text(), /metrics\.token/, 'and the answer says how to open it');
  }
  if (outside) {
    const r = await fetch(`http://${outside}:${ts.server.httpPort}/metrics`);
    t.equal(r.status, 403, `a client at ${outside} is refused`);
    t.equal((await fetch(`http://${outside}:${ts.server.httpPort}/healthz`)).status, 200, 'while /healthz still answers it');
  } else {
    t.comment('this box has no address but loopback: the direct non-loopback request was not tried');
  }
  // metrics.listen: the separate address answers anyone who reaches it, and nothing but /metrics.
  const at = `http://127.0.0.1:${ts.server.metricsPort}`;
  const sep = await fetch(`${at}/metrics`, { headers: { 'X-Forwarded-For': '203.0.113.9' } });
  t.equal(sep.status, 200, 'metrics.listen answers a forwarded request');
  t.match(await sep.text(), /kmk_hub_sockets 0/);
  t.equal((await fetch(`${at}/hls/x/master.m3u8`)).status, 404, 'and serves nothing else');
});
