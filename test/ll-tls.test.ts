// LL-HLS behind TLS + HTTP/2: Debian's nginx with exactly the server block docs/ll-hls.md gives (own certificate and
// ports) in front of a live `ultra` class. Blocking reloads and the preload-hinted part must come through HTTP/2 as
// fast as from the origin itself, i.e. unbuffered.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { connect, type ClientHttp2Session } from 'node:http2';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNginx } from './helpers/nginx.js';
import { push, startTestServer, waitFor } from './helpers/server.js';
import { ROOT } from './helpers/cli.js';
import { testdir } from './helpers/testdir.js';

function get(session: ClientHttp2Session, path: string): Promise<{ status: number; type: string; body: Buffer; at: number }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path });
    const chunks: Buffer[] = [];
    let status = 0;
    let type = '';
    req.on('response', (h) => { status = Number(h[':status']); type = String(h['content-type'] ?? ''); });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ status, type, body: Buffer.concat(chunks), at: Date.now() }));
    req.on('error', reject);
    req.end();
  });
}

t.test('blocking reloads and hinted parts pass through nginx (TLS, HTTP/2) unbuffered', async (t) => {
  const dir = testdir(t);
  const ts = await startTestServer(join(dir, 'srv'));
  t.teardown(() => ts.server.stop());
  const { key } = ts.createChannel('fast', { latency: 'ultra', ladder: ['360p'], record: false });
  const pub = push(ts.rtmp(key), { seconds: 60, size: '640x360', gop: 30 });
  t.teardown(() => pub.kill('SIGKILL'));

  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const doc = readFileSync(join(ROOT, 'docs', 'll-hls.md'), 'utf8');
  const block = /```nginx\n([\s\S]*?)```/.exec(doc)?.[1];
  t.ok(block, 'docs/ll-hls.md holds the nginx server block');
  const conf = block!
    .replace('listen 443 ssl http2;', 'listen 127.0.0.1:{{PORT}} ssl http2;')
    .replace('/etc/ssl/live.school.example/fullchain.pem', join(dir, 'cert.pem'))
    .replace('/etc/ssl/live.school.example/privkey.pem', join(dir, 'key.pem'))
    .replace('http://127.0.0.1:8080', `http://127.0.0.1:${ts.server.httpPort}`);
  t.not(conf, block, 'the test changed only ports and certificate paths');
  const edge = await startNginx(join(dir, 'nginx'), conf);
  t.teardown(() => edge.stop());

  await waitFor('the master playlist', async () => (await ts.get('/hls/fast/master.m3u8')).status === 200, 30000);
  const session = connect(`https://127.0.0.1:${edge.port}`, { rejectUnauthorized: false });
  t.teardown(() => session.close());
  await new Promise<void>((resolve, reject) => { session.once('connect', () => resolve()); session.once('error', reject); });
  t.equal(session.alpnProtocol, 'h2', 'HTTP/2 over TLS');
  const live = await get(session, '/hls/fast/360p/index.m3u8');
  t.equal(live.status, 200);
  t.match(live.body.toString(), /#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES/);
  t.equal((await get(session, '/metrics')).status, 403, 'the front connects from loopback, yet /metrics through it is not local');
  t.equal((await ts.get('/metrics')).status, 200, 'while a client on the box itself reads it');

  // Five rounds: ask for the hinted next part through the edge and from the origin at the same moment.
  for (let round = 0; round < 5; round += 1) {
    const text = (await get(session, '/hls/fast/360p/index.m3u8')).body.toString();
    const m = /PRELOAD-HINT:TYPE=PART,URI="([^"]*_(\d+)\.(\d+)\.m4s)"/.exec(text)!;
    const query = `_HLS_msn=${m[2]}&_HLS_part=${m[3]}`;
    const t0 = Date.now();
    const [viaEdge, direct] = await Promise.all([
      get(session, `/hls/fast/360p/index.m3u8?${query}`),
      ts.get(`/hls/fast/360p/index.m3u8?${query}`).then(async (r) => ({ status: r.status, body: await r.text(), at: Date.now() })),
    ]);
    t.equal(viaEdge.status, 200);
    t.equal(direct.status, 200);
    t.ok(Math.abs(viaEdge.at - direct.at) < 150, `round ${round}: held ${direct.at - t0} ms at the origin, the edge answered ${viaEdge.at - direct.at} ms later`);
    const hinted = await get(session, `/hls/fast/360p/${m[1]}`);
    t.equal(hinted.status, 200, 'the hinted part through the edge');
    t.equal(hinted.type, 'video/iso.segment');
  }
  t.equal(edge.errors().split('\n').filter((l) => /\[(error|crit|alert|emerg)\]/.test(l)).length, 0, 'nothing in nginx\'s error log');
});
