// Benchmark (not a test): the stage (issue 27) on loopback, through the real server and real Chromium pages.
// - Mouth-to-ear among stage members: one member's "microphone" (getUserMedia answered by a WebAudio stream, so the
//   page's own code path is used) beeps at 1 kHz for 50 ms once a second and notes when; every other member's page
//   listens to what the stage sends it (a ScriptProcessor on the received track, 256-sample blocks) and notes each
//   beep's onset. The difference, both clocks being this machine's, is mouth to ear: capture, Opus encoding, the
//   server's forwarding, the receiver's jitter buffer and decoding (not the speaker's playout buffer).
// - Server CPU per stage member: the server process's CPU (forwarding, decoding each voice for the broadcast's mix)
//   over a window with N members, minus the same window with nobody on stage, over N. The class's ladder (ffmpeg,
//   its own process) runs throughout and is not counted (its stage mix runs whether anybody is on stage).
// All the pages run on this machine beside the server and the ladder: the machine's load is printed, since a
// saturated machine delays the browsers' audio (their jitter buffers grow), not the server. Each page's HLS player
// is stopped for the same reason.
// Target: mouth-to-ear <= 400 ms on loopback.
// - With --camera, every member also sends a camera (a 640x360 canvas, 15 fps, painted in the page): the broadcast's
//   picture then decodes each member's camera into its tile; the CPU of the server's ffmpeg children (the ladder with
//   its compositor, the camera decoders) is printed per window as well.
// Usage: npm run bench:stage [-- --members 2,4] [-- --seconds 15] [-- --camera]
import { spawn } from 'node:child_process';
import { ffmpegCpu, freePort, pct, sleep } from './lib.mjs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { chromium } from 'playwright-core';
import { loadConfig } from '../dist/config/load.js';
import { createLogger } from '../dist/log.js';
import { startServer } from '../dist/server.js';
import { signJoinToken } from '../dist/auth/join-token.js';
import { loadJoinSecret } from '../dist/auth/join-secret.js';

const arg = (name, def) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : def);
const COUNTS = arg('--members', '2,4').split(',').map(Number).sort((a, b) => a - b);
const SECONDS = Number(arg('--seconds', '15'));

const dir = mkdtempSync(join(tmpdir(), 'kmk-bench-stage-'));
const httpPort = await freePort();
const config = loadConfig({
  env: {
    KMK_BIND_ADDRESS: '127.0.0.1', KMK_HTTP_PORT: String(httpPort), KMK_PUBLIC_URL: `http://127.0.0.1:${httpPort}`,
    KMK_RTMP_PORT: String(await freePort()), KMK_LOG_LEVEL: 'warn', KMK_STAGE_MAX_MEMBERS: String(Math.max(...COUNTS)),
  },
  cwd: dir,
});
const server = await startServer(config, { log: createLogger('warn') });
const secret = loadJoinSecret('', config['paths.data']);
const slug = 'bench-stage';
const c = server.store.channels.create({ slug, title: slug, ladder: ['360p'], latency: 'low', record: false, archive: false, overflow: 'degrade', public: true });
const key = server.store.streamKeys.rotate(c.id).key;
const token = (sub, role) => signJoinToken({ sub, name: sub, role, channel: slug, exp: Math.floor(Date.now() / 1000) + 3600 }, secret);
console.log(`machine: ${cpus()[0]?.model.trim()} x${cpus().length}; members: ${COUNTS.join(', ')}; ${SECONDS} s windows`);

const pub = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30',
  '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '60',
  '-c:a', 'aac', '-ar', '48000', '-f', 'flv', `rtmp://127.0.0.1:${server.rtmpPort}/live/${key}`], { stdio: 'ignore' });
for (let i = 0; i < 200 && server.live.current(slug)?.state !== 'live'; i += 1) await sleep(200);
if (server.live.current(slug)?.state !== 'live') throw new Error('the class did not go live');

const prof = new WebSocket(`ws://127.0.0.1:${server.httpPort}/ws?token=${token('prof', 'instructor')}`);
await new Promise((r) => prof.once('open', r));

