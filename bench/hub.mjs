// Benchmark (not a test): one class, N WebSocket clients on loopback driven from separate load-generator
// processes; S chatters send R chat msgs/s in total plus reactions. Runs the same load, in the same run, against
// our hub, a naive `ws` server and a bare uWS publisher, and prints delivery latency, loss, server CPU and RSS.
// With `-- --workers N --backplane redis` it runs the same load against our hub as `serve --workers N` on a
// redis-server started here (Debian's, on a loopback port), side by side with the single process, and counts
// the CPU of every server process plus Redis's.
// With `-- --heap` it also takes a heap snapshot of our server once every client is connected (the 10,000-client
// scenario) and prints what the heap holds by constructor (bench/heap-summary.mjs).
// Usage: npm run bench:hub [-- --quick] [-- --workers 2 --backplane redis] [-- --heap] [-- --baseline <checkout>]
import { execFileSync, fork, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect as connectTcp, createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { heapSummary } from './heap-summary.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const quick = process.argv.includes('--quick');
const argOf = (name) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const WORKERS = Number(argOf('--workers') ?? 1);
const HEAP = process.argv.includes('--heap');
// `-- --baseline <checkout>`: the same load against another build of this project (its dist/ built), side by side.
const BASELINE = argOf('--baseline');
const OLD = 'baseline';
const BACKPLANE = argOf('--backplane');
if (!Number.isInteger(WORKERS) || WORKERS < 1 || WORKERS > 16) throw new Error('--workers must be 1..16');
if (WORKERS > 1 && BACKPLANE !== 'redis') throw new Error('--workers above 1 needs --backplane redis');
const MULTI = `ours ×${WORKERS} + redis`;
const GENERATORS = 4;
const SECRET = 'bench-secret-'.padEnd(48, 'x');

const freePort = () => new Promise((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const procStat1 = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const cpu = (Number(stat[11]) + Number(stat[12])) / 100; // utime + stime, clock ticks at 100 Hz
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  return { cpu, rssKb };
};
/** CPU and RSS summed over a server's processes (main process, workers, redis-server). */
const procStat = (pids) => pids.map(procStat1).reduce((a, b) => ({ cpu: a.cpu + b.cpu, rssKb: a.rssKb + b.rssKb }), { cpu: 0, rssKb: 0 });
const childrenOf = (pid) => readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((n) => {
  try {
    const st = readFileSync(`/proc/${n}/stat`, 'utf8');
    return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === pid;
  } catch {
    return false;
  }
}).map(Number);

async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'kmk-hubbench-redis-'));
  const proc = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise((resolve) => {
      const s = connectTcp(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (up) break;
    await sleep(100);
  }
  return { url: `redis://127.0.0.1:${port}`, pid: proc.pid, stop: () => { proc.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); } };
}

