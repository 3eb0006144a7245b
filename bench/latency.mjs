// Benchmark (not a test): glass-to-glass latency as a viewer sees it. A synthetic source paints the wall-clock
// time into every frame (a 32-bit barcode of milliseconds), is pushed over RTMP with x264 like OBS would, goes
// through the real server (ladder running) and is played by the real watch page in Chromium; the page reads the
// barcode back from the decoded frames on a canvas and compares it with the clock. Same run, side by side:
// latency modes ultra, low and standard, and a baseline of ffmpeg writing plain HLS straight from the same source
// (no server logic: the floor for classic HLS), played by hls.js with the same settings as `low`.
// Then the cost of held blocking reloads: 10, 100 and 1000 requests waiting for the same part.
// With --source browser: the source is a browser instead of ffmpeg — a page in Chromium paints the same barcode on a
// canvas and goes live over WebRTC (WHIP) as the studio does; measured beside the RTMP source in the same run.
// Usage: npm run bench:latency [-- --seconds 20] [-- --source browser] [-- --modes ultra,low] [-- --no-stage] [-- --no-picture]
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { chromium } from 'playwright-core';
import { ffmpegCpu, freePort, sleep } from './lib.mjs';
import { loadConfig } from '../dist/config/load.js';
import { createLogger } from '../dist/log.js';
import { startServer } from '../dist/server.js';
import { signJoinToken } from '../dist/auth/join-token.js';
import { loadJoinSecret } from '../dist/auth/join-secret.js';

const arg = (name, def) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : def);
const SAMPLE_SECONDS = arg('--seconds', 20);
const WARMUP_SECONDS = 8;
const W = 1280;
const H = 720;
const FPS = 30;
const BLOCK = 32; // barcode cell, px (16 px on the 360p rung)
const EPOCH = Date.now();


/** The source: Node paints ms-since-EPOCH into gray frames at 30 fps; ffmpeg encodes them like OBS and pushes. */
function startSource(outputArgs) {
  const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error',
    '-f', 'rawvideo', '-pix_fmt', 'gray', '-s', `${W}x${H}`, '-r', String(FPS), '-i', 'pipe:0',
    '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-map', '0:v', '-map', '1:a', '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
    '-g', String(FPS), '-keyint_min', String(FPS), '-sc_threshold', '0', '-b:v', '3000k', '-c:a', 'aac', '-b:a', '128k',
    ...outputArgs], { stdio: ['pipe', 'ignore', 'inherit'] });
  ff.stdin.on('error', () => {});
  const frame = Buffer.alloc(W * H, 96);
  let n = 0;
  const t0 = performance.now();
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    const ms = (Date.now() - EPOCH) >>> 0;
    for (let bit = 0; bit < 32; bit += 1) {
      const on = (ms >>> (31 - bit)) & 1;
      const x0 = (bit % 16) * BLOCK;
      const y0 = Math.floor(bit / 16) * BLOCK;
      for (let y = y0; y < y0 + BLOCK; y += 1) frame.fill(on ? 235 : 16, y * W + x0, y * W + x0 + BLOCK);
    }
    if (ff.stdin.writable) ff.stdin.write(frame);
    n += 1;
    setTimeout(tick, Math.max(0, t0 + (n * 1000) / FPS - performance.now()));
  };
  tick();
  return { stop: () => { stopped = true; ff.stdin.end(); ff.kill('SIGKILL'); } };
}

/** Runs in the page: reads the barcode from the playing video and returns (now - painted) in ms, or null. */
function readLatency(epoch) {
  const v = document.querySelector('video');
  if (!v || v.readyState < 2 || v.videoWidth === 0) return null;
  const c = (window.__kmkCanvas ??= document.createElement('canvas'));
  c.width = v.videoWidth;
  c.height = v.videoHeight;
  const g = c.getContext('2d', { willReadFrequently: true });
  g.drawImage(v, 0, 0);
  const cell = (32 * v.videoWidth) / 1280;
  const img = g.getImageData(0, 0, Math.ceil(cell * 16), Math.ceil(cell * 2)).data;
  const stride = Math.ceil(cell * 16);
  let ms = 0;
  for (let bit = 0; bit < 32; bit += 1) {
    const x = Math.floor((bit % 16) * cell + cell / 2);
    const y = Math.floor(Math.floor(bit / 16) * cell + cell / 2);
    const luma = img[(y * stride + x) * 4];
    ms = (ms * 2) + (luma > 128 ? 1 : 0);
  }
  const now = (Date.now() - epoch) >>> 0;
  const d = now - ms;
  return d >= 0 && d < 60000 ? d : null;
}

