import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
const dir = mkdtempSync(join(tmpdir(), 'kmk-smoke-'));
const redis = spawn('/usr/bin/redis-server', ['--port', '46379', '--save', '', '--dir', dir], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 500));
const env = { ...process.env, KMK_HTTP_PORT: '48080', KMK_RTMP_PORT: '41935', KMK_BIND_ADDRESS: '127.0.0.1', KMK_HUB_REDIS_URL: 'redis://127.0.0.1:46379', KMK_HUB_JOIN_SECRET: 'x'.repeat(40) };
const bin = '/work/main/bin/kmk-live';
execFileSync(bin, ['channel', 'create', 'math'], { cwd: dir, env });
const srv = spawn(bin, ['serve', '--workers', '2'], { cwd: dir, env, stdio: ['ignore', 'inherit', 'inherit'] });
for (let i = 0; i < 100; i++) { try { if ((await fetch('http://127.0.0.1:48080/healthz')).ok) break; } catch {} await new Promise((r) => setTimeout(r, 200)); }
await new Promise((r) => setTimeout(r, 1500));
const tok = (u) => execFileSync(bin, ['token', 'join', 'math', '--user', u, '--name', u, '--json'], { cwd: dir, env }).toString();
const clients = [];
for (let i = 0; i < 6; i++) {
  const t = JSON.parse(tok('u' + i)).token;
  const ws = new WebSocket(`ws://127.0.0.1:48080/ws?token=${t}`);
  const c = { ws, msgs: [], i };
  ws.on('message', (d) => c.msgs.push(JSON.parse(d.toString())));
  await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
  clients.push(c);
}
await new Promise((r) => setTimeout(r, 1000));
console.log('welcomes', clients.map((c) => c.msgs.filter((m) => m.t === 'welcome').length));
clients[0].ws.send(JSON.stringify({ v: 1, t: 'chat', text: 'hello from 0' }));
clients[3].ws.send(JSON.stringify({ v: 1, t: 'chat', text: 'hello from 3' }));
await new Promise((r) => setTimeout(r, 800));
console.log('chats seen', clients.map((c) => c.msgs.filter((m) => m.t === 'batch').flatMap((m) => m.events).filter((e) => e.t === 'chat').length));
const m = await (await fetch('http://127.0.0.1:48080/metrics')).text();
console.log(m.split('\n').filter((l) => /^kmk_hub_(sockets|rooms_owned|forwarded|fanned|backplane|writer|fanout_seconds_count)/.test(l)).join('\n'));
console.log((await fetch('http://127.0.0.1:48080/api/status')).status);
srv.kill('SIGTERM');
await new Promise((r) => srv.once('exit', r));
const db = execFileSync('sqlite3', [join(dir, 'data', 'kmk.db'), 'select count(*) from chat_messages'], {}).toString();
console.log('db chats', db);
redis.kill();
