// Junk on the RTMP port, as an attacker or a broken encoder sends it, against a server with a live class: memory
// stays bounded, every bad connection is closed (handshake deadline, protocol rules), each is counted, the class
// keeps playing, and the valid key still publishes from the same address afterwards.

import t from 'tap';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { push, startTestServer, waitFor } from './helpers/server.js';
import { PER_CONNECTION_BYTES } from '../src/ingest/nms-guard.js';
import { testdir } from './helpers/testdir.js';

const rss = (): number => process.memoryUsage().rss;

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.resume(); // read what the server sends, so its close is seen
    s.on('error', () => {});
    s.once('error', reject);
  });
}

const closed = (s: Socket): Promise<void> => new Promise((r) => (s.destroyed ? r() : s.once('close', () => r())));

/** C0 + C1, then S0S1S2 read back, then C2: a valid simple handshake. */
async function handshake(port: number): Promise<Socket> {
  const s = await open(port);
  let got = 0;
  const done = new Promise<void>((resolve, reject) => {
    s.on('data', (d) => { got += d.length; if (got >= 3073) resolve(); });
    s.once('close', () => reject(new Error('closed during the handshake')));
  });
  s.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536)]));
  await done;
  s.write(Buffer.alloc(1536));
  return s;
}

async function mediaSequence(base: string): Promise<number> {
  const r = await fetch(`${base}/hls/flood/360p/index.m3u8`);
  if (r.status !== 200) return -1;
  return Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(await r.text())?.[1] ?? -1);
}

t.test('a junk flood on the RTMP port leaves memory bounded and the live class playing', async (t) => {
  const ts = await startTestServer(testdir(t));
  t.teardown(() => ts.server.stop());
  const port = ts.server.rtmpPort;
  const c = ts.createChannel('flood', { ladder: ['360p'], record: false });
  const pub = push(ts.rtmp(c.key), { seconds: 60, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  await waitFor('the class to play', async () => (await ts.get('/hls/flood/master.m3u8')).status === 200, 30000);
  const seqBefore = await mediaSequence(ts.base);
  global.gc?.();
  const before = rss();
  let peak = before;
  const sampler = setInterval(() => { peak = Math.max(peak, rss()); }, 50);
  t.teardown(() => clearInterval(sampler));

  // Order matters: all of it comes from one address, which the flood puts over the failure limit.
  // 1. A valid handshake, then garbage; and a valid handshake, then SET_CHUNK_SIZE 0 (hung the parser before).
  const garbage = await handshake(port);
  garbage.write(randomBytes(8192));
  const zeroChunk = await handshake(port);
  zeroChunk.write(Buffer.from([0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0]));
  // 2. A hundred truncated handshakes, held open.
  const truncated = await Promise.all(Array.from({ length: 100 }, () => open(port)));
  for (const s of truncated) s.write(Buffer.concat([Buffer.from([3]), randomBytes(100)]));
  // 3. Fifty connections: 0x03, then 1,536 + 4,096 random bytes (junk chunk headers claim messages of up to 16 MB).
  const junk = await Promise.all(Array.from({ length: 50 }, () => open(port)));
  for (const s of junk) s.write(Buffer.concat([Buffer.from([3]), randomBytes(1536), randomBytes(4096)]));

  await Promise.all([closed(garbage), closed(zeroChunk)]);
  t.pass('the garbage and zero-chunk-size connections were closed by the server');
  t.ok((await fetch(`${ts.base}/healthz`)).ok, 'the server still answers (no parser loop)');
  const early = await waitFor('junk to break a protocol rule', () => {
    const n = junk.filter((s) => s.destroyed).length;
    return n >= 5 ? n : undefined;
  }, 3000);
  t.ok(early >= 5, `junk that claims large messages is closed at once (${early} of 50; the rest waits for more bytes)`);
  await waitFor('the truncated handshakes to time out', () => truncated.every((s) => s.destroyed) || undefined, 15000);
  t.pass('truncated handshakes are closed after the handshake deadline');
  await waitFor('the rest of the junk connections to be closed', () => junk.every((s) => s.destroyed) || undefined, 10000);
  t.pass('junk that parses as RTMP but never publishes is closed after the admission deadline');
  clearInterval(sampler);
  const grew = (peak - before) / (1024 * 1024);
  t.ok(grew < 100, `RSS grew ${grew.toFixed(1)} MB during the flood (bound: 100 MB; node-media-server alone took it to 1.4 GB)`);
  // Counted: every deadline and rule breach, and (once the address is over its failure limit) every connection
  // refused at once because the address already holds its share of open sockets.
  const { protocolErrors, refusedConnections } = ts.server.ingest.counters;
  t.ok(protocolErrors + refusedConnections >= 152, `all 152 bad connections counted (${protocolErrors} protocol errors, ${refusedConnections} refused while throttled)`);
  t.ok(ts.server.ingest.bufferedBytes <= PER_CONNECTION_BYTES, `only the live publisher holds parser buffers (${ts.server.ingest.bufferedBytes} bytes)`);
  t.ok(ts.logs.some((l) => /rtmp connection closed .*protocol error: a chunk size of 0/.test(l)), 'the reason is logged');
  t.ok(ts.logs.some((l) => /rtmp connection closed .*no RTMP handshake within 10 s/.test(l)));

  const seqAfter = await waitFor('the class to keep producing segments', async () => {
    const n = await mediaSequence(ts.base);
    return n > seqBefore + 2 ? n : undefined;
  }, 20000);
  t.ok(seqAfter > seqBefore, `the live playlist kept moving (${seqBefore} → ${seqAfter})`);
  t.equal(ts.server.live.current('flood')?.state, 'live');

  // The flood put this address over the failure limit; a valid key from it is still admitted.
  const other = ts.createChannel('after-flood', { ladder: ['360p'], record: false });
  const second = push(ts.rtmp(other.key), { seconds: 20, size: '640x360' });
  t.teardown(() => second.kill('SIGKILL'));
  await waitFor('the second class to go live', () => ts.server.live.current('after-flood')?.state === 'live' || undefined, 20000);
  t.pass('a valid publish from the flooding address is admitted');
});
