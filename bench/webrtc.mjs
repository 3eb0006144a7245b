// Benchmark (not a test): server CPU per browser publisher for WebRTC receive alone (no ladder): ICE, DTLS-SRTP
// decryption, NACK, the jitter buffer, VP8 frames into Matroska, measured in a process of its own
// (bench/webrtc-receiver.mjs). Publishers are werift peers sending a pre-encoded 1280x720 VP8 clip at 2.5 Mbit/s
// with Opus (ffmpeg -c copy to RTP, so no encoder competes for the CPU). Baseline in the same run: the RTMP ingest
// receiving the same rate (H.264 + AAC, ffmpeg -c copy), also alone in its process. Target: <= 0.1 core per
// WebRTC publisher.
// Usage: npm run bench:webrtc [-- --seconds 20] [-- --publishers 1,2,4]
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, useNACK, usePLI } from 'werift';

const arg = (name, def) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : def);
const SECONDS = Number(arg('--seconds', '20'));
const COUNTS = arg('--publishers', '1,2,4').split(',').map(Number);
const KBPS = 2500;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(join(tmpdir(), 'kmk-bench-webrtc-'));

// The clips, made once: 10 s of testsrc2 1280x720p30 at 2.5 Mbit/s.
const clip = (name, args) => {
  const out = join(dir, name);
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '10', ...args, '-b:v', `${KBPS}k`, '-maxrate', `${KBPS}k`, '-bufsize', `${KBPS}k`, '-g', '60', out]);
  if (r.status !== 0) throw new Error(`ffmpeg could not make ${name}: ${r.stderr}`);
  return out;
};
console.log('making the clips…');
const vp8 = clip('clip.webm', ['-c:v', 'libvpx', '-deadline', 'good', '-cpu-used', '4', '-c:a', 'libopus', '-ac', '2']);
const h264 = clip('clip.flv', ['-c:v', 'libx264', '-preset', 'veryfast', '-c:a', 'aac', '-ac', '2']);

function receiver(kind) {
  const child = spawn(process.execPath, [new URL('./webrtc-receiver.mjs', import.meta.url).pathname, kind], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => createInterface({ input: child.stdout }).once('line', (l) => resolve({ child, ...JSON.parse(l) })));
}
const cpuOf = async (r) => (await fetch(`http://127.0.0.1:${r.http}/cpu`)).json();

async function webrtcPublisher(port) {
  const pc = new RTCPeerConnection({
    codecs: { video: [new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, rtcpFeedback: [useNACK(), usePLI()] })], audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })] },
    iceUseIpv6: false, bundlePolicy: 'max-bundle',
  });
  const v = new MediaStreamTrack({ kind: 'video' });
  const a = new MediaStreamTrack({ kind: 'audio' });
  pc.addTransceiver(v, { direction: 'sendonly' });
  pc.addTransceiver(a, { direction: 'sendonly' });
  await pc.setLocalDescription(await pc.createOffer());
  const res = await fetch(`http://127.0.0.1:${port}/whip`, { method: 'POST', body: pc.localDescription.sdp });
  if (res.status !== 201) throw new Error(`WHIP answered ${res.status}: ${await res.text()}`);
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  const socks = await Promise.all([0, 1].map(() => new Promise((r) => { const s = createSocket('udp4'); s.bind(0, '127.0.0.1', () => r(s)); })));
  socks[0].on('message', (m) => v.writeRtp(m));
  socks[1].on('message', (m) => a.writeRtp(m));
  const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', vp8,
    '-map', '0:v', '-c', 'copy', '-payload_type', '96', '-f', 'rtp', `rtp://127.0.0.1:${socks[0].address().port}?pkt_size=1200`,
    '-map', '0:a', '-c', 'copy', '-payload_type', '111', '-f', 'rtp', `rtp://127.0.0.1:${socks[1].address().port}?pkt_size=1200`], { stdio: 'ignore' });
  return { stop: async () => { ff.kill('SIGKILL'); for (const s of socks) s.close(); await pc.close(); } };
}

function rtmpPublisher(port, n) {
  const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', h264, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${port}/live/k${n}`], { stdio: 'ignore' });
  return { stop: async () => { ff.kill('SIGKILL'); } };
}

async function run(kind, n) {
  const r = await receiver(kind);
  const pubs = [];
  for (let i = 0; i < n; i += 1) pubs.push(kind === 'webrtc' ? await webrtcPublisher(r.http) : rtmpPublisher(r.rtmp, i));
  await sleep(4000); // connected, first keyframes, steady
  const c0 = await cpuOf(r);
  const t0 = performance.now();
  await sleep(SECONDS * 1000);
  const c1 = await cpuOf(r);
  const wall = (performance.now() - t0) / 1000;
  for (const p of pubs) await p.stop();
  r.child.kill('SIGKILL');
  const cores = (c1.cpuMs - c0.cpuMs) / 1000 / wall;
  const mbps = ((c1.bytes - c0.bytes) * 8) / wall / 1e6;
  return { kind, n, cores, perPublisher: cores / n, mbps };
}

console.log(`machine: ${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}; ${SECONDS} s per run; publishers send ${KBPS} kbit/s 1280x720p30 video + audio\n`);
console.log('ingest   publishers   receiver cores   per publisher   media handed on');
const rows = [];
for (const n of COUNTS) {
  for (const kind of ['rtmp', 'webrtc']) {
    const r = await run(kind, n);
    rows.push(r);
    console.log(`${kind.padEnd(8)} ${String(n).padStart(10)}   ${r.cores.toFixed(3).padStart(14)}   ${r.perPublisher.toFixed(3).padStart(13)}   ${r.mbps.toFixed(2)} Mbit/s`);
    await sleep(1000);
  }
}
console.log('\nWebRTC vs RTMP (same publishers, same rate):');
for (const n of COUNTS) {
  const w = rows.find((r) => r.kind === 'webrtc' && r.n === n);
  const b = rows.find((r) => r.kind === 'rtmp' && r.n === n);
  console.log(`  ${n} publisher(s): ${(w.perPublisher).toFixed(3)} vs ${(b.perPublisher).toFixed(3)} core each (${(w.perPublisher / b.perPublisher).toFixed(1)}x)`);
}
const worst = Math.max(...rows.filter((r) => r.kind === 'webrtc').map((r) => r.perPublisher));
console.log(`\ntarget: <= 0.1 core per WebRTC publisher: ${worst <= 0.1 ? 'MET' : 'MISSED'} (worst ${worst.toFixed(3)})`);
rmSync(dir, { recursive: true, force: true });
process.exit(0);
