import uWS from 'uWebSockets.js';
console.log('flag', uWS.LIBUS_LISTEN_EXCLUSIVE_PORT);
const app = uWS.App();
app.get('/*', (res) => res.end(String(process.pid)));
app.any('/*', (res) => res.end('second'));
const excl = process.argv[2] === 'x';
const cb = (s) => { console.log(process.pid, excl ? 'excl' : 'shared', s ? 'listening' : 'FAILED'); };
if (excl) app.listen('127.0.0.1', 47812, uWS.LIBUS_LISTEN_EXCLUSIVE_PORT ?? 1, cb); else app.listen('127.0.0.1', 47812, cb);
setTimeout(() => process.exit(0), 2000);
