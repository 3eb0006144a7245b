// One load-generator process for `npm run bench:hub`: opens its share of WebSocket clients, then (on "go") makes
// its chatters chat and its reactors react at the planned rates. Every chat carries its send time; every client
// records delivery latency in a 1 ms histogram and counts what it received. Reports to the parent over IPC.
import { connect } from './raw-ws.mjs';
import { signJoinToken } from '../dist/auth/join-token.js';

const plan = JSON.parse(process.argv[2]);
const secret = Buffer.from(plan.secret ?? 'x'.repeat(40));
const HIST = 10000;
const hist = new Uint32Array(HIST + 1);
const clients = [];
let delivered = 0;
let reactionsDelivered = 0;
let sentInWindow = 0;
let window = { t0: Infinity, t1: -Infinity }; // chats are only sent inside the window, so every chat received counts

function url(i) {
  if (plan.kind !== 'ours') return `${plan.base}/ws`;
  const role = i < plan.chatters ? 'moderator' : 'learner'; // chatters are exempt from the learner rate limit
  const token = signJoinToken({ sub: `g${plan.gen}-u${i}`, name: `User ${i}`, role, channel: plan.channel, exp: Math.floor(Date.now() / 1000) + 3600 }, secret);
  return `${plan.base}/ws?token=${token}`;
}

// Parsing every frame in every client would make the generators, not the server, the bottleneck on a 2-core box:
// one client in ten parses frames and records latency; the others count chat events with a byte scan of the
// payload in place (no copy, no string decoding). Clients are bench/raw-ws.mjs for the same reason.
const CHAT = Buffer.from('"t":"chat"');
function countOnly(buf, start, end) {
  let i = buf.indexOf(CHAT, start);
  while (i >= 0 && i + CHAT.length <= end) {
    delivered += 1;
    i = buf.indexOf(CHAT, i + CHAT.length);
  }
}

function onMessage(buf, start, end) {
  const m = JSON.parse(buf.toString('utf8', start, end));
  if (m.t !== 'batch') return;
  const now = Date.now();
  for (const e of m.events) {
    if (e.t === 'chat') {
      const sentAt = Number(e.msg.text.split(':')[2]);
      delivered += 1;
      hist[Math.min(HIST, Math.max(0, now - sentAt))] += 1;
    } else if (e.t === 'reactions') {
      for (const v of Object.values(e.counts)) reactionsDelivered += v;
    }
  }
}

async function connectAll() {
  let next = 0;
  const open = () => {
    const i = next++;
    return connect(url(i), i % 10 === 0 ? onMessage : countOnly);
  };
  const workers = Array.from({ length: 100 }, async () => {
    while (next < plan.count) {
      const ws = await open();
      if (ws) clients.push(ws);
    }
  });
  await Promise.all(workers);
}

await connectAll();
process.send({ type: 'connected', count: clients.length });

process.on('message', async (msg) => {
  if (msg.type !== 'go') return;
  window = { t0: msg.t0, t1: msg.t0 + msg.durationMs };
  await new Promise((r) => setTimeout(r, Math.max(0, msg.t0 - Date.now())));
  const timers = [];
  let seq = 0;
  const every = (ms, fn) => timers.push(setInterval(fn, ms));
  const chatters = clients.slice(0, plan.chatters);
  if (chatters.length && plan.chatRate > 0) {
    every(1000 / plan.chatRate, () => {
      const ws = chatters[seq % chatters.length];
      const now = Date.now();
      if (now > window.t1) return;
      sentInWindow += 1;
      ws.send(JSON.stringify({ v: 1, t: 'chat', text: `g${plan.gen}:${seq++}:${now}` }));
    });
  }
  const reactors = clients.slice(plan.chatters, plan.chatters + plan.reactors);
  let r = 0;
  if (reactors.length && plan.reactRate > 0) {
    every(1000 / plan.reactRate, () => {
      if (Date.now() > window.t1) return;
      reactors[r++ % reactors.length].send(JSON.stringify({ v: 1, t: 'react', emoji: '👏' }));
    });
  }
  await new Promise((res) => setTimeout(res, msg.durationMs + msg.drainMs));
  timers.forEach(clearInterval);
  const cpu = process.cpuUsage();
  process.send({ type: 'done', sentInWindow, delivered, reactionsDelivered, hist: Array.from(hist), clients: clients.length,
    open: clients.filter((c) => c.open).length, cpuSeconds: (cpu.user + cpu.system) / 1e6 });
  for (const c of clients) c.close();
  setTimeout(() => process.exit(0), 200);
});
