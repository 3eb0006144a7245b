// Benchmark (not a test): captions from speech with the default engine (Debian's pocketsphinx_continuous and its
// en-us model), on a known lecture read by espeak-ng. Three figures:
//  - word error rate: the words the class's captions carried (through the real server: RTMP push, AAC, the
//    speech output's decoder and engine) against the text that was read; beside it, the same engine on the clean
//    16 kHz recording (no server), which says how much is the engine and how much the way there;
//  - caption delay: when a line reached a learner's hub connection, behind the program time of its first word
//    (p50 / p90; a line is a whole utterance, said when the pause after it comes), and the share of lines that
//    arrive before a learner of each latency mode sees that word (the player then shows them in step);
//  - engine CPU per class: the engine's and its decoder's CPU time over the class, as a share of one core.
// Beside the default model: pocketsphinx with a language model made from the class's slides (src/captions/lm.ts).
// Usage: npm run bench:captions [-- --repeat 2]
import { execFileSync, spawn } from 'node:child_process';
import { freePort, pct, sleep } from './lib.mjs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { loadConfig } from '../dist/config/load.js';
import { createLogger } from '../dist/log.js';
import { startServer } from '../dist/server.js';
import { signJoinToken } from '../dist/auth/join-token.js';
import { loadJoinSecret } from '../dist/auth/join-secret.js';
import { LECTURE, SLIDES, words, wer } from './captions-lib.mjs';
import { arpaFromText, dictionaryWords } from '../dist/captions/lm.js';
import { writeFileSync } from 'node:fs';

const REPEAT = process.argv.includes('--repeat') ? Number(process.argv[process.argv.indexOf('--repeat') + 1]) : 1;

const cpuMs = (pid) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').slice(readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, USER_HZ 100
  } catch {
    return undefined;
  }
};
const children = () => execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)]).toString().trim().split('\n')
  .map((l) => l.trim().match(/^(\d+)\s+(.*)$/)).filter(Boolean).map((m) => ({ pid: Number(m[1]), args: m[2] }));

const dir = mkdtempSync(join(tmpdir(), 'kmk-bench-captions-'));
const ssml = `<speak>${LECTURE.map((s) => `${s}<break time="900ms"/>`).join('')}<break time="3000ms"/></speak>`;
const wav = join(dir, 'lecture.wav');
execFileSync('espeak-ng', ['-m', '-v', 'en-us', '-s', '150', '-w', wav, ssml]);
const seconds = Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', wav]).toString());
const reference = LECTURE.join(' ');
console.log(`machine: ${cpus()[0]?.model.trim()} x${cpus().length}; lecture: ${words(reference).length} words, ${seconds.toFixed(1)} s of espeak-ng (en-us, 150 wpm), 0.9 s pauses`);

// The engine alone, on the clean recording at 16 kHz: what pocketsphinx makes of it without the server.
execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', wav, '-ac', '1', '-ar', '16000', join(dir, 'clean16.wav')]);
const direct = execFileSync('pocketsphinx_continuous', ['-infile', join(dir, 'clean16.wav'), '-logfn', '/dev/null']).toString().trim().split('\n').join(' ');
const d = wer(reference, direct);
// A language model from the class's slides (src/captions/lm.ts), and from the lecture itself (the ceiling: no
// teacher has the transcript before the class).
const dict = dictionaryWords(readFileSync('/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict', 'utf8'));
const withLm = (text) => {
  writeFileSync(join(dir, 'class.lm'), arpaFromText(text, dict).arpa);
  const heard = execFileSync('pocketsphinx_continuous', ['-infile', join(dir, 'clean16.wav'), '-logfn', '/dev/null', '-lm', join(dir, 'class.lm')]).toString().trim().split('\n').join(' ');
  return wer(reference, heard);
};
const slides = withLm(SLIDES);
const ceiling = withLm(reference);