async function measure(context, url, label) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(url);
  await page.waitForFunction(() => {
    const v = document.querySelector('video');
    return v && v.currentTime > 0.5 && !v.paused;
  }, undefined, { timeout: 60000 });
  await page.evaluate(() => {
    window.__stalls = 0;
    document.querySelector('video').addEventListener('waiting', () => { window.__stalls += 1; });
  });
  await sleep(WARMUP_SECONDS * 1000);
  await page.evaluate(() => { window.__stalls = 0; });
  const samples = [];
  const end = Date.now() + SAMPLE_SECONDS * 1000;
  while (Date.now() < end) {
    const d = await page.evaluate(readLatency, EPOCH);
    if (d !== null) samples.push(d);
    await sleep(200);
  }
  const stalls = await page.evaluate(() => window.__stalls);
  const player = await page.evaluate(() => ({ ...document.querySelector('.player')?.dataset }));
  await page.close();
  samples.sort((a, b) => a - b);
  const q = (p) => samples[Math.min(samples.length - 1, Math.floor(samples.length * p))] / 1000;
  const r = { label, samples: samples.length, p50: q(0.5), p90: q(0.9), stalls };
  const own = player.latency ? `, player's own estimate ${Number(player.latency).toFixed(2)} s${player.lowLatency === 'on' ? ', low-latency mode' : ''}` : '';
  console.log(`${label.padEnd(32)} p50 ${r.p50.toFixed(2)} s   p90 ${r.p90.toFixed(2)} s   (${r.samples} samples, ${stalls} stalls${own})`);
  return r;
}

