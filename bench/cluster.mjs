// Benchmark (not a test): the store and the hub when a school runs several boxes. In one run, the same load twice:
//   one box  — one `kmk-live serve` on its SQLite file, 3 classes live, 1,500 learners (500 per class);
//   3 boxes  — three `serve` on one PostgreSQL and one Redis (both started here, Debian's, on loopback ports), one
//              class live on each box, 500 learners on each box in that box's class.
// Each class is a real ffmpeg push (640x360, its 360p rung passed through). Prints chat delivery latency (p50/p99),
// loss, rows added to the store per second, and CPU: the boxes', PostgreSQL's and Redis's.
// Usage: npm run bench:cluster [-- --quick] [-- --seconds 20]
import { execFileSync, fork, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect as connectTcp, createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import Database from 'better-sqlite3';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const BIN = join(root, 'bin/kmk-live');
const quick = process.argv.includes('--quick');
const argOf = (name) => { const i = process.argv.indexOf(name); return i >= 0 ? process.argv[i + 1] : undefined; };
const SECONDS = Number(argOf('--seconds') ?? (quick ? 8 : 20));
const PER_CLASS = quick ? 100 : 500;
const CLASSES = 3;
const CHAT_PER_CLASS = 7; // chat messages per second in each class (21 in all)
const REACT_PER_CLASS = 30;
const SECRET = 'bench-secret-'.padEnd(48, 'x');
const TABLES = ['chat_messages', 'attendance', 'engagement_counts', 'beacons', 'sessions', 'session_traffic', 'questions', 'polls'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () => new Promise((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
});
const cpuOf = (pid) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(stat[11]) + Number(stat[12])) / 100;
  } catch {
    return 0;
  }
};
const childrenOf = (pid) => readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((n) => {
  try {
    const st = readFileSync(`/proc/${n}/stat`, 'utf8');
    return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === pid;
  } catch {
    return false;
  }
}).map(Number);
const tree = (pid) => [pid, ...childrenOf(pid).flatMap(tree)];
const cpuOfTree = (pid) => tree(pid).reduce((n, p) => n + cpuOf(p), 0);
const waitUp = async (url) => {
  for (let i = 0; i < 300; i++) {
    try { if ((await fetch(url)).ok) return; } catch { /* not yet */ }
    await sleep(100);
  }
  throw new Error(`${url} did not come up`);
};

async function startPostgres() {
  const bin = readdirSync('/usr/lib/postgresql').map((v) => join('/usr/lib/postgresql', v, 'bin')).find((b) => existsSync(join(b, 'postgres')));
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install postgresql)');
  const dir = mkdtempSync(join(tmpdir(), 'kmk-clusterbench-pg-'));
  const ids = process.getuid() === 0 ? { uid: Number(execFileSync('id', ['-u', 'postgres'])), gid: Number(execFileSync('id', ['-g', 'postgres'])) } : {};
  if (ids.uid !== undefined) chownSync(dir, ids.uid, ids.gid);
  execFileSync(join(bin, 'initdb'), ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'kmk', '--no-sync', '-E', 'UTF8', '--locale=C'], { stdio: 'ignore', cwd: dir, ...ids });
  const port = await freePort();
  // Durable as a school would run it (fsync on), on this machine's disk.
  const proc = spawn(join(bin, 'postgres'), ['-D', join(dir, 'data'), '-p', String(port), '-c', 'unix_socket_directories=', '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'], { stdio: 'ignore', cwd: dir, ...ids });
  const url = `postgres://kmk@127.0.0.1:${port}/postgres`;
  for (let i = 0; i < 200; i++) {
    const c = new pg.Client({ connectionString: url });
    try { await c.connect(); await c.end(); break; } catch { await sleep(100); }
  }
  return { url, pid: proc.pid, stop: () => { proc.kill('SIGINT'); setTimeout(() => rmSync(dir, { recursive: true, force: true }), 2000); } };
}

