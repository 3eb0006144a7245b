// The two comparison servers for `npm run bench:hub`, speaking just enough of the protocol (chat, react):
//   naive: the `ws` package, one JSON serialisation and one send per client per event, no batching;
//   bare:  uWS publishing a pre-serialised frame per event to a topic (the ceiling: no rules, no batching).
// Usage: node bench/hub-servers.mjs naive|bare PORT
import { createServer } from 'node:http';

const [kind, portText] = process.argv.slice(2);
const port = Number(portText);
let seq = 0;
const chatEvent = (text) => ({ t: 'chat', msg: { id: `m${++seq}`, userId: 'u', name: 'u', role: 'learner', text, at: Date.now() } });

if (kind === 'naive') {
  const { WebSocketServer } = await import('ws');
  const http = createServer((req, res) => res.end(req.url === '/healthz' ? '{"status":"ok"}' : ''));
  const wss = new WebSocketServer({ server: http, path: '/ws', maxPayload: 4096 });
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      let m;
      try { m = JSON.parse(data.toString()); } catch { return; }
      const event = m.t === 'chat' ? chatEvent(m.text) : m.t === 'react' ? { t: 'reactions', counts: { [m.emoji]: 1 } } : null;
      if (!event) return;
      for (const client of wss.clients) client.send(JSON.stringify({ v: 1, t: 'batch', events: [event] }));
    });
  });
  http.listen(port, '127.0.0.1');
} else if (kind === 'bare') {
  const { default: uWS } = await import('uWebSockets.js');
  const app = uWS.App();
  app.get('/healthz', (res) => res.end('{"status":"ok"}'));
  app.ws('/ws', {
    maxPayloadLength: 4096, maxBackpressure: 1 << 20, closeOnBackpressureLimit: 1, idleTimeout: 60,
    open: (ws) => ws.subscribe('room'),
    message: (ws, message) => {
      let m;
      try { m = JSON.parse(Buffer.from(message).toString()); } catch { return; }
      const event = m.t === 'chat' ? chatEvent(m.text) : m.t === 'react' ? { t: 'reactions', counts: { [m.emoji]: 1 } } : null;
      if (event) app.publish('room', JSON.stringify({ v: 1, t: 'batch', events: [event] }), false, false);
    },
  });
  app.listen('127.0.0.1', port, () => {});
} else {
  console.error('usage: hub-servers.mjs naive|bare PORT');
  process.exit(2);
}
