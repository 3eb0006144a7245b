import uWS from 'uWebSockets.js';
const app = uWS.App();
app.get('/*', (res) => res.end(String(process.pid)));
app.listen('127.0.0.1', 47811, (s) => { console.log(process.pid, s ? 'listening' : 'FAILED'); });
setTimeout(() => process.exit(0), 3000);
