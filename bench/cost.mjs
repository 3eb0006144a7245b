// Benchmark (not a test): what a lecture class costs, measured on this box. The lecture-like source (bench/sources.mjs;
// slides, a camera inset, a pointer, speech) is pushed like OBS (2,500 kbit/s, 2 s keyframes) over RTMP for --minutes
// into a channel with the default ladder and the lecture profile, whose LMS course has a roster of --learners (so
// the top rung is decided as for that class). --viewers synthetic learners join the hub and pull the ladder like the
// watch page's player: each picks the rung its box needs (half a course-page iframe 880 px wide, a fifth a laptop
// full screen 1440 px, three tenths a phone 390 px at 3x; domain/rung-choice.ts) and fetches its playlist, the
// shared audio playlist and each new segment. Then the server's own counters (origin bytes, ladder CPU, audience
// minutes) and its cost report for the class; then the same class for --learners over --class-minutes, self-hosted
// at the configured CDN price and at $0 (the box's own bandwidth), all-Mux and Zoom, side by side.
// Usage: npm run bench:cost [-- --minutes 5 --viewers 40 --learners 2000 --class-minutes 60]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { loadConfig } from '../dist/config/load.js';
import { createLogger } from '../dist/log.js';
import { startServer } from '../dist/server.js';
import { signJoinToken } from '../dist/auth/join-token.js';
import { loadJoinSecret } from '../dist/auth/join-secret.js';
import { pickRung } from '../dist/domain/rung-choice.js';
import { pricesFrom } from '../dist/reports/prices.js';
import { periodCost, sessionReport } from '../dist/reports/service.js';
import { lectureFilter, makeSource } from './sources.mjs';

