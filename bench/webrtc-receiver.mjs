// Child process of bench/webrtc.mjs: one ingest alone (no ladder), every publish admitted, its media counted by a
// sink. `webrtc`: the WHIP ingest behind a bare HTTP server; `rtmp`: the RTMP ingest. Prints its ports as JSON, then
// answers GET /cpu with its CPU time so far and the media bytes handed out.
import { createServer } from 'node:http';
import { createLogger } from '../dist/log.js';
import { WebRtcIngest } from '../dist/ingest/webrtc.js';
import { RtmpIngest } from '../dist/ingest/rtmp.js';

const kind = process.argv[2];
const log = createLogger('warn');
let bytes = 0;
let units = 0;
const sink = { write: (u) => { bytes += u.data.length; units += 1; } };
let ingest;
const handlers = {
  admit: (a) => {
    setTimeout(() => { try { ingest.subscribe(a.id, sink); } catch { setTimeout(() => ingest.subscribe(a.id, sink), 500); } }, 0);
    return { ok: true };
  },
  disconnected: () => {},
  ended: () => {},
};
const http = createServer(async (req, res) => {
  if (req.url === '/cpu') {
    const c = process.cpuUsage();
    return res.end(JSON.stringify({ cpuMs: (c.user + c.system) / 1000, bytes, units }));
  }
  const chunks = [];
  for await (const ch of req) chunks.push(ch);
  const r = await ingest.publish(Buffer.concat(chunks).toString(), { key: 'k', address: '127.0.0.1', owner: 'o' });
  res.writeHead(r.ok ? 201 : r.status, { 'content-type': 'application/sdp' }).end(r.ok ? r.answer : r.reason);
});
await new Promise((r) => http.listen(0, '127.0.0.1', r));
if (kind === 'webrtc') {
  ingest = new WebRtcIngest({ iceServers: [], maxPublishers: 100, graceMs: 1000, maxFailuresPerMinute: 1000, log }, handlers);
  await ingest.start();
  console.log(JSON.stringify({ http: http.address().port }));
} else {
  // node-media-server listens only on a port it is given: take a free one.
  const probe = createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', r));
  const port = probe.address().port;
  await new Promise((r) => probe.close(r));
  ingest = new RtmpIngest({ host: '127.0.0.1', port, graceMs: 1000, maxFailuresPerMinute: 1000, log }, handlers);
  await ingest.start();
  console.log(JSON.stringify({ http: http.address().port, rtmp: ingest.port }));
}
