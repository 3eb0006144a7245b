// Load generator for bench/login-flood.mjs (its own process): bogus LTI logins at a fixed rate over keep-alive
// HTTP/1.1 to loopback, for a bounded time. With --spread each login claims another client address through
// X-Forwarded-For (what a proxy on the box would send), so the per-address limit does not hide the flood from the
// pending-login cap. Prints one JSON line: what was sent, achieved and answered.
import { Agent, request } from 'node:http';

const arg = (name, def) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : def);
const url = new URL(arg('--url', 'http://127.0.0.1:8080/lti/login'));
const rate = Number(arg('--rate', '2000'));
const seconds = Number(arg('--seconds', '10'));
const spread = process.argv.includes('--spread');
const issuer = arg('--issuer', 'https://lms.bench.example');
const target = arg('--target', `${url.origin}/lti/launch`);

const agent = new Agent({ keepAlive: true, maxSockets: 64 });
const body = new URLSearchParams({ iss: issuer, login_hint: 'flood', target_link_uri: target, client_id: 'bench-client' }).toString();
const byStatus = {};
let sent = 0;
let done = 0;
let errors = 0;
let inFlight = 0;
const MAX_IN_FLIGHT = 4000;

function one(i) {
  inFlight += 1;
  sent += 1;
  const headers = { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body) };
  if (spread) headers['X-Forwarded-For'] = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const req = request({ agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers }, (res) => {
    byStatus[res.statusCode] = (byStatus[res.statusCode] ?? 0) + 1;
    res.resume();
    res.on('end', () => {
      inFlight -= 1;
      done += 1;
    });
  });
  req.on('error', () => {
    inFlight -= 1;
    errors += 1;
  });
  req.end(body);
}

const t0 = performance.now();
let i = 0;
let skipped = 0;
const timer = setInterval(() => {
  const elapsed = (performance.now() - t0) / 1000;
  if (elapsed >= seconds) {
    clearInterval(timer);
    const finish = () => {
      if (inFlight > 0 && performance.now() - t0 < (seconds + 10) * 1000) return setTimeout(finish, 50);
      agent.destroy();
      console.log(JSON.stringify({ sent, answered: done, errors, skipped, byStatus, seconds, achievedPerSecond: Math.round(sent / seconds) }));
    };
    return finish();
  }
  const due = Math.floor(elapsed * rate);
  while (i < due) {
    if (inFlight >= MAX_IN_FLIGHT) {
      skipped += due - i; // the server is not keeping up: say so rather than queue without bound
      i = due;
      break;
    }
    one(i);
    i += 1;
  }
}, 5);
