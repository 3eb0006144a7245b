// Benchmark (not a test): one class, N WebSocket clients on loopback driven from separate load-generator
// processes; S chatters send R chat msgs/s in total plus reactions. Runs the same load, in the same run, against
// our hub, a naive `ws` server and a bare uWS publisher, and prints delivery latency, loss, server CPU and RSS.
// Usage: npm run bench:hub [-- --quick]
import { execFileSync, fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const quick = process.argv.includes('--quick');
const GENERATORS = 4;
const SECRET = 'bench-secret-'.padEnd(48, 'x');

const freePort = () => new Promise((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const procStat = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const cpu = (Number(stat[11]) + Number(stat[12])) / 100; // utime + stime, clock ticks at 100 Hz
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  return { cpu, rssKb };
};

async function startServer(kind) {
  const httpPort = await freePort();
  let proc;
  let dir;
  if (kind === 'ours') {
    dir = mkdtempSync(join(tmpdir(), 'kmk-hubbench-'));
    const env = { ...process.env, KMK_HTTP_PORT: String(httpPort), KMK_RTMP_PORT: String(await freePort()), KMK_BIND_ADDRESS: '127.0.0.1',
      KMK_HUB_JOIN_SECRET: SECRET, KMK_LOG_LEVEL: 'warn' };
    execFileSync(process.execPath, [join(root, 'bin/kmk-live'), 'channel', 'create', 'bench'], { cwd: dir, env, stdio: 'ignore' });
    proc = spawn(process.execPath, [join(root, 'bin/kmk-live'), 'serve'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'inherit'] });
  } else {
    proc = spawn(process.execPath, [join(here, 'hub-servers.mjs'), kind, String(httpPort)], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok) break;
    } catch { /* not up yet */ }
    await sleep(100);
  }
  return { proc, base: `ws://127.0.0.1:${httpPort}`, stop: () => { proc.kill('SIGKILL'); if (dir) rmSync(dir, { recursive: true, force: true }); } };
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
  const before = procStat(server.proc.pid);
  const gens = [];
  const per = Math.ceil(load.clients / GENERATORS);
  for (let g = 0; g < GENERATORS; g++) {
    const plan = { kind, base: server.base, channel: 'bench', secret: SECRET, gen: g, count: Math.min(per, load.clients - g * per),
      chatters: Math.ceil(load.chatters / GENERATORS), chatRate: load.chatRate / GENERATORS,
      reactors: Math.ceil(load.reactors / GENERATORS), reactRate: load.reactRate / GENERATORS };
    const child = fork(join(here, 'hub-loadgen.mjs'), [JSON.stringify(plan)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    gens.push({ child, connected: new Promise((r) => child.once('message', r)), done: new Promise((r) => child.on('message', (m) => m.type === 'done' && r(m))) });
  }
  const connectedAt = Date.now();
  const connected = (await Promise.all(gens.map((g) => g.connected))).reduce((n, m) => n + m.count, 0);
  const connectSeconds = (Date.now() - connectedAt) / 1000;
  await sleep(1500);
  const idle = procStat(server.proc.pid);
  const t0 = Date.now() + 500;
  for (const g of gens) g.child.send({ type: 'go', t0, durationMs: load.seconds * 1000, drainMs: 2000 });
  await sleep(t0 - Date.now());
  const start = procStat(server.proc.pid);
  await sleep(load.seconds * 1000);
  const end = procStat(server.proc.pid);
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
    kind, connected, open, connectSeconds, sent, delivered,
    lost: Math.max(0, expected - delivered),
    perSecond: delivered / load.seconds,
    p50: percentile(hist, samples, 0.5), p95: percentile(hist, samples, 0.95), p99: percentile(hist, samples, 0.99),
    serverCpu: (end.cpu - start.cpu) / load.seconds,
    rssMb: end.rssKb / 1024,
    idleKbPerConn: connected ? (idle.rssKb - before.rssKb) / connected : 0,
    genCpu: results.reduce((n, r) => n + r.cpuSeconds, 0),
  };
}

const scenarios = [
  { name: `${quick ? 200 : 2000} clients, 20 chat msgs/s + 200 reactions/s`, clients: quick ? 200 : 2000, chatters: 40, chatRate: 20, reactors: 200, reactRate: 200, seconds: quick ? 5 : 15, kinds: ['ours', 'naive', 'bare'] },
  { name: `${quick ? 1000 : 10000} clients connected and receiving 20 chat msgs/s`, clients: quick ? 1000 : 10000, chatters: 40, chatRate: 20, reactors: 0, reactRate: 0, seconds: quick ? 5 : 15, kinds: ['ours', 'bare'] },
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
