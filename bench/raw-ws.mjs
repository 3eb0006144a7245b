// A minimal WebSocket client for the hub benchmark's load generators (RFC 6455, text frames only, no extensions).
// The `ws` client spends several microseconds per received frame (stream plumbing, events, buffer copies); at
// 10,000 clients receiving 20 frames/s that made the generators, not the server under test, the bottleneck on a
// 2-core box. This one parses frame headers in place and hands each text payload out as (buffer, start, end).
import net from 'node:net';
import { randomBytes } from 'node:crypto';

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * Opens ws://host:port/path; resolves to a client, or null when the server refuses the upgrade or the socket fails.
 * onText(buf, start, end) is called for every text frame; pings are answered.
 */
export function connect(url, onText) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(u.port), u.hostname);
    socket.setNoDelay(true);
    let pending = null; // bytes not yet parsed (a partial header or frame)
    let open = false;
    const client = {
      get open() { return open; },
      send(text) { if (open) socket.write(frame(0x1, Buffer.from(text))); },
      close() { open = false; socket.destroy(); },
    };
    const fail = () => { if (!open) resolve(null); open = false; };
    socket.once('error', fail);
    socket.once('close', fail);
    socket.once('connect', () => {
      socket.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
        + `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    socket.on('data', (chunk) => {
      let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = null;
      if (!open) {
        const end = buf.indexOf(HEADER_END);
        if (end < 0) { pending = buf; return; }
        if (!buf.subarray(0, 13).toString('latin1').startsWith('HTTP/1.1 101')) { socket.destroy(); resolve(null); return; }
        open = true;
        resolve(client);
        buf = buf.subarray(end + 4);
      }
      let at = 0;
      while (buf.length - at >= 2) {
        const op = buf[at] & 0x0f;
        let len = buf[at + 1] & 0x7f;
        let head = 2;
        if (len === 126) {
          if (buf.length - at < 4) break;
          len = buf.readUInt16BE(at + 2);
          head = 4;
        } else if (len === 127) {
          if (buf.length - at < 10) break;
          len = Number(buf.readBigUInt64BE(at + 2));
          head = 10;
        }
        if (buf.length - at < head + len) break;
        const start = at + head;
        if (op === 0x1) onText(buf, start, start + len);
        else if (op === 0x9) socket.write(frame(0xa, buf.subarray(start, start + len)));
        else if (op === 0x8) { client.close(); return; }
        at = start + len;
      }
      if (at < buf.length) pending = Buffer.from(buf.subarray(at)); // copy: the chunk's memory is reused
    });
  });
}

/** A masked client frame (clients must mask, RFC 6455 §5.3). */
function frame(op, payload) {
  const len = payload.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + 4 + len);
  out[0] = 0x80 | op;
  if (head === 2) out[1] = 0x80 | len;
  else if (head === 4) { out[1] = 0x80 | 126; out.writeUInt16BE(len, 2); }
  else { out[1] = 0x80 | 127; out.writeBigUInt64BE(BigInt(len), 2); }
  const mask = randomBytes(4);
  mask.copy(out, head);
  for (let i = 0; i < len; i++) out[head + 4 + i] = payload[i] ^ mask[i & 3];
  return out;
}
