// Benchmark (not a test): bytes per learner. Generates two sources in this run — a lecture-like one (text slides
// changing every 12 s, a small noisy camera inset, a moving pointer, a speech-like tone) and a camera-like one
// (detail in motion everywhere), kept lossless — encodes them as OBS would (x264 veryfast, 2,500 kbit/s CBR, 2 s keyframes), runs
// each through today's ladder (bitrate targets, the 720p passed through) and the profile ladder (capped CRF, every
// rung encoded), and prints per rung: kbit/s, MB per viewer-minute, SSIM against the lossless source, and the ladder's CPU
// seconds per source minute; then MB per viewer-minute for a learner mix as the watch page's players choose.
// Usage: npm run bench:bitrate [-- --seconds 36] [-- --lecture-crf 26] [-- --motion-crf 23] [-- --camera-noise 30]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ffmpegArgs } from '../dist/transcode/args.js';
import { planLadder } from '../dist/transcode/ladder.js';
import { encodeQuality } from '../dist/transcode/quality.js';
import { pickRung } from '../dist/domain/rung-choice.js';
import { CAMERA_FILTER, lectureFilter, makeSource as makeSourceIn, SENT_INFO, todayArgs } from './sources.mjs';

/** Who watches a class, and in what box (CSS px wide, device pixel ratio). */
const LEARNER_MIX = [
  { name: 'desktop, course page iframe', share: 0.5, width: 880, dpr: 1 },
  { name: 'laptop, full screen', share: 0.2, width: 1440, dpr: 1 },
  { name: 'phone', share: 0.3, width: 390, dpr: 3 },
];

const argOf = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const SECONDS = argOf('--seconds', 36);
const CRF = { lecture: argOf('--lecture-crf', 26), motion: argOf('--motion-crf', 23) };
/** Strength of the camera inset's sensor noise (ffmpeg `noise` alls): 30 is a poor webcam in a dim room, 12 a fair one. */
const NOISE = argOf('--camera-noise', 30);
const dir = mkdtempSync(join(tmpdir(), 'kmk-bitrate-'));
const LADDER = ['1080p', '720p', '480p', '360p', '240p'];

// ---- sources (bench/sources.mjs) -----------------------------------------------------------------------------
const lecture = lectureFilter(SECONDS, NOISE);
const makeSource = (name, filter) => makeSourceIn(dir, name, filter, SECONDS);

// ---- ladders -------------------------------------------------------------------------------------------------
/** Runs commands under bash and returns the children's user+sys CPU seconds (bash `times`). */
function cpuSeconds(command) {
  const quote = (a) => `'${a.replace(/'/g, `'\\''`)}'`;
  const r = spawnSync('bash', ['-c', `${command.map(quote).join(' ')} && times`], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr.slice(-2000)}`);
  const secs = [...r.stdout.trim().split('\n').pop().matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return secs[0] + secs[1];
}

function runLadder({ sent: src, pristine }, name, plan, transform) {
  const out = join(dir, name);
  const raw = ffmpegArgs(plan, { outDir: out, record: true, resume: false, preset: 'veryfast', liveWindow: 6, segmentPrefix: 'b' });
  const args = (transform ? transform(raw, plan) : raw).map((a) => (a === 'pipe:0' ? src : a))
    .filter((a, i, all) => !(a === '-progress' || all[i - 1] === '-progress'));
  const cpu = cpuSeconds(['ffmpeg', '-y', ...args]);
  const rungs = plan.rungs.map((r) => {
    const bytes = readdirSync(join(out, r.name)).filter((f) => f.endsWith('.ts')).reduce((s, f) => s + statSync(join(out, r.name, f)).size, 0);
    return { name: r.name, copy: r.copy, width: r.width, height: r.height, kbps: (bytes * 8) / SECONDS / 1000, ssim: ssimOf(join(out, r.name, 'index.m3u8'), pristine) };
  });
  const audioBytes = plan.audio === 'none' ? 0 : readdirSync(join(out, 'audio')).filter((f) => f.endsWith('.ts')).reduce((s, f) => s + statSync(join(out, 'audio', f)).size, 0);
  return { rungs, audioKbps: (audioBytes * 8) / SECONDS / 1000, cpuPerMinute: (cpu / SECONDS) * 60 };
}