/** Runs in a page of the server's origin: paints the barcode on a canvas at 30 fps and publishes it over WHIP. */
async function publishCanvas({ slug, key, epoch, w, h, block }) {
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  document.body.append(c);
  const g = c.getContext('2d');
  const paint = () => {
    g.fillStyle = '#606060';
    g.fillRect(0, 0, w, h);
    const ms = (Date.now() - epoch) >>> 0;
    for (let bit = 0; bit < 32; bit += 1) {
      g.fillStyle = ((ms >>> (31 - bit)) & 1) ? '#ebebeb' : '#101010';
      g.fillRect((bit % 16) * block, Math.floor(bit / 16) * block, block, block);
    }
  };
  // A worker's clock, as the studio's: this page is in the background once the viewer's page opens, and a
  // background page's own timers slow to once a second.
  const worker = new Worker(URL.createObjectURL(new Blob(['setInterval(() => postMessage(0), 1000 / 30)'], { type: 'text/javascript' })));
  worker.onmessage = paint;
  window.__worker = worker;
  const stream = c.captureStream(30);
  const track = stream.getVideoTracks()[0];
  track.contentHint = 'detail';
  const ac = new AudioContext();
  const osc = ac.createOscillator();
  const dst = ac.createMediaStreamDestination();
  osc.connect(dst);
  osc.start();
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  const vt = pc.addTransceiver(track, { direction: 'sendonly', sendEncodings: [{ maxBitrate: 2_500_000 }] });
  pc.addTransceiver(dst.stream.getAudioTracks()[0], { direction: 'sendonly' });
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((r) => setTimeout(r, 1000));
  const r = await fetch(`/whip/${slug}`, { method: 'POST', headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${key}` }, body: pc.localDescription.sdp });
  const answer = await r.text();
  if (r.status !== 201) return `${r.status} ${answer}`;
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  const p = vt.sender.getParameters();
  p.degradationPreference = 'maintain-resolution';
  await vt.sender.setParameters(p);
  window.__pc = pc;
  return 'ok';
}

/** A browser source: the teacher's Chromium, a process of its own (its page stays in the foreground). */
async function browserSource(base, slug, key) {
  const profile = mkdtempSync(join(tmpdir(), 'kmk-bench-teacher-'));
  const teacher = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.KMK_CHROMIUM ?? '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = await teacher.newPage();
  await page.goto(`${base}/`);
  const ok = await page.evaluate(publishCanvas, { slug, key, epoch: EPOCH, w: W, h: H, block: BLOCK });
  if (ok !== 'ok') throw new Error(`the browser could not go live: ${ok}`);
  return { stop: async () => { await teacher.close(); rmSync(profile, { recursive: true, force: true }); } };
}

const SOURCE = process.argv.includes('--source') ? process.argv[process.argv.indexOf('--source') + 1] : 'rtmp';
const results = [];
const dir = mkdtempSync(join(tmpdir(), 'kmk-bench-latency-'));
const profile = mkdtempSync(join(tmpdir(), 'kmk-bench-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.KMK_CHROMIUM ?? '/usr/bin/chromium', headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--autoplay-policy=no-user-gesture-required'],
});
console.log(`machine: ${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}, ${SAMPLE_SECONDS} s of samples per mode after ${WARMUP_SECONDS} s of warm-up`);
console.log(process.argv.includes('browser')
  ? 'ladder: 360p (encoded, veryfast); sources: 1280x720p30 x264 over RTMP, and a 1280x720 canvas in Chromium over WebRTC (VP8, up to 2.5 Mbit/s)\n'
  : 'ladder: 720p (copied, or encoded under the stage picture) + 360p (encoded, veryfast), source 1280x720p30 x264 veryfast zerolatency, 1 s GOP\n');

const httpPort = await freePort();
const config = loadConfig({
  env: {
    KMK_BIND_ADDRESS: '127.0.0.1', KMK_HTTP_PORT: String(httpPort), KMK_PUBLIC_URL: `http://127.0.0.1:${httpPort}`,
    KMK_RTMP_PORT: String(await freePort()), KMK_LOG_LEVEL: 'warn', KMK_INGEST_RECONNECT_GRACE_SECONDS: '1',
    // --no-stage: WebRTC off, so the ladder has no stage input (the baseline for the stage mixer's cost in latency).
    ...(process.argv.includes('--no-stage') ? { KMK_WEBRTC_ENABLED: 'false' } : {}),
    // --no-picture: the stage's voices mixed, its picture not composed (the baseline for the compositor's cost).
    ...(process.argv.includes('--no-picture') ? { KMK_STAGE_PICTURE: 'false' } : {}),
  },
  cwd: dir,
});
const server = await startServer(config, { log: createLogger('warn') });
console.log(`stage mixer in the ladder: ${server.stage ? 'on' : 'off (--no-stage)'}; stage picture (compositor): ${server.stage && config['stage.picture'] ? 'on' : 'off'}`);
const base = `http://127.0.0.1:${server.httpPort}`;
const secret = loadJoinSecret('', config['paths.data']);
let heldReport;
const modes = process.argv.includes('--modes') ? process.argv[process.argv.indexOf('--modes') + 1].split(',') : ['ultra', 'low', 'standard', 'baseline'];
for (const latency of ['ultra', 'low', 'standard'].filter((m) => modes.includes(m))) {
  for (const from of SOURCE === 'browser' ? ['rtmp', 'browser'] : ['rtmp']) {
    const slug = `bench-${latency}-${from}`;
    // Beside a browser on the same 2-core box, a 720p ladder cannot keep up (VP8 is never copied): one 360p rung,
    // for both sources alike.
    const ladder = SOURCE === 'browser' ? ['360p'] : ['720p', '360p'];
    const c = server.store.channels.create({ slug, title: slug, ladder, latency, record: false, archive: false, overflow: 'degrade', public: true });
    const key = server.store.streamKeys.rotate(c.id).key;
    const src = from === 'browser' ? await browserSource(base, slug, key) : startSource(['-f', 'flv', `rtmp://127.0.0.1:${server.rtmpPort}/live/${key}`]);
    const token = signJoinToken({ sub: 'bench', name: 'Bench', role: 'learner', channel: slug, exp: Math.floor(Date.now() / 1000) + 3600 }, secret);
    // The viewer joins a class that is under way, as learners do: hls.js moves its live edge one segment back for
    // each stall, so a viewer that came during the first seconds of a class would measure that, not the steady state.
    const liveSince = Date.now();
    while (server.live.current(slug)?.state !== 'live' && Date.now() - liveSince < 30000) await sleep(200);
    await sleep(6000);
    const cpu0 = ffmpegCpu(config['paths.media']);
    const at0 = performance.now();
    results.push(await measure(context, `${base}/watch/${slug}?token=${token}`, from === 'browser' ? `${latency} (browser, WHIP)` : `${latency} (kmk-live)`));
    results[results.length - 1].ladderCpu = (ffmpegCpu(config['paths.media']) - cpu0) / ((performance.now() - at0) / 1000);
    console.log(`${slug}: ladder ${server.live.snapshot().channels.find((v) => v.channel === slug)?.ladder.join(' + ')}, its ffmpeg ${(results[results.length - 1].ladderCpu * 100).toFixed(0)} % of a core while measured`);
    if (latency === 'ultra' && from === 'rtmp' && SOURCE !== 'browser') heldReport = await heldRequests(base, slug);
    await src.stop();
    await sleep(3000);
  }
}
await server.stop();

if (modes.includes('baseline')) await baseline();

await context.close();
rmSync(profile, { recursive: true, force: true });
rmSync(dir, { recursive: true, force: true });

