// Benchmark (not a test): one real class on this box, measured for the cost report. A 720p30 publisher (OBS-like,
// 2 s keyframes) is pushed over RTMP for --minutes; --viewers synthetic learners join the hub and pull the ladder
// like a player (playlist every segment, each new segment once; a third each on 720p, 480p and 360p). At the end the
// server's own counters (origin bytes, ladder CPU, audience minutes) and the cost report are printed, then scaled to
// 2,000 learners by the arithmetic docs/cost.md states.
// Usage: npm run bench:cost [-- --minutes 5 --viewers 30]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { loadConfig } from '../dist/config/load.js';
import { createLogger } from '../dist/log.js';
import { startServer } from '../dist/server.js';
import { signJoinToken } from '../dist/auth/join-token.js';
import { loadJoinSecret } from '../dist/auth/join-secret.js';
import { pricesFrom } from '../dist/reports/prices.js';
import { periodCost } from '../dist/reports/service.js';

const arg = (name, dflt) => (process.argv.includes(`--${name}`) ? Number(process.argv[process.argv.indexOf(`--${name}`) + 1]) : dflt);
const minutes = arg('minutes', 5);
const viewers = arg('viewers', 30);
const port = () => new Promise((r) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });

const dir = mkdtempSync(join(tmpdir(), 'kmk-cost-'));
const httpPort = await port();
const config = loadConfig({ cwd: dir, env: { KMK_BIND_ADDRESS: '127.0.0.1', KMK_HTTP_PORT: String(httpPort), KMK_RTMP_PORT: String(await port()), KMK_INGEST_RECONNECT_GRACE_SECONDS: '1', KMK_LOG_LEVEL: 'warn' } });
const server = await startServer(config, { log: createLogger('warn') });
const base = `http://127.0.0.1:${httpPort}`;
const ch = server.store.channels.create({ slug: 'cost-bench', title: 'Cost bench', ladder: ['720p', '480p', '360p'], latency: 'standard', record: true, archive: false, overflow: 'degrade', public: true });
const key = server.store.streamKeys.rotate(ch.id).key;
const secret = loadJoinSecret('', config['paths.data']);

console.log(`pushing ${minutes} min of 720p30 with ${viewers} synthetic learners on this box…`);
const pub = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
  '-t', String(minutes * 60), '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '3000k', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
  '-c:a', 'aac', '-b:a', '128k', '-f', 'flv', `rtmp://127.0.0.1:${server.rtmpPort}/live/${key}`], { stdio: 'ignore' });
const done = new Promise((r) => pub.once('close', r));

// Learners: a hub socket each (attendance) and a player loop on one rendition.
const sockets = [];
let stop = false;
const rungs = ['720p', '480p', '360p'];
const players = [];
for (let i = 0; i < viewers; i++) {
  const token = signJoinToken({ sub: `viewer-${i}`, name: `Viewer ${i}`, role: 'learner', channel: 'cost-bench', exp: Math.floor(Date.now() / 1000) + 7200 }, secret);
  sockets.push(new WebSocket(`ws://127.0.0.1:${httpPort}/ws?token=${token}`));
  const rung = rungs[i % 3];
  players.push((async () => {
    const seen = new Set();
    while (!stop) {
      const r = await fetch(`${base}/hls/cost-bench/${rung}/index.m3u8`).catch(() => undefined);
      if (r?.ok) {
        for (const seg of (await r.text()).split('\n').filter((l) => l && !l.startsWith('#')).slice(-2)) {
          if (seen.has(seg)) continue;
          seen.add(seg);
          await (await fetch(`${base}/hls/cost-bench/${rung}/${seg}`)).arrayBuffer();
        }
      } else await r?.arrayBuffer();
      await new Promise((res) => setTimeout(res, 2000));
    }
  })());
}
await done;
stop = true;
await Promise.all(players);
for (const s of sockets) s.close();
await new Promise((r) => setTimeout(r, 3000)); // the class ends after the 1 s grace
const session = server.store.sessions.list({ channel: 'cost-bench', limit: 1 })[0];
await server.stop(); // flushes the traffic counters

const { openStore } = await import('../dist/store/index.js');
const store = openStore(join(dir, 'data', 'kmk.db'));
const day = Date.parse(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
const report = periodCost(store, pricesFrom(config), day, day + 86_400_000, Date.now());
const c = report.classes.find((x) => x.sessionId === session.id);
const traffic = store.reports.traffic(session.id);
store.close();
rmSync(dir, { recursive: true, force: true });

const perViewerMin = (c.gbServed * 1e3) / Math.max(1, c.viewerMinutes);
console.log(`\nmeasured class: ${c.minutes} min, ${viewers} learners, ${c.viewerMinutes} viewer-minutes, peak ${c.peakViewers}`);
console.log(`origin served ${c.gbServed} GB (${perViewerMin.toFixed(2)} MB per viewer-minute); by rendition: ${traffic.map((t) => `${t.rendition} ${(t.bytes / 1e6).toFixed(1)} MB`).join(', ')}`);
console.log(`ladder encode CPU: ${c.encodeCpuSeconds} s (${(c.encodeCpuSeconds / c.minutes).toFixed(1)} CPU-s per class minute)`);
console.log(`cost of this class: self-hosted $${c.ours.total} (box share $${c.ours.box}, egress $${c.ours.egress}); all-Mux $${c.allMux}`);
// Scaled to 2,000 learners for the same length: egress and Mux delivery grow with viewer-minutes; the box share and
// the encode do not (one ladder whatever the audience).
const scale = 2000 / viewers;
const vm = c.viewerMinutes * scale;
const egress = c.ours.egress * scale;
const prices = pricesFrom(config);
const muxAll = c.minutes * prices.muxEncodePerMinSd + vm * prices.muxDeliveryPerMin;
console.log(`scaled to 2,000 learners: ${vm.toFixed(0)} viewer-minutes, ${(c.gbServed * scale).toFixed(1)} GB; self-hosted $${(c.ours.box + egress).toFixed(2)} `
  + `(box $${c.ours.box} + egress $${egress.toFixed(2)}); all-Mux $${muxAll.toFixed(2)}`);
