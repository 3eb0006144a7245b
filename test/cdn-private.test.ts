// Private playback behind a pull CDN: Debian's nginx, configured with exactly the edge locations docs/lms.md gives,
// in front of a real origin with a live private class. Segments are cached once for everyone (the token is not in
// the key) and still checked at the edge for every learner.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { signJoinToken } from '../src/auth/join-token.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import { startNginx } from './helpers/nginx.js';
import { push, startTestServer, waitFor } from './helpers/server.js';
import { ROOT } from './helpers/cli.js';
import { testdir } from './helpers/testdir.js';

t.test('behind an nginx edge, segments are fetched from the origin once and every request needs a valid token', async (t) => {
  const dir = testdir(t);
  const ts = await startTestServer(join(dir, 'srv'));
  t.teardown(() => ts.server.stop());
  const doc = readFileSync(join(ROOT, 'docs', 'lms.md'), 'utf8');
  const locations = /```nginx\n([\s\S]*?)```/.exec(doc)?.[1];
  t.ok(locations, 'docs/lms.md holds the edge configuration');
  const edge = await startNginx(join(dir, 'nginx'), `
  proxy_cache_path {{DIR}}/media keys_zone=media:10m;
  proxy_cache_path {{DIR}}/auth keys_zone=auth:1m;
  upstream kmk_origin { server 127.0.0.1:${ts.server.httpPort}; }
  server {
    listen 127.0.0.1:{{PORT}};
    add_header X-Cache $upstream_cache_status always;
${locations}
  }`);
  t.teardown(() => edge.stop());

  const { key } = ts.createChannel('private-lecture', { ladder: ['360p'], public: false });
  ts.createChannel('other-lecture', { public: false });
  const pub = push(ts.rtmp(key), { seconds: 40, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  const secret = loadJoinSecret('', join(dir, 'srv', 'data'));
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const ptFor = async (channel: string, user: string): Promise<string> => {
    const jt = signJoinToken({ sub: user, name: user, role: 'learner', channel, exp }, secret);
    const r = await fetch(`${ts.base}/api/channels/${channel}/playback`, { headers: { Authorization: `Bearer ${jt}` } });
    return new URL((await r.json() as { url: string }).url, ts.base).searchParams.get('pt')!;
  };
  const alice = await ptFor('private-lecture', 'alice');
  const bob = await ptFor('private-lecture', 'bob');
  const other = await ptFor('other-lecture', 'eve');
  t.not(alice, bob, 'each learner has a token of their own');

  const q = (pt: string): string => `pt=${encodeURIComponent(pt)}`;
  await waitFor('the master playlist through the edge', async () => (await fetch(`${edge.base}/hls/private-lecture/master.m3u8?${q(alice)}`)).status === 200, 30000);
  const variant = await waitFor('a segment in the variant playlist', async () => {
    const text = await (await fetch(`${edge.base}/hls/private-lecture/360p/index.m3u8?${q(alice)}`)).text();
    return text.split('\n').find((l) => l && !l.startsWith('#'));
  }, 30000);
  t.match(variant, /\?pt=/, 'the playlist carries the token to the segments');
  const segment = `/hls/private-lecture/360p/${variant.split('?')[0]}`;

  const a = await fetch(`${edge.base}${segment}?${q(alice)}`);
  const aBody = Buffer.from(await a.arrayBuffer());
  t.equal(a.status, 200);
  t.equal(a.headers.get('x-cache'), 'MISS', 'the first learner fills the cache');
  const b = await fetch(`${edge.base}${segment}?${q(bob)}`);
  const bBody = Buffer.from(await b.arrayBuffer());
  t.equal(b.status, 200);
  t.equal(b.headers.get('x-cache'), 'HIT', 'another learner with another token is served from the cache');
  t.ok(aBody.equals(bBody) && aBody.length > 1000, 'the same bytes');

  t.equal((await fetch(`${edge.base}${segment}`)).status, 403, 'a cached segment without a token is still refused at the edge');
  t.equal((await fetch(`${edge.base}${segment}?${q(other)}`)).status, 403, 'and with another class\'s token');
  t.equal((await fetch(`${edge.base}${segment}?pt=forged`)).status, 403, 'and with a forged one');
  t.equal((await fetch(`${edge.base}/hls/private-lecture/master.m3u8?${q(other)}`)).status, 403, 'playlists too');
  // nginx keys its cache on the decoded path ($uri) and asks the origin with the raw one ($request_uri): an encoded
  // separator names the cached segment while the check sees another name. The origin refuses such paths, so the
  // edge never serves them.
  const seg = segment.slice('/hls/private-lecture/'.length);
  for (const path of [`/hls/private-lecture%2F${seg.replace('/', '%2F')}`, `/hls/private-lecture%2f${seg}`, `/hls/private-lecture%252F${seg}`,
    '/hls/private-lecture%2Fmaster.m3u8', '/hls/private-lecture%2F360p%2Findex.m3u8']) {
    const r = await fetch(`${edge.base}${path}`);
    const body = Buffer.from(await r.arrayBuffer());
    t.ok(r.status >= 400 && !body.includes('#EXTM3U') && !body.equals(aBody), `${path.slice(0, 50)} is refused at the edge (${r.status})`);
  }
  t.notMatch(edge.errors(), /\[(emerg|crit|alert)\]/, 'nginx logged no serious error');
});
