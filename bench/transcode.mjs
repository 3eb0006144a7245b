// Benchmark (not a test): CPU seconds per minute of a 720p30 H.264/AAC source for our one-process ladder,
// against, in the same run, one ffmpeg process per rung (each decoding the source and encoding its own audio).
// Usage: npm run bench:transcode [-- --seconds 30]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ffmpegArgs } from '../dist/transcode/args.js';
import { planLadder } from '../dist/transcode/ladder.js';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 30;
const preset = 'veryfast';
const dir = mkdtempSync(join(tmpdir(), 'kmk-bench-'));
const src = join(dir, 'source.flv');

console.log(`making a ${seconds} s 720p30 H.264/AAC source (2 s keyframes, as OBS is told to send)…`);
execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30',
  '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(seconds), '-c:v', 'libx264', '-preset', 'veryfast',
  '-b:v', '3000k', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0', '-c:a', 'aac', '-b:a', '128k', '-f', 'flv', src]);

/** Runs commands one after another under bash and returns the children's user+sys CPU seconds (bash `times`). */
function cpuSeconds(commands) {
  const quote = (a) => `'${a.replace(/'/g, `'\\''`)}'`;
  const script = commands.map((c) => c.map(quote).join(' ')).join(' && ') + ' && times';
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`benchmark command failed: ${r.stderr.slice(-2000)}`);
  const line = r.stdout.trim().split('\n').pop();
  const secs = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return secs[0] + secs[1];
}

const withFile = (args) => args.map((a) => (a === 'pipe:0' ? src : a)).filter((a, i, all) => !(a === '-progress' || all[i - 1] === '-progress'));
const ladderCmd = (plan, out) => ['ffmpeg', '-y', ...withFile(ffmpegArgs(plan, { outDir: out, record: true, resume: false, preset, liveWindow: 6, segmentPrefix: 'b' }))];
const source = { videoCodec: 'h264', width: 1280, height: 720, fps: 30, audioCodec: 'aac' };
const profile = ['1080p', '720p', '480p', '360p'];
const encodedPlan = planLadder(source, { profile, segmentSeconds: 2 });
const copyPlan = planLadder({ ...source, keyframeInterval: 2, videoKbps: 3000 }, { profile, segmentSeconds: 2 });

// Baseline: what a naive setup does — one process per rung, each decoding the source and encoding audio.
const baselineCmds = encodedPlan.rungs.map((r) => {
  const gop = String(Math.round(r.fps * 2));
  return ['ffmpeg', '-y', '-hide_banner', '-loglevel', 'error', '-i', src, '-vf', `scale=${r.width}:${r.height}`,
    '-c:v', 'libx264', '-preset', preset, '-b:v', `${r.videoKbps}k`, '-maxrate', `${Math.round(r.videoKbps * 1.1)}k`, '-bufsize', `${r.videoKbps * 2}k`,
    '-g', gop, '-keyint_min', gop, '-sc_threshold', '0', '-c:a', 'aac', '-b:a', '128k',
    '-f', 'hls', '-hls_time', '2', '-hls_list_size', '0', '-hls_segment_filename', join(dir, `base_${r.name}_%05d.ts`), join(dir, `base_${r.name}.m3u8`)];
});

const perMinute = (cpu) => (cpu / seconds) * 60;
console.log('running the per-rung baseline…');
const baseline = perMinute(cpuSeconds(baselineCmds));
console.log('running our ladder, every rung encoded…');
const encoded = perMinute(cpuSeconds([ladderCmd(encodedPlan, join(dir, 'enc'))]));
console.log('running our ladder, top rung passed through…');
const copied = perMinute(cpuSeconds([ladderCmd(copyPlan, join(dir, 'copy'))]));
rmSync(dir, { recursive: true, force: true });

const rows = [
  ['baseline: one process per rung (720p, 480p, 360p), audio per rung', baseline, 1],
  ['ours: one process, decode once, all rungs encoded, audio copied once', encoded, encoded / baseline],
  ['ours: one process, 720p passed through, 480p+360p encoded (default for aligned OBS keyframes)', copied, copied / baseline],
];
console.log(`\nmachine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}; x264 preset ${preset}; source ${seconds} s testsrc2 720p30\n`);
console.log('| ladder | CPU s per source minute | ratio to baseline |');
console.log('|---|---|---|');
for (const [name, cpu, ratio] of rows) console.log(`| ${name} | ${cpu.toFixed(1)} | ${ratio.toFixed(2)}× |`);
console.log(`\ntarget: ≤ 0.50× — ${copied / baseline <= 0.5 ? 'met' : 'NOT met'} with passthrough, ${encoded / baseline <= 0.5 ? 'met' : 'NOT met'} with every rung encoded`);
