// Benchmark (not a test): does a flood of unauthenticated LTI logins hurt a live class? The real server runs as
// `kmk-live serve` with a registered LMS and a live class (real ffmpeg over RTMP); a probe fetches /healthz and the
// newest segment every 50 ms, first quietly (the baseline), then while a separate process sends bogus logins at
// 2,000/s for 10 s, once from one address and once from 65,536 (X-Forwarded-For). Prints latency percentiles of
// both probes per phase, their ratio to the baseline, how the logins were answered and what the database kept.
// Usage: npm run bench:login-flood [-- --rate 2000 --seconds 10]
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const arg = (name, def) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : def);
const RATE = arg('--rate', 2000);
const SECONDS = arg('--seconds', 10);
const ROOT = new URL('..', import.meta.url).pathname;
const BIN = join(ROOT, 'bin', 'kmk-live');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

const dir = mkdtempSync(join(tmpdir(), 'kmk-flood-'));
const http = await freePort();
const rtmp = await freePort();
const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KMK_'))),
  KMK_BIND_ADDRESS: '127.0.0.1', KMK_HTTP_PORT: String(http), KMK_RTMP_PORT: String(rtmp), KMK_PUBLIC_URL: `http://127.0.0.1:${http}`, KMK_LOG_LEVEL: 'error' };
const cli = (args) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kmk-live ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const created = JSON.parse(cli(['channel', 'create', 'flood-class', '--ladder', '360p', '--latency', 'low', '--public', 'on', '--record', 'off', '--json']));
cli(['lti', 'platform', 'add', '--issuer', 'https://lms.bench.example', '--client-id', 'bench-client', '--auth-url', 'https://lms.bench.example/auth',
  '--token-url', 'https://lms.bench.example/token', '--jwks-url', 'https://lms.bench.example/jwks', '--deployment-id', 'd1']);

const server = spawn(process.execPath, [BIN, 'serve'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'inherit'] });
const base = `http://127.0.0.1:${http}`;
const cleanup = () => {
  server.kill('SIGKILL');
  pub?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);
let pub;
for (let i = 0; i < 200; i += 1) {
  if ((await fetch(`${base}/healthz`).catch(() => undefined))?.ok) break;
  await sleep(100);
}
pub = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440',
  '-c:v', 'libx264', '-preset', 'veryfast', '-g', '30', '-b:v', '1200k', '-c:a', 'aac', '-t', String(30 + 3 * SECONDS + 30), '-f', 'flv',
  `rtmp://127.0.0.1:${rtmp}/live/${created.obs.streamKey}`], { stdio: ['ignore', 'ignore', 'inherit'] });

let segment = '';
const refresh = async () => {
  const text = await (await fetch(`${base}/hls/flood-class/360p/index.m3u8`)).text().catch(() => '');
  const last = text.split('\n').filter((l) => l && !l.startsWith('#')).pop();
  if (last) segment = `/hls/flood-class/360p/${last}`;
};
for (let i = 0; i < 300 && !segment; i += 1) {
  await refresh();
  await sleep(200);
}
if (!segment) throw new Error('the live class produced no segment');

async function timed(path) {
  const t0 = performance.now();
  const r = await fetch(base + path).catch(() => undefined);
  if (r) await r.arrayBuffer();
  return { ms: performance.now() - t0, ok: r?.ok === true };
}

/** Probes /healthz and the newest segment every 50 ms for `seconds`. */
async function probe(seconds) {
  const out = { healthz: [], segment: [], failures: 0 };
  const end = performance.now() + seconds * 1000;
  let lastRefresh = 0;
  while (performance.now() < end) {
    if (performance.now() - lastRefresh > 1000) {
      lastRefresh = performance.now();
      await refresh();
    }
    const [h, s] = await Promise.all([timed('/healthz'), timed(segment)]);
    out.healthz.push(h.ms);
    out.segment.push(s.ms);
    if (!h.ok || !s.ok) out.failures += 1;
    await sleep(50);
  }
  return out;
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const stats = (xs) => ({ p50: pct(xs, 50), p99: pct(xs, 99), max: Math.max(...xs) });

function flood(spread) {
  return new Promise((resolve) => {
    const g = spawn(process.execPath, [join(ROOT, 'bench', 'login-flood-gen.mjs'), '--url', `${base}/lti/login`, '--rate', String(RATE), '--seconds', String(SECONDS), ...(spread ? ['--spread'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    g.stdout.on('data', (c) => (out += c));
    g.on('close', () => resolve(JSON.parse(out.trim().split('\n').pop())));
  });
}

await probe(3); // warm-up
const rows = [];
rows.push({ phase: 'baseline (no flood)', ...(await probe(SECONDS)) });
for (const spread of [false, true]) {
  const [p, f] = await Promise.all([probe(SECONDS), flood(spread)]);
  rows.push({ phase: spread ? `${RATE}/s from 65,536 addresses` : `${RATE}/s from one address`, ...p, gen: f });
  await sleep(2000);
}
const db = new Database(join(dir, 'data', 'kmk.db'), { readonly: true });
const pending = db.prepare('SELECT COUNT(*) AS n FROM lti_logins').get().n;
db.close();

const b = rows[0];
console.log(`login flood: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}; server = kmk-live serve, one live 360p class`);
console.log('phase                          | healthz p50 / p99 / max ms   | segment p50 / p99 / max ms   | ratio p99 h / s | probe fails | logins sent/s | answers');
for (const r of rows) {
  const h = stats(r.healthz);
  const s = stats(r.segment);
  const ratio = `${(h.p99 / stats(b.healthz).p99).toFixed(2)} / ${(s.p99 / stats(b.segment).p99).toFixed(2)}`;
  const answers = r.gen ? Object.entries(r.gen.byStatus).map(([k, v]) => `${k}: ${v}`).join(', ') + (r.gen.skipped ? `, not sent (server behind): ${r.gen.skipped}` : '') : '';
  console.log(`${r.phase.padEnd(30)} | ${[h.p50, h.p99, h.max].map((x) => x.toFixed(1)).join(' / ').padEnd(28)} | ${[s.p50, s.p99, s.max].map((x) => x.toFixed(1)).join(' / ').padEnd(28)} | ${ratio.padEnd(15)} | ${String(r.failures).padEnd(11)} | ${String(r.gen?.achievedPerSecond ?? '-').padEnd(13)} | ${answers}`);
}
console.log(`pending logins kept in SQLite after both floods: ${pending} (cap 20,000; lti.loginsPerMinutePerAddress 1,200)`);
server.kill('SIGTERM');
pub.kill('SIGKILL');