// Every page's microphone is a WebAudio stream; the speaker's beeps. Every page listens to what it receives.
const CAMERA = process.argv.includes('--camera');
const init = ({ speaker, camera }) => {
  const w = window;
  w.beeps = [];
  w.onsets = [];
  const ctx = new AudioContext({ sampleRate: 48000 });
  navigator.mediaDevices.getUserMedia = async () => {
    await ctx.resume();
    const osc = ctx.createOscillator();
    osc.frequency.value = 1000;
    const gain = ctx.createGain();
    gain.gain.value = 0;
    const dest = ctx.createMediaStreamDestination();
    osc.connect(gain).connect(dest);
    osc.start();
    if (speaker) {
      setInterval(() => {
        const t = ctx.currentTime + 0.02;
        gain.gain.setValueAtTime(0.5, t);
        gain.gain.setValueAtTime(0, t + 0.05);
        w.beeps.push(Date.now() + 20 + ctx.baseLatency * 1000);
      }, 1000);
    }
    if (!camera) return dest.stream;
    const canvas = document.createElement('canvas');
    canvas.width = 640;
    canvas.height = 360;
    const g = canvas.getContext('2d');
    let n = 0;
    setInterval(() => {
      n += 1;
      g.fillStyle = `hsl(${(n * 7) % 360} 70% 50%)`;
      g.fillRect(0, 0, 640, 360);
      g.fillStyle = '#fff';
      g.fillRect((n * 9) % 600, 150, 40, 40);
    }, 66);
    return new MediaStream([...dest.stream.getAudioTracks(), ...canvas.captureStream(15).getVideoTracks()]);
  };
  const Native = RTCPeerConnection;
  w.RTCPeerConnection = function (...a) {
    const pc = new Native(...a);
    (w.pcs ??= []).push(pc);
    pc.addEventListener('track', (e) => {
      if (e.track.kind !== 'audio') return;
      const src = ctx.createMediaStreamSource(new MediaStream([e.track]));
      const node = ctx.createScriptProcessor(256, 1, 1);
      let quietSince = 0;
      let loud = false;
      node.onaudioprocess = (ev) => {
        const x = ev.inputBuffer.getChannelData(0);
        let s = 0;
        for (let i = 0; i < x.length; i += 1) s += x[i] * x[i];
        const rms = Math.sqrt(s / x.length);
        const now = Date.now();
        if (rms > 0.05 && !loud && now - quietSince > 300) w.onsets.push(now - (x.length / 48000) * 1000 / 2);
        if (rms > 0.05) loud = true;
        else if (loud) { loud = false; quietSince = now; }
      };
      src.connect(node);
      node.connect(ctx.destination);
      // Chrome plays a remote track into WebAudio only when it is also attached to a media element.
      const a = new Audio();
      a.muted = true;
      a.srcObject = new MediaStream([e.track]);
      void a.play().catch(() => undefined);
    });
    return pc;
  };
  w.RTCPeerConnection.prototype = Native.prototype;
};

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
    '--autoplay-policy=no-user-gesture-required', '--use-fake-ui-for-media-stream'],
});
const pages = [];
async function addMember(i) {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await ctx.newPage();
  await page.addInitScript(init, { speaker: i === 0, camera: CAMERA });
  await page.goto(`http://127.0.0.1:${server.httpPort}/watch/${slug}?token=${token(`m${i}`, 'learner')}`);
  await page.waitForFunction(() => document.querySelector('.panel-head') !== null);
  await sleep(500);
  // The HLS player is stopped: several pages decoding the class's video would load this 2-core machine, not the stage.
  await page.evaluate(() => window.kmk.player.stop());
  prof.send(JSON.stringify({ v: 1, t: 'stage_invite', userId: `m${i}` }));
  await page.getByRole('button', { name: CAMERA ? 'Join with camera and microphone' : 'Join with microphone' }).click({ timeout: 15000 });
  for (let k = 0; k < 100 && !server.stage.stats(slug).some((m) => m.userId === `m${i}` && m.audioIn > 10); k += 1) await sleep(100);
  pages.push(page);
}

