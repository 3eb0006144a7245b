// Benchmark (not a test): how many lecture classes this box carries at once. Runs --classes ladders side by side in
// real time (ffmpeg reads the OBS-like lecture source at its own rate, -re, as a live publisher sends it) for three
// ladders in the same run: today's (before 2026-12-04: bitrate targets, 1080p–360p, the 720p passed through), the
// lecture profile for a small class (capped CRF, 240p added, the 720p passed through, the audio-only rendition) and
// for a large one (the 720p encoded too). Prints per ladder: each class's speed (media seconds per wall second; below
// 1.0 a class falls behind its publisher), and the CPU the classes used as a share of the box.
// Usage: npm run bench:classes [-- --seconds 60 --classes 3]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ffmpegArgs } from '../dist/transcode/args.js';
import { planLadder } from '../dist/transcode/ladder.js';
import { encodeQuality } from '../dist/transcode/quality.js';
import { lectureFilter, makeSource, SENT_INFO, todayArgs } from './sources.mjs';

const argOf = (name, dflt) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);
const SECONDS = argOf('--seconds', 60);
const CLASSES = argOf('--classes', 3);
const dir = mkdtempSync(join(tmpdir(), 'kmk-classes-'));

console.log(`machine: ${cpus()[0]?.model.trim()} x${cpus().length}; ${CLASSES} classes at once, ${SECONDS} s each`);
console.log('making the lecture-like source…');
const src = makeSource(dir, 'lecture', lectureFilter(SECONDS, 30), SECONDS).sent;

const OLD_DEFAULT = ['1080p', '720p', '480p', '360p'];
const NEW_DEFAULT = ['1080p', '720p', '480p', '360p', '240p'];
const lecture = encodeQuality('lecture');
const LADDERS = [
  { name: "today's (bitrate targets, 720p passed through)", plan: { ...planLadder(SENT_INFO, { profile: OLD_DEFAULT, segmentSeconds: 2 }), audio: 'copy', audioOnlyKbps: undefined }, transform: todayArgs },
  { name: 'lecture, small class (720p passed through)', plan: planLadder(SENT_INFO, { profile: NEW_DEFAULT, segmentSeconds: 2, encode: lecture }) },
  { name: 'lecture, large class (720p encoded)', plan: planLadder(SENT_INFO, { profile: NEW_DEFAULT, segmentSeconds: 2, encode: lecture, encodeTop: true }) },
];

/** One class's ladder in real time; resolves with its wall seconds, CPU seconds and the media seconds it made. */
function runClass(plan, transform, out) {
  const raw = ffmpegArgs(plan, { outDir: out, record: false, resume: false, preset: 'veryfast', liveWindow: 6, segmentPrefix: 'c' });
  const args = (transform ? transform(raw, plan) : raw).flatMap((a, i, all) => (a === '-f' && all[i + 2] === '-i' && all[i + 3] === 'pipe:0' ? ['-re', a] : [a]))
    .map((a) => (a === 'pipe:0' ? src : a));
  const quote = (a) => `'${a.replace(/'/g, `'\\''`)}'`;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('bash', ['-c', `ffmpeg -y ${args.map(quote).join(' ')} && times`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c) => { stdout += c; });
    child.stderr.setEncoding('utf8').on('data', (c) => { stderr += c; });
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`ffmpeg failed: ${stderr.slice(-1500)}`));
      const wall = (performance.now() - started) / 1000;
      const secs = [...stdout.trim().split('\n').pop().matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
      const outUs = [...stdout.matchAll(/out_time_us=(\d+)/g)].map((m) => Number(m[1])).pop() ?? 0;
      resolve({ wall, cpu: secs[0] + secs[1], media: outUs / 1e6 });
    });
  });
}

const results = [];
for (const l of LADDERS) {
  console.log(`running ${CLASSES} classes at once: ${l.name} [${l.plan.rungs.map((r) => r.name + (r.copy ? ' copy' : '')).join(', ')}${l.plan.audioOnlyKbps ? ', audio-only' : ''}]…`);
  const runs = await Promise.all(Array.from({ length: CLASSES }, (_, i) => runClass(l.plan, l.transform, join(dir, `${results.length}-${i}`))));
  const wall = Math.max(...runs.map((r) => r.wall));
  const cpu = runs.reduce((s, r) => s + r.cpu, 0);
  results.push({ ...l, runs, wall, cpu, share: cpu / (wall * cpus().length) });
}
rmSync(dir, { recursive: true, force: true });

console.log(`\n| ladder | speed of each class (media s / wall s) | CPU s per class minute | box CPU used | ${CLASSES} fit |`);
console.log('|---|---|---|---|---|');
for (const r of results) {
  const speeds = r.runs.map((x) => x.media / x.wall);
  const fits = speeds.every((s) => s >= 0.98);
  console.log(`| ${r.name} | ${speeds.map((s) => s.toFixed(3)).join(', ')} | ${((r.cpu / CLASSES / SECONDS) * 60).toFixed(1)} | ${(r.share * 100).toFixed(0)} % | ${fits ? 'yes' : 'no: a class fell behind'} |`);
}
const base = results[0];
for (const r of results.slice(1)) console.log(`${r.name}: ${(r.cpu / base.cpu).toFixed(2)}x today's ladder CPU`);