const base0 = results.find((r) => r.label.startsWith('baseline')) ?? results[0];
console.log('\nmode                           p50      p90     vs baseline p50');
for (const r of results) console.log(`${r.label.padEnd(30)} ${r.p50.toFixed(2)} s  ${r.p90.toFixed(2)} s  ${(r.p50 / base0.p50).toFixed(2)}x`);
const ultra = results.find((r) => r.label.startsWith('ultra (kmk'));
if (ultra) console.log(`\nultra target: p50 <= 2.0 s ${ultra.p50 <= 2 ? 'MET' : 'MISSED'}, p90 <= 2.5 s ${ultra.p90 <= 2.5 ? 'MET' : 'MISSED'}`);
const ub = results.find((r) => r.label.startsWith('ultra (browser'));
if (ub) console.log(`browser (WHIP) ultra target: p50 <= 2.0 s ${ub.p50 <= 2 ? 'MET' : 'MISSED'} (${ub.p50.toFixed(2)} s)`);
const lb = results.find((r) => r.label.startsWith('low (browser'));
const lr = results.find((r) => r.label.startsWith('low (kmk'));
if (lb && lr) console.log(`browser (WHIP) low vs RTMP low: p50 ${lb.p50.toFixed(2)} s vs ${lr.p50.toFixed(2)} s (${(lb.p50 / lr.p50).toFixed(2)}x)`);
if (heldReport) console.log(heldReport);
process.exit(0);

/** Holds n blocking reloads for the next part of one rendition (clients in another process), and times them. */
async function heldRequests(base, slug) {
  const { execFile } = await import('node:child_process');
  const client = new URL('./held-client.mjs', import.meta.url).pathname;
  const lines = ['\nheld blocking reloads (all waiting for the same next part of the 360p rung; clients in a separate process):',
    'waiters   answered   first..last answer   server CPU per request (server process, minus its idle CPU)'];
  let per10;
  for (const n of [10, 100, 1000]) {
    const text = await (await fetch(`${base}/hls/${slug}/360p/index.m3u8`)).text();
    const m = /PRELOAD-HINT:TYPE=PART,URI="[^"]*_(\d+)\.(\d+)\.m4s"/.exec(text);
    if (!m) return 'held requests: no preload hint found';
    const url = `${base}/hls/${slug}/360p/index.m3u8?_HLS_msn=${m[1]}&_HLS_part=${m[2]}`;
    // This process also paints the source's frames: measure its idle CPU over the same time to subtract it.
    const idle0 = process.cpuUsage();
    const w0 = performance.now();
    await sleep(1500);
    const idlePerMs = ((process.cpuUsage(idle0).user + process.cpuUsage(idle0).system) / 1000) / (performance.now() - w0);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const out = await new Promise((resolve, reject) => execFile(process.execPath, [client, url, String(n)], { maxBuffer: 64 << 20 }, (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout)))));
    const elapsed = performance.now() - t0;
    const c = process.cpuUsage(cpu0);
    const serverMs = Math.max(0, (c.user + c.system) / 1000 - idlePerMs * elapsed);
    const at = out.at.sort((a, b) => a - b);
    const perReq = serverMs / n;
    // 10 requests cost less than the noise of the idle estimate: 100 waiters are the reference.
    if (n === 100) per10 = perReq;
    const ratio = per10 ? ` (${(perReq / per10).toFixed(2)}x of 100 waiters)` : '';
    lines.push(`${String(n).padStart(7)}   ${String(out.ok).padStart(8)}   ${(at[at.length - 1] - at[0]).toFixed(1).padStart(15)} ms   ${perReq.toFixed(3)} ms${ratio}`);
    await sleep(500);
  }
  return lines.join('\n');
}

async function baseline() {
// Baseline: the same source, ffmpeg writing plain 1 s HLS itself, served as static files, hls.js as in `low`.
const hlsDir = join(dir, 'plain');
const { mkdirSync } = await import('node:fs');
mkdirSync(hlsDir, { recursive: true });
const hlsJs = readFileSync(new URL('../node_modules/hls.js/dist/hls.min.js', import.meta.url));
const page = `<!doctype html><video muted autoplay playsinline style="width:1280px"></video><script src="/hls.js"></script>
<script>const h = new Hls({ liveSyncDurationCount: 3, lowLatencyMode: false }); h.loadSource('/plain/index.m3u8'); h.attachMedia(document.querySelector('video'));
h.on(Hls.Events.MANIFEST_PARSED, () => document.querySelector('video').play());</script>`;
const types = { '.m3u8': 'application/vnd.apple.mpegurl', '.ts': 'video/mp2t' };
const statics = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/') return res.end(page);
  if (path === '/hls.js') return res.end(hlsJs);
  try {
    const body = readFileSync(join(hlsDir, path.replace('/plain/', '')));
    res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
    res.end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => statics.listen(0, '127.0.0.1', r));
const src = startSource(['-f', 'hls', '-hls_time', '1', '-hls_list_size', '6', '-hls_flags', 'delete_segments+independent_segments', join(hlsDir, 'index.m3u8')]);
await sleep(3000);
results.push(await measure(context, `http://127.0.0.1:${statics.address().port}/`, 'baseline (ffmpeg plain HLS 1 s)'));
src.stop();
statics.close();
}