/** The whole machine's busy and total jiffies (/proc/stat): how loaded the box running pages and server was. */
const machine = () => {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + f[4];
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
};
let machineBusy = 0;
let childCores = 0;
async function windowCpu() {
  const a = process.cpuUsage();
  const c0 = ffmpegCpu(config['paths.media']);
  const m0 = machine();
  const t0 = performance.now();
  await sleep(SECONDS * 1000);
  const u = process.cpuUsage(a);
  const m1 = machine();
  machineBusy = (m1.busy - m0.busy) / (m1.total - m0.total);
  childCores = (ffmpegCpu(config['paths.media']) - c0) / ((performance.now() - t0) / 1000);
  return (u.user + u.system) / 1000 / (performance.now() - t0); // cores
}

const idle = await windowCpu();
const idleChildren = childCores;
console.log(`server CPU with nobody on stage: ${(idle * 100).toFixed(1)} % of a core; its ffmpeg (the ladder) ${(idleChildren * 100).toFixed(1)} %; the machine ${(machineBusy * 100).toFixed(0)} % busy`);
console.log(`members send a camera: ${CAMERA ? 'yes (--camera)' : 'no'}; the broadcast's picture (stage.picture): ${config['stage.picture'] ? 'composed' : 'off'}`);
const rows = [];
for (const n of COUNTS) {
  while (pages.length < n) await addMember(pages.length);
  // Joining loads the machine for a moment (a page, its microphone, the connection): the listeners' jitter buffers
  // grow with it and come back down over some seconds. Measured once they have.
  await sleep(10_000);
  for (const p of pages) await p.evaluate(() => { window.onsets = []; window.beeps = []; });
  const cpu = await windowCpu();
  const beeps = await pages[0].evaluate(() => window.beeps);
  const delays = [];
  const perListener = [];
  const jitter = [];
  for (const p of pages.slice(1)) {
    const mine = [];
    for (const at of await p.evaluate(() => window.onsets)) {
      const b = beeps.filter((x) => x <= at && at - x < 1000).at(-1);
      if (b !== undefined) mine.push(at - b);
    }
    delays.push(...mine);
    perListener.push(pct(mine, 50));
    // Where the listener's browser holds the sound: its jitter buffer (incl. any wait to keep in step with the picture).
    jitter.push(await p.evaluate(async () => {
      let delay = 0;
      let count = 0;
      for (const pc of window.pcs ?? []) {
        for (const s of (await pc.getStats()).values()) {
          if (s.type === 'inbound-rtp' && s.kind === 'audio' && s.jitterBufferEmittedCount > 0) {
            delay += s.jitterBufferDelay;
            count += s.jitterBufferEmittedCount;
          }
        }
      }
      return count ? (delay / count) * 1000 : NaN;
    }));
  }
  const stats = server.stage.stats(slug);
  const row = {
    members: n, beeps: beeps.length, heard: delays.length, p50: pct(delays, 50), p90: pct(delays, 90), max: Math.max(...delays),
    cpuPerMember: (cpu - idle) / n, mixed: stats.reduce((s, m) => s + m.mixed, 0),
  };
  rows.push(row);
  console.log(`${n} on stage: mouth-to-ear p50 ${row.p50.toFixed(0)} ms, p90 ${row.p90.toFixed(0)} ms, max ${row.max.toFixed(0)} ms `
    + `(${row.heard} beeps heard of ${row.beeps * (n - 1)} sent to ${n - 1} listener${n > 2 ? 's' : ''}); `
    + `server CPU ${(cpu * 100).toFixed(1)} % of a core, ${(row.cpuPerMember * 100).toFixed(1)} % per member over the idle class; `
    + `its ffmpeg children ${(childCores * 100).toFixed(1)} % (${(((childCores - idleChildren) / n) * 100).toFixed(1)} % per member: camera decoders, tiles); `
    + `the whole machine (server, ladder, ${n} Chromium pages) ${(machineBusy * 100).toFixed(0)} % busy; p50 by listener ${perListener.map((x) => x.toFixed(0)).join(' / ')} ms; `
    + `their browsers' audio jitter buffers (mean since joining) ${jitter.map((x) => x.toFixed(0)).join(' / ')} ms`);
}
const worst = Math.max(...rows.map((r) => r.p90));
console.log(`target: mouth-to-ear <= 400 ms on loopback: ${worst <= 400 ? 'met' : 'MISSED'} (worst p90 ${worst.toFixed(0)} ms)`);

await browser.close();
prof.close();
pub.kill('SIGINT');
await sleep(1500);
await server.stop();
rmSync(dir, { recursive: true, force: true });