async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'kmk-clusterbench-redis-'));
  const proc = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise((resolve) => { const s = connectTcp(port, '127.0.0.1', () => { s.destroy(); resolve(true); }); s.once('error', () => resolve(false)); });
    if (up) break;
    await sleep(100);
  }
  return { url: `redis://127.0.0.1:${port}`, pid: proc.pid, stop: () => { proc.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); } };
}

function pushTo(rtmp) {
  return spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '60', '-c:a', 'aac', '-b:a', '96k', '-f', 'flv', rtmp], { stdio: 'ignore' });
}

async function boxes(kind) {
  const work = mkdtempSync(join(tmpdir(), 'kmk-clusterbench-'));
  const store = kind === 'cluster' ? await startPostgres() : undefined;
  const redis = kind === 'cluster' ? await startRedis() : undefined;
  const common = { ...process.env, KMK_BIND_ADDRESS: '127.0.0.1', KMK_HUB_JOIN_SECRET: SECRET, KMK_LOG_LEVEL: 'warn',
    ...(store ? { KMK_STORE_URL: store.url, KMK_HUB_REDIS_URL: redis.url } : {}) };
  const n = kind === 'cluster' ? CLASSES : 1;
  const list = [];
  for (let i = 0; i < n; i++) {
    const http = await freePort();
    const rtmp = await freePort();
    const dir = join(work, `box${i}`);
    mkdirSync(dir);
    list.push({ http, rtmp, dir, env: { ...common, KMK_NODE_NAME: `box${i}`, KMK_HTTP_PORT: String(http), KMK_RTMP_PORT: String(rtmp), KMK_PUBLIC_URL: `http://127.0.0.1:${http}`,
      ...(kind === 'cluster' && i > 0 ? { KMK_HUB_WRITER: 'false' } : {}) } });
  }
  const keys = [];
  for (let c = 0; c < CLASSES; c++) {
    const out = execFileSync(process.execPath, [BIN, 'channel', 'create', `class-${c}`, '--ladder', '360p', '--public', 'on', '--json'], { cwd: list[0].dir, env: list[0].env });
    keys.push(JSON.parse(out).obs.streamKey);
  }
  for (const b of list) b.proc = spawn(process.execPath, [BIN, 'serve'], { cwd: b.dir, env: b.env, stdio: ['ignore', 'ignore', 'inherit'] });
  await Promise.all(list.map((b) => waitUp(`http://127.0.0.1:${b.http}/healthz`)));
  const boxOf = (c) => list[c % list.length];
  const pushes = keys.map((k, c) => pushTo(`rtmp://127.0.0.1:${boxOf(c).rtmp}/live/${k}`));
  for (let c = 0; c < CLASSES; c++) await waitUp(`http://127.0.0.1:${boxOf(c).http}/hls/class-${c}/master.m3u8`);
  const rows = async () => {
    if (store) {
      const client = new pg.Client({ connectionString: store.url });
      await client.connect();
      let total = 0;
      for (const t of TABLES) total += Number((await client.query(`SELECT COUNT(*) AS n FROM ${t}`)).rows[0].n);
      await client.end();
      return total;
    }
    const db = new Database(join(list[0].dir, 'data', 'kmk.db'), { readonly: true });
    const total = TABLES.reduce((n, t) => n + db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get().n, 0);
    db.close();
    return total;
  };
  return {
    list, boxOf, rows, store, redis,
    cpu: () => ({ boxes: list.reduce((n, b) => n + cpuOfTree(b.proc.pid), 0), store: store ? cpuOfTree(store.pid) : 0, redis: redis ? cpuOf(redis.pid) : 0 }),
    stop: () => {
      for (const p of pushes) p.kill('SIGKILL');
      for (const b of list) { for (const p of tree(b.proc.pid).reverse()) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } } }
      store?.stop();
      redis?.stop();
      setTimeout(() => rmSync(work, { recursive: true, force: true }), 1000);
    },
  };
}

function percentile(hist, total, p) {
  let acc = 0;
  for (let i = 0; i < hist.length; i++) { acc += hist[i]; if (acc >= total * p) return i; }
  return hist.length - 1;
}