const arg = (name, dflt) => (process.argv.includes(`--${name}`) ? Number(process.argv[process.argv.indexOf(`--${name}`) + 1]) : dflt);
const minutes = arg('minutes', 5);
const viewers = arg('viewers', 40);
const learners = arg('learners', 2000);
const classMinutes = arg('class-minutes', 60);
const port = () => new Promise((r) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
/** Who watches, in what box (as bench/bitrate.mjs): every tenth learner's device, in order. */
const DEVICES = [
  ...Array(5).fill({ name: 'iframe 880 px', width: 880, dpr: 1 }),
  ...Array(2).fill({ name: 'laptop 1440 px', width: 1440, dpr: 1 }),
  ...Array(3).fill({ name: 'phone 390 px @3x', width: 390, dpr: 3 }),
];

const dir = mkdtempSync(join(tmpdir(), 'kmk-cost-'));
console.log(`machine: ${cpus()[0]?.model.trim()} x${cpus().length}`);
console.log('making the lecture-like source (60 s, looped)…');
const src = makeSource(dir, 'lecture', lectureFilter(60, 30), 60).sent;

const httpPort = await port();
const config = loadConfig({ cwd: dir, env: { KMK_BIND_ADDRESS: '127.0.0.1', KMK_HTTP_PORT: String(httpPort), KMK_RTMP_PORT: String(await port()), KMK_INGEST_RECONNECT_GRACE_SECONDS: '1', KMK_LOG_LEVEL: 'warn' } });
const server = await startServer(config, { log: createLogger('warn') });
const base = `http://127.0.0.1:${httpPort}`;
const ladder = config['channels.defaultLadder'].split(',');
const ch = server.store.channels.create({ slug: 'cost-bench', title: 'Cost bench', ladder, latency: 'standard', record: true, archive: false, overflow: 'degrade', public: true, profile: 'lecture' });
const key = server.store.streamKeys.rotate(ch.id).key;
// The class's course: its roster is the audience the top rung's decision expects.
const course = server.store.classes.createCourse('Cost bench course', ch.id);
server.store.classes.replaceRoster(course.id, Array.from({ length: learners }, (_, i) => ({
  userId: `u${i}`, ltiSub: `sub-${i}`, name: `Learner ${i}`, email: null, role: 'learner', active: true,
})), Date.now());
const secret = loadJoinSecret('', config['paths.data']);

console.log(`pushing ${minutes} min of the lecture source with ${viewers} synthetic learners (course roster: ${learners})…`);
const pub = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', src, '-t', String(minutes * 60),
  '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${server.rtmpPort}/live/${key}`], { stdio: 'ignore' });
const done = new Promise((r) => pub.once('close', r));

const sockets = [];
let stop = false;
const chosen = {};
const players = [];
const get = async (path) => {
  const r = await fetch(`${base}${path}`).catch(() => undefined);
  if (!r) return undefined;
  const body = await r.arrayBuffer();
  return r.ok ? Buffer.from(body).toString('latin1') : undefined;
};
for (let i = 0; i < viewers; i++) {
  const token = signJoinToken({ sub: `u${i}`, name: `Learner ${i}`, role: 'learner', channel: 'cost-bench', exp: Math.floor(Date.now() / 1000) + 7200 }, secret);
  sockets.push(new WebSocket(`ws://127.0.0.1:${httpPort}/ws?token=${token}`));
  const device = DEVICES[i % DEVICES.length];
  players.push((async () => {
    let master;
    while (!stop && !(master = await get('/hls/cost-bench/master.m3u8'))) await new Promise((r) => setTimeout(r, 1000));
    if (!master) return;
    const variants = [...master.matchAll(/RESOLUTION=(\d+)x(\d+)[^\n]*\n([^\n]+)/g)].map((m) => ({ width: Number(m[1]), height: Number(m[2]), uri: m[3].trim() }));
    const rung = pickRung(variants, device).uri.split('/')[0];
    chosen[`${device.name} → ${rung}`] = (chosen[`${device.name} → ${rung}`] ?? 0) + 1;
    const seen = new Set();
    while (!stop) {
      for (const folder of [rung, 'audio']) {
        const list = await get(`/hls/cost-bench/${folder}/index.m3u8`);
        for (const seg of (list ?? '').split('\n').filter((l) => l && !l.startsWith('#')).slice(-2)) {
          if (seen.has(`${folder}/${seg}`)) continue;
          seen.add(`${folder}/${seg}`);
          await get(`/hls/cost-bench/${folder}/${seg}`);
        }
      }
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
const { asStore } = await import('../dist/store/sqlite/index.js');
const day = Date.parse(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
const prices = pricesFrom(config);
const report = await periodCost(asStore(store), prices, day, day + 86_400_000, Date.now());
const classReport = await sessionReport(asStore(store), session.id, Date.now());
const c = report.classes.find((x) => x.sessionId === session.id);
const traffic = store.reports.traffic(session.id);
store.close();
rmSync(dir, { recursive: true, force: true });

const usd = (n) => `$${n.toFixed(2)}`;
console.log(`\nladder: ${session.ladder.join(', ')}; ${classReport?.session.topRung ?? 'no top-rung decision recorded'}`);
console.log(`players chose: ${Object.entries(chosen).map(([k, n]) => `${n} ${k}`).join(', ')}`);
console.log(`measured class: ${c.minutes} min, ${viewers} learners, ${c.viewerMinutes} viewer-minutes, peak ${c.peakViewers}`);
console.log(`origin served ${c.gbServed} GB, ${c.mbPerViewerMinute} MB per viewer-minute; by rendition: ${traffic.map((t) => `${t.rendition} ${(t.bytes / 1e6).toFixed(1)} MB`).join(', ')}`);
console.log(`ladder encode CPU: ${c.encodeCpuSeconds} s (${(c.encodeCpuSeconds / c.minutes).toFixed(1)} CPU-s per class minute)`);
console.log(`the cost report for this class: egress priced at $${report.egressPerGb}/GB; self-hosted ${usd(c.ours.total)} `
  + `(box share ${usd(c.ours.box)}, egress ${usd(c.ours.egress)}), ${usd(c.oursAtZeroEgress)} at $0/GB; all-Mux ${usd(c.allMux)}`);

// The same class for `learners` over `classMinutes`: egress and Mux delivery grow with viewer-minutes; the box
// share and the encode do not (one ladder whatever the audience). Mux encodes the 720p source at its SD rate and
// stores the recording for a month; Zoom's licence is shared over the box's classes a month.
const vm = learners * classMinutes;
const gb = (c.mbPerViewerMinute * vm) / 1000;
const box = prices.boxPerMonth / prices.classesPerMonth;
const cdn = gb * prices.cdnPerGb;
const muxEncode = classMinutes * prices.muxEncodePerMinSd;
const muxDelivery = vm * prices.muxDeliveryPerMin;
const muxStorage = classMinutes * prices.muxStoragePerMinMonth;
const allMux = muxEncode + muxDelivery + muxStorage;
const zoom = ((prices.zoomPerHostPerMonth + prices.zoomLargeMeetingPerMonth) * prices.zoomHosts) / prices.classesPerMonth;
const uplinkGbps = (learners * c.mbPerViewerMinute * 8) / 60 / 1000;
const vs = (x) => `${Math.round(((allMux - x) / allMux) * 100)} % less than all-Mux`;
console.log(`\n${learners} learners × ${classMinutes} min = ${vm.toLocaleString('en-US')} viewer-minutes, ${gb.toFixed(1)} GB at the measured ${c.mbPerViewerMinute} MB per viewer-minute `
  + `(the box or CDN sends ${uplinkGbps.toFixed(2)} Gbit/s):`);
console.log(`| | self-hosted, CDN at $${prices.cdnPerGb}/GB | self-hosted, the box's own bandwidth ($0/GB) | all-Mux | Zoom |`);
console.log('|---|---|---|---|---|');
console.log(`| box share ($${prices.boxPerMonth} / ${prices.classesPerMonth} classes) | ${usd(box)} | ${usd(box)} | – | – |`);
console.log(`| egress / delivery | ${usd(cdn)} | $0.00 | ${usd(muxDelivery)} (${vm.toLocaleString('en-US')} × $${prices.muxDeliveryPerMin}) | – |`);
console.log(`| encoding, storage | on the box | on the box | ${usd(muxEncode + muxStorage)} | – |`);
console.log(`| licence share ((${prices.zoomPerHostPerMonth} + ${prices.zoomLargeMeetingPerMonth}) × ${prices.zoomHosts} hosts / ${prices.classesPerMonth} classes) | – | – | – | ${usd(zoom)} |`);
console.log(`| **total** | **${usd(box + cdn)}** (${vs(box + cdn)}) | **${usd(box)}** (${vs(box)}) | **${usd(allMux)}** | **${usd(zoom)}** |`);