const httpPort = await freePort();
const config = loadConfig({
  env: {
    KMK_BIND_ADDRESS: '127.0.0.1', KMK_HTTP_PORT: String(httpPort), KMK_PUBLIC_URL: `http://127.0.0.1:${httpPort}`,
    KMK_RTMP_PORT: String(await freePort()), KMK_LOG_LEVEL: 'warn', KMK_INGEST_RECONNECT_GRACE_SECONDS: '1',
  },
  cwd: dir,
});
const server = await startServer(config, { log: createLogger('warn') });
const secret = loadJoinSecret('', config['paths.data']);
const runs = [];
for (let run = 0; run < REPEAT; run += 1) {
  const slug = `bench-captions-${run}`;
  const c = server.store.channels.create({ slug, title: slug, ladder: ['360p'], latency: 'low', record: false, archive: false, overflow: 'degrade', public: true, captions: 'auto', captionLanguages: ['en'] });
  const key = server.store.streamKeys.rotate(c.id).key;
  const token = signJoinToken({ sub: 'bench', name: 'Bench', role: 'learner', channel: slug, exp: Math.floor(Date.now() / 1000) + 3600 }, secret);
  const ws = new WebSocket(`ws://127.0.0.1:${server.httpPort}/ws?token=${token}`);
  const got = [];
  ws.on('message', (data) => {
    const m = JSON.parse(String(data));
    if (m.t === 'batch') for (const e of m.events) if (e.t === 'caption') got.push({ ...e.cue, at: Date.now() });
  });
  await new Promise((r) => ws.once('open', r));
  // Two seconds of silence first, so the lecture starts once the class runs; then the lecture once.
  const pub = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30',
    '-f', 'lavfi', '-t', '2', '-i', 'anullsrc=r=48000:cl=mono', '-i', wav,
    '-filter_complex', '[1:a][2:a]concat=n=2:v=0:a=1,aresample=48000[a]', '-map', '0:v', '-map', '[a]', '-t', String(seconds + 4),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '60', '-c:a', 'aac', '-b:a', '96k', '-f', 'flv',
    `rtmp://127.0.0.1:${server.rtmpPort}/live/${key}`], { stdio: ['ignore', 'ignore', 'inherit'] });
  const t0 = Date.now();
  while (server.live.current(slug)?.state !== 'live' && Date.now() - t0 < 30000) await sleep(200);
  await sleep(1500);
  const procs = children().filter((p) => /^pocketsphinx_continuous|^\S*ffmpeg .*-ar 16000 -f s16le/.test(p.args));
  const start = new Map(procs.map((p) => [p.pid, cpuMs(p.pid)]));
  const tStart = Date.now();
  let last = new Map(start);
  while (pub.exitCode === null) {
    for (const p of procs) last.set(p.pid, cpuMs(p.pid) ?? last.get(p.pid));
    await sleep(500);
  }
  const tEnd = Date.now();
  await sleep(4000); // the last utterance is said when its silence comes
  ws.close();
  while (server.live.current(slug) && Date.now() - tEnd < 30000) await sleep(200);
  const cpu = procs.reduce((n, p) => n + ((last.get(p.pid) ?? 0) - (start.get(p.pid) ?? 0)), 0) / (tEnd - tStart);
  const engineCpu = procs.filter((p) => p.args.startsWith('pocketsphinx')).reduce((n, p) => n + ((last.get(p.pid) ?? 0) - (start.get(p.pid) ?? 0)), 0) / (tEnd - tStart);
  const w = wer(reference, got.map((x) => x.text).join(' '));
  runs.push({ w, lines: got.length, first: got.map((x) => (x.at - x.start) / 1000), cpu, engineCpu, procs: procs.length });
}
await server.stop();
rmSync(dir, { recursive: true, force: true });

console.log(`\npocketsphinx alone on the clean 16 kHz recording: WER ${(d.wer * 100).toFixed(1)} % (${d.ref} words read, ${d.hyp} heard)`);
console.log(`  heard: "${direct.slice(0, 200)}${direct.length > 200 ? '…' : ''}"`);
console.log(`  with a language model from the class's slides: WER ${(slides.wer * 100).toFixed(1)} %; from the lecture's own text (a ceiling, not a use): ${(ceiling.wer * 100).toFixed(1)} %`);
for (const [i, r] of runs.entries()) {
  console.log(`class ${i + 1}, through the server (RTMP, AAC, decoder, engine): WER ${(r.w.wer * 100).toFixed(1)} % (${r.w.hyp} words in ${r.lines} lines)`);
  console.log(`  caption delay, first word -> line at the learner: p50 ${pct(r.first, 50).toFixed(2)} s, p90 ${pct(r.first, 90).toFixed(2)} s`);
  const inStep = (behind) => Math.round((100 * r.first.filter((s) => s <= behind).length) / Math.max(1, r.first.length));
  console.log(`  lines in step with the picture (there before the learner sees their first word): ${inStep(4)} % at 4 s behind (low), ${inStep(8)} % at 8 s (standard), ${inStep(1.7)} % at 1.7 s (ultra)`);
  console.log(`  engine CPU per class: ${r.engineCpu.toFixed(3)} core (pocketsphinx), ${r.cpu.toFixed(3)} core with its decoder (${r.procs} processes)`);
}
process.exit(0);