async function run(kind) {
  const b = await boxes(kind);
  await sleep(1000);
  const gens = [];
  for (let c = 0; c < CLASSES; c++) {
    const plan = { kind: 'ours', base: `ws://127.0.0.1:${b.boxOf(c).http}`, channel: `class-${c}`, secret: SECRET, gen: c, count: PER_CLASS,
      chatters: 10, chatRate: CHAT_PER_CLASS, reactors: 50, reactRate: REACT_PER_CLASS };
    const child = fork(join(here, 'hub-loadgen.mjs'), [JSON.stringify(plan)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    gens.push({ child, connected: new Promise((r) => child.once('message', r)), done: new Promise((r) => child.on('message', (m) => m.type === 'done' && r(m))) });
  }
  const connected = (await Promise.all(gens.map((g) => g.connected))).reduce((n, m) => n + m.count, 0);
  await sleep(2000);
  const t0 = Date.now() + 500;
  for (const g of gens) g.child.send({ type: 'go', t0, durationMs: SECONDS * 1000, drainMs: 2000 });
  await sleep(t0 - Date.now());
  const rows0 = await b.rows();
  const cpu0 = b.cpu();
  await sleep(SECONDS * 1000);
  const cpu1 = b.cpu();
  const results = await Promise.all(gens.map((g) => g.done));
  await sleep(1500); // the last batches reach the store
  const rows1 = await b.rows();
  b.stop();
  const hist = new Array(results[0].hist.length).fill(0);
  for (const r of results) r.hist.forEach((v, i) => { hist[i] += v; });
  const samples = hist.reduce((n, v) => n + v, 0);
  const expected = results.reduce((n, r) => n + r.sentInWindow * PER_CLASS, 0);
  const delivered = results.reduce((n, r) => n + r.delivered, 0);
  return {
    kind, connected, p50: percentile(hist, samples, 0.5), p99: percentile(hist, samples, 0.99), lost: Math.max(0, expected - delivered),
    rowsPerSecond: (rows1 - rows0) / SECONDS,
    boxCpu: (cpu1.boxes - cpu0.boxes) / SECONDS, storeCpu: (cpu1.store - cpu0.store) / SECONDS, redisCpu: (cpu1.redis - cpu0.redis) / SECONDS,
  };
}

console.log(`machine: ${cpus().length} × ${cpus()[0]?.model}; everything on this one machine (boxes, ffmpeg pushes, load generators, PostgreSQL, Redis)`);
console.log(`load: ${CLASSES} classes, ${PER_CLASS} learners each, ${CHAT_PER_CLASS} chat msgs/s and ${REACT_PER_CLASS} reactions/s per class, ${SECONDS} s\n`);
const rows = [];
for (const kind of ['one box', 'cluster']) {
  process.stderr.write(`running ${kind}…\n`);
  rows.push(await run(kind));
}
console.log('| setup | learners | chat p50 ms | chat p99 ms | lost | rows added/s | boxes CPU (cores) | PostgreSQL CPU | Redis CPU |');
console.log('|---|---|---|---|---|---|---|---|---|');
const label = { 'one box': '1 box, SQLite, 3 classes', cluster: '3 boxes, PostgreSQL + Redis, 1 class each' };
for (const r of rows) console.log(`| ${label[r.kind]} | ${r.connected} | ${r.p50} | ${r.p99} | ${r.lost} | ${r.rowsPerSecond.toFixed(1)} | ${r.boxCpu.toFixed(2)} | ${r.storeCpu.toFixed(3)} | ${r.redisCpu.toFixed(3)} |`);
const [one, three] = rows;
console.log(`\nratios (3 boxes ÷ 1 box): chat p99 ${(three.p99 / Math.max(1, one.p99)).toFixed(2)}×, rows/s ${(three.rowsPerSecond / Math.max(0.1, one.rowsPerSecond)).toFixed(2)}×, server CPU (boxes + store + Redis) ${((three.boxCpu + three.storeCpu + three.redisCpu) / Math.max(0.001, one.boxCpu)).toFixed(2)}×`);
process.exit(0);
