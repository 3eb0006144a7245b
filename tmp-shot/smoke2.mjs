import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
const dir = mkdtempSync(join(tmpdir(), 'kmk-smoke-'));
const startRedis = () => spawn('/usr/bin/redis-server', ['--port', '46379', '--save', '', '--appendonly', 'yes', '--dir', dir], { stdio: 'ignore' });
let redis = startRedis();
await new Promise((r) => setTimeout(r, 500));
const env = { ...process.env, KMK_HTTP_PORT: '48080', KMK_RTMP_PORT: '41935', KMK_BIND_ADDRESS: '127.0.0.1', KMK_HUB_REDIS_URL: 'redis://127.0.0.1:46379', KMK_HUB_JOIN_SECRET: 'x'.repeat(40) };
const bin = '/work/main/bin/kmk-live';
execFileSync(bin, ['channel', 'create', 'math'], { cwd: dir, env });
const srv = spawn(bin, ['serve', '--workers', '2'], { cwd: dir, env, stdio: ['ignore', 'inherit', 'inherit'] });
for (let i = 0; i < 100; i++) { try { if ((await fetch('http://127.0.0.1:48080/healthz')).ok) break; } catch {} await new Promise((r) => setTimeout(r, 200)); }
const tok = (u) => JSON.parse(execFileSync(bin, ['token', 'join', 'math', '--user', u, '--name', u, '--json'], { cwd: dir, env }).toString()).token;
for (let i = 0; i < 4; i++) { const ws = new WebSocket(`ws://127.0.0.1:48080/ws?token=${tok('u' + i)}`); await new Promise((r) => ws.once('open', r)); }
if (process.argv[2] === 'restart') {
  redis.kill(); await new Promise((r) => redis.once('exit', r)); redis = startRedis(); await new Promise((r) => setTimeout(r, 2000));
}
console.log('SIGTERM at', new Date().toISOString());
srv.kill('SIGTERM');
const t0 = Date.now();
await new Promise((r) => srv.once('exit', r));
console.log('exited after', Date.now() - t0, 'ms');
redis.kill();
process.exit(0);