function ssimOf(playlist, src) {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-nostats', '-i', playlist, '-i', src, '-lavfi',
    '[0:v]setpts=PTS-STARTPTS,scale=1280:720:flags=bicubic[a];[1:v]setpts=PTS-STARTPTS[b];[a][b]ssim', '-f', 'null', '-'], { encoding: 'utf8' });
  const m = /All:([\d.]+)/.exec(r.stderr);
  if (!m) throw new Error(`no SSIM for ${playlist}: ${r.stderr.slice(-800)}`);
  return Number(m[1]);
}

// ---- report --------------------------------------------------------------------------------------------------
const mbPerMinute = (kbps) => (kbps * 1000 * 60) / 8 / 1e6;
const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

console.log(`machine: ${cpus()[0]?.model.trim()} x${cpus().length}; ${SECONDS} s per source; CRF lecture ${CRF.lecture}, motion ${CRF.motion}; camera noise ${NOISE}`);
const results = [];
for (const [kind, filter, profile] of [['lecture-like', lecture, 'lecture'], ['camera-like', CAMERA_FILTER, 'motion']]) {
  console.log(`making the ${kind} source…`);
  const src = makeSource(kind, filter);
  const sentSsim = ssimOf(src.sent, src.pristine);
  const source = SENT_INFO;
  // Before 2026-12-04: the publisher's AAC copied, no audio-only rendition.
  const today = { ...planLadder(source, { profile: LADDER, segmentSeconds: 2 }), audio: 'copy', audioOnlyKbps: undefined };
  const ours = planLadder({ ...source, keyframeInterval: undefined }, { profile: LADDER, segmentSeconds: 2, encode: encodeQuality(profile, CRF) });
  console.log(`  today's ladder (720p passed through, bitrate targets)…`);
  const a = runLadder(src, `${kind}-today`, today, todayArgs);
  console.log(`  the ${profile} profile (every rung encoded, capped CRF ${CRF[profile]})…`);
  const b = runLadder(src, `${kind}-${profile}`, ours);
  results.push({ kind, profile, today: a, ours: b, sentSsim });
}

for (const { kind, profile, today, ours, sentSsim } of results) {
  console.log(`\n${kind} source as sent: SSIM ${sentSsim.toFixed(3)}; audio today ${fmt(today.audioKbps)} kbit/s (${fmt(mbPerMinute(today.audioKbps), 2)} MB/min), ${profile} ${fmt(ours.audioKbps)} kbit/s (${fmt(mbPerMinute(ours.audioKbps), 2)} MB/min):`);
  console.log('| rung | ladder | kbit/s | MB per viewer-minute (video) | SSIM vs lossless source |');
  console.log('|---|---|---|---|---|');
  for (const [label, l] of [['today', today], [profile, ours]]) {
    for (const r of l.rungs) console.log(`| ${r.name}${r.copy ? ' (passed through)' : ''} | ${label} | ${fmt(r.kbps)} | ${fmt(mbPerMinute(r.kbps), 2)} | ${r.ssim.toFixed(3)} |`);
  }
  console.log(`ladder CPU s per source minute: today ${fmt(today.cpuPerMinute, 1)}, ${profile} ${fmt(ours.cpuPerMinute, 1)} (${(ours.cpuPerMinute / today.cpuPerMinute).toFixed(2)}x)`);
  const top = (l) => l.rungs[0];
  console.log(`top rung: ${(top(ours).kbps / top(today).kbps).toFixed(2)}x today's bytes, SSIM ${top(ours).ssim.toFixed(3)} vs ${top(today).ssim.toFixed(3)}`);
  const mix = (l, capped) => LEARNER_MIX.reduce((sum, p) => {
    const rung = capped ? pickRung(l.rungs, p) : l.rungs[0];
    return sum + p.share * (mbPerMinute(rung.kbps) + mbPerMinute(l.audioKbps));
  }, 0);
  const mt = mix(today, false);
  const mo = mix(ours, true);
  console.log(`learner mix (${LEARNER_MIX.map((p) => `${Math.round(p.share * 100)}% ${p.name}`).join(', ')}), MB per viewer-minute with audio:`);
  console.log(`  today (every player on the top rung): ${fmt(mt, 2)}; ${profile} with players capped to their size: ${fmt(mo, 2)} (${(mo / mt).toFixed(2)}x)`);
  for (const p of LEARNER_MIX) console.log(`  - ${p.name} (${p.width} px at ${p.dpr}x): ${pickRung(ours.rungs, p).name}`);
}
rmSync(dir, { recursive: true, force: true });