async function startServer(kind) {
  const httpPort = await freePort();
  let proc;
  let dir;
  let redis;
  if (kind === 'ours' || kind === MULTI || kind === OLD) {
    const bin = join(kind === OLD ? BASELINE : root, 'bin/kmk-live');
    dir = mkdtempSync(join(tmpdir(), 'kmk-hubbench-'));
    redis = kind === MULTI ? await startRedis() : undefined;
    const env = { ...process.env, KMK_HTTP_PORT: String(httpPort), KMK_RTMP_PORT: String(await freePort()), KMK_BIND_ADDRESS: '127.0.0.1',
      KMK_HUB_JOIN_SECRET: SECRET, KMK_LOG_LEVEL: 'warn', ...(redis ? { KMK_HUB_REDIS_URL: redis.url } : {}) };
    execFileSync(process.execPath, [bin, 'channel', 'create', 'bench'], { cwd: dir, env, stdio: 'ignore' });
    const heapFlag = HEAP && !redis ? ['--heapsnapshot-signal=SIGUSR2'] : [];
    const serveArgs = redis ? ['serve', '--workers', String(WORKERS)] : ['serve'];
    proc = spawn(process.execPath, [...heapFlag, bin, ...serveArgs], { cwd: dir, env, stdio: ['ignore', 'ignore', 'inherit'] });
  } else {
    proc = spawn(process.execPath, [join(here, 'hub-servers.mjs'), kind, String(httpPort)], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok) break;
    } catch { /* not up yet */ }
    await sleep(100);
  }
  let workers = [];
  for (let i = 0; i < 100 && redis && workers.length < WORKERS - 1; i++) {
    await sleep(100);
    workers = childrenOf(proc.pid);
  }
  const pids = [proc.pid, ...workers, ...(redis ? [redis.pid] : [])];
  return {
    proc, pids, dir, base: `ws://127.0.0.1:${httpPort}`, http: `http://127.0.0.1:${httpPort}`,
    stop: () => {
      for (const p of pids) {
        try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
      }
      redis?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function percentile(hist, total, p) {
  let acc = 0;
  const target = total * p;
  for (let i = 0; i < hist.length; i++) { acc += hist[i]; if (acc >= target) return i; }
  return hist.length - 1;
}

async function run(kind, load) {
  const server = await startServer(kind);
  await sleep(300);
  const before = procStat(server.pids);
  const gens = [];
  const per = Math.ceil(load.clients / GENERATORS);
  for (let g = 0; g < GENERATORS; g++) {
    const plan = { kind: kind === MULTI || kind === OLD ? 'ours' : kind, base: server.base, channel: 'bench', secret: SECRET, gen: g, count: Math.min(per, load.clients - g * per),
      chatters: Math.ceil(load.chatters / GENERATORS), chatRate: load.chatRate / GENERATORS,
      reactors: Math.ceil(load.reactors / GENERATORS), reactRate: load.reactRate / GENERATORS };
    const child = fork(join(here, 'hub-loadgen.mjs'), [JSON.stringify(plan)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    gens.push({ child, connected: new Promise((r) => child.once('message', r)), done: new Promise((r) => child.on('message', (m) => m.type === 'done' && r(m))) });
  }
  const connectedAt = Date.now();
  const connected = (await Promise.all(gens.map((g) => g.connected))).reduce((n, m) => n + m.count, 0);
  const connectSeconds = (Date.now() - connectedAt) / 1000;
  await sleep(1500);
  const idle = procStat(server.pids);
  // How the kernel spread the sockets over our processes (each counts its own in /metrics).
  let split = '';
  if (kind === 'ours' || kind === MULTI) {
    const text = await (await fetch(`${server.http}/metrics`)).text().catch(() => '');
    split = [...text.matchAll(/^kmk_hub_process_sockets\{pid="(\d+)"\} (\d+)$/gm)].map((m) => `pid ${m[1]}${Number(m[1]) === server.proc.pid ? ' (main)' : ''}: ${m[2]}`).join(', ');
  }
  let heap;
  if (HEAP && (kind === 'ours' || kind === OLD) && load.clients >= 1000) {
    // The snapshot is written into the server's working folder; wait until its size stops changing.
    server.proc.kill('SIGUSR2');
    let file;
    for (let i = 0, last = -1; i < 600; i++) {
      await sleep(500);
      file = readdirSync(server.dir).find((n) => n.endsWith('.heapsnapshot'));
      if (!file) continue;
      const size = statSync(join(server.dir, file)).size;
      if (size > 0 && size === last) break;
      last = size;
    }
    if (file) heap = heapSummary(join(server.dir, file), 20);
    await sleep(1000);
  }
  const t0 = Date.now() + 500;
  for (const g of gens) g.child.send({ type: 'go', t0, durationMs: load.seconds * 1000, drainMs: 2000 });
  await sleep(t0 - Date.now());
  const start = procStat(server.pids);
  await sleep(load.seconds * 1000);
  const end = procStat(server.pids);
  const results = await Promise.all(gens.map((g) => g.done));
  server.stop();
  const sent = results.reduce((n, r) => n + r.sentInWindow, 0);
  const delivered = results.reduce((n, r) => n + r.delivered, 0);
  const open = results.reduce((n, r) => n + r.open, 0);
  const hist = new Array(results[0].hist.length).fill(0);
  for (const r of results) r.hist.forEach((v, i) => { hist[i] += v; });
  const samples = hist.reduce((n, v) => n + v, 0);
  const expected = sent * connected;
  return {
    kind, connected, open, connectSeconds, sent, delivered, split, heap,
    lost: Math.max(0, expected - delivered),
    perSecond: delivered / load.seconds,
    p50: percentile(hist, samples, 0.5), p95: percentile(hist, samples, 0.95), p99: percentile(hist, samples, 0.99),
    serverCpu: (end.cpu - start.cpu) / load.seconds,
    rssMb: end.rssKb / 1024,
    idleKbPerConn: connected ? (idle.rssKb - before.rssKb) / connected : 0,
    genCpu: results.reduce((n, r) => n + r.cpuSeconds, 0),
  };
}

const multi = WORKERS > 1;
const scenarios = [
  { name: `${quick ? 200 : 2000} clients, 20 chat msgs/s + 200 reactions/s`, clients: quick ? 200 : 2000, chatters: 40, chatRate: 20, reactors: 200, reactRate: 200, seconds: quick ? 5 : 15, kinds: BASELINE ? ['ours', OLD] : multi ? ['ours', MULTI] : ['ours', 'naive', 'bare'] },
  { name: `${quick ? 1000 : 10000} clients connected and receiving 20 chat msgs/s`, clients: quick ? 1000 : 10000, chatters: 40, chatRate: 20, reactors: 0, reactRate: 0, seconds: quick ? 5 : 15, kinds: BASELINE ? [OLD, 'ours'] : multi ? ['ours', MULTI] : ['ours', 'bare'] },
];

console.log(`machine: ${cpus().length} × ${cpus()[0]?.model}; ${GENERATORS} load-generator processes on the same box; latency sampled on 1 client in 10, loss counted on all\n`);
const rows = [];
for (const s of scenarios) {
  for (const kind of s.kinds) {
    process.stderr.write(`running ${kind}: ${s.name}…\n`);
    const r = await run(kind, s);
    rows.push({ scenario: s.name, ...r });
  }
}
console.log('| scenario | server | clients | delivered/s | p50 ms | p95 ms | p99 ms | lost | server CPU (cores) | server RSS MB | idle KB/conn | load-gen CPU s |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.scenario} | ${r.kind} | ${r.connected} (${r.open} open at end) | ${Math.round(r.perSecond)} | ${r.p50} | ${r.p95} | ${r.p99} | ${r.lost} | ${r.serverCpu.toFixed(2)} | ${r.rssMb.toFixed(0)} | ${r.idleKbPerConn.toFixed(1)} | ${r.genCpu.toFixed(1)} |`);
}
console.log('\nsockets per process of our server, once every client was connected:');
for (const r of rows) if (r.split) console.log(`- ${r.scenario}, ${r.kind}: ${r.split}`);
for (const r of rows) {
  if (!r.heap) continue;
  console.log(`\nheap of our server with ${r.connected} clients connected (${r.scenario}): ${(r.heap.total / 1048576).toFixed(1)} MB in objects, ${(r.heap.total / r.connected).toFixed(0)} bytes per client`);
  console.log('| kind and constructor | count | MB | per client |\n|---|---|---|---|');
  for (const h of r.heap.rows) console.log(`| ${h.key.slice(0, 60)} | ${h.count} | ${(h.bytes / 1048576).toFixed(2)} | ${(h.bytes / r.connected).toFixed(0)} B |`);
}
console.log('\nratios (ours ÷ other, same scenario): lower is better for latency and CPU');
for (const s of scenarios) {
  const ours = rows.find((r) => r.scenario === s.name && r.kind === 'ours');
  for (const other of rows.filter((r) => r.scenario === s.name && r.kind !== 'ours')) {
    console.log(`- ${s.name} vs ${other.kind}: p99 ${(ours.p99 / Math.max(1, other.p99)).toFixed(2)}×, server CPU ${(ours.serverCpu / Math.max(0.001, other.serverCpu)).toFixed(2)}×, delivered/s ${(ours.perSecond / Math.max(1, other.perSecond)).toFixed(2)}×`);
  }
}
const a = rows.find((r) => r.kind === 'ours' && r.scenario === scenarios[0].name);
const b = rows.find((r) => r.kind === 'ours' && r.scenario === scenarios[1].name);
console.log(`\ntargets: 2,000 clients p99 < 100 ms and nothing lost — ${a.p99 < 100 && a.lost === 0 ? 'met' : 'NOT met'} (p99 ${a.p99} ms, lost ${a.lost});`
  + ` 10,000 clients p99 < 250 ms — ${b.p99 < 250 ? 'met' : 'NOT met'} (p99 ${b.p99} ms); < 10 KB RSS per idle connection — ${b.idleKbPerConn < 10 ? 'met' : 'NOT met'} (${b.idleKbPerConn.toFixed(1)} KB)`);
if (multi) {
  const m2k = rows.find((r) => r.kind === MULTI && r.scenario === scenarios[0].name);
  const m10k = rows.find((r) => r.kind === MULTI && r.scenario === scenarios[1].name);
  const cpuPerMsg = (r) => r.serverCpu / Math.max(1, r.perSecond);
  const ratio = cpuPerMsg(m2k) / Math.max(1e-12, cpuPerMsg(a));
  console.log(`\nbackplane targets (${WORKERS} workers on Redis): ${b.connected} clients p99 ≤ 250 ms and nothing lost — ${m10k.p99 <= 250 && m10k.lost === 0 ? 'met' : 'NOT met'}`
    + ` (p99 ${m10k.p99} ms vs ${b.p99} ms single, lost ${m10k.lost});`
    + ` at ${a.connected} clients CPU per delivered message ≤ 1.5× single — ${ratio <= 1.5 ? 'met' : 'NOT met'} (${ratio.toFixed(2)}×, Redis's CPU included)`);
}
