// A pull CDN in front of the origin: Debian's nginx with proxy_cache (the stand-in for an edge) and
// hls.cdnBaseUrl pointing at it. Playlists come from the origin, segments through the edge; 500 concurrent players
// cause one origin fetch per segment per rendition; revalidation is a 304; the watch page plays through the edge.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { signJoinToken } from '../src/auth/join-token.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import { launch } from './helpers/browser.js';
import { startNginx } from './helpers/nginx.js';
import { freePort, push, startTestServer, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

t.test('500 players behind an nginx cache: one origin fetch per segment, 304 on revalidation, playback through the edge', async (t) => {
  const dir = testdir(t);
  const edgePort = await freePort();
  const ts = await startTestServer(join(dir, 'srv'), { KMK_HLS_CDN_BASE_URL: `http://127.0.0.1:${edgePort}` });
  t.teardown(() => ts.server.stop());
  const edge = await startNginx(join(dir, 'nginx'), `
  proxy_cache_path {{DIR}}/cache keys_zone=media:10m;
  log_format edge '$uri $upstream_cache_status';
  server {
    listen 127.0.0.1:{{PORT}};
    access_log {{DIR}}/edge.log edge;
    location /hls/ {
      proxy_pass http://127.0.0.1:${ts.server.httpPort};
      proxy_http_version 1.1;
      proxy_cache media;
      proxy_cache_key $uri;
      proxy_cache_lock on;            # concurrent misses wait for the one fetch
      proxy_cache_revalidate on;      # refresh with If-None-Match: the origin answers 304
      add_header X-Cache $upstream_cache_status always;
    }
  }`, edgePort);
  t.teardown(() => edge.stop());
  const { key } = ts.createChannel('lecture', { ladder: ['480p', '360p'], record: false });
  const pub = push(ts.rtmp(key), { seconds: 60, size: '854x480' });
  t.teardown(() => pub.kill('SIGKILL'));

  await waitFor('the master playlist', async () => (await ts.get('/hls/lecture/master.m3u8')).status === 200, 30000);
  const playlist = async (rung: string): Promise<string[]> => (await (await ts.get(`/hls/lecture/${rung}/index.m3u8`)).text()).split('\n').filter((l) => l && !l.startsWith('#'));
  const uris = await waitFor('three segments per rendition', async () => {
    const a = await playlist('480p');
    const b = await playlist('360p');
    return a.length >= 3 && b.length >= 3 ? [...a.slice(-3), ...b.slice(-3)] : undefined;
  }, 30000);
  for (const u of uris) t.match(u, new RegExp(`^http://127\\.0\\.0\\.1:${edgePort}/hls/lecture/(480p|360p)/[^/]+\\.ts$`), 'segments are named on the edge');

  // 500 players ask for the same six segments at once.
  const bodies = await Promise.all(Array.from({ length: 500 }, async (_v, i) => {
    const u = uris[i % uris.length]!;
    const r = await fetch(u);
    return { u, status: r.status, size: (await r.arrayBuffer()).byteLength };
  }));
  t.equal(bodies.filter((b) => b.status === 200).length, 500, 'every player got its segment');
  for (const u of uris) t.equal(new Set(bodies.filter((b) => b.u === u).map((b) => b.size)).size, 1, 'the same bytes for everyone');
  const log = readFileSync(join(dir, 'nginx', 'edge.log'), 'utf8').trim().split('\n');
  for (const u of uris) {
    const path = new URL(u).pathname;
    const fetches = log.filter((l) => l.startsWith(`${path} `) && / (MISS|EXPIRED|REVALIDATED|BYPASS)$/.test(l)).length;
    t.equal(fetches, 1, `${path.split('/').slice(-2).join('/')}: one origin fetch for ${bodies.filter((b) => b.u === u).length} players`);
  }

  // A revalidation from the edge (or any cache) is a 304 without a body.
  const seg = new URL(uris[0]!).pathname;
  const tag = (await ts.get(seg)).headers.get('etag')!;
  const re = await ts.get(seg, { 'If-None-Match': tag });
  t.equal(re.status, 304);
  t.equal((await re.arrayBuffer()).byteLength, 0);

  // The watch page: playlists from the origin, segments through the edge.
  const browser = await launch();
  t.teardown(() => browser.close());
  const page = await browser.newPage({ width: 1280, height: 800 });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const token = signJoinToken({ sub: 'l1', name: 'L1', role: 'learner', channel: 'lecture', exp: Math.floor(Date.now() / 1000) + 3600 }, loadJoinSecret('', join(dir, 'srv', 'data')));
  const before = readFileSync(join(dir, 'nginx', 'edge.log'), 'utf8').split('\n').length;
  await page.goto(`${ts.base}/watch/lecture?token=${token}`);
  await page.waitForFunction(() => {
    const v = document.querySelector('video');
    return !!v && v.currentTime > 2 && !v.paused;
  }, undefined, { timeout: 30000 });
  const after = readFileSync(join(dir, 'nginx', 'edge.log'), 'utf8').split('\n').length;
  t.ok(after > before, `the page fetched ${after - before} segments through the edge`);
  t.same(errors, [], 'no page errors (the CSP allows the edge)');
});
