// Private playback cannot be had through an encoded path: a live ultra class (playlists, renditions, parts,
// blocking reloads, init and full segments), a classic class (MPEG-TS segments) and the replay, all private, over
// real HTTP. Every encoded separator is a 400, with or without a token; the plain path is a 403 without one.

import t from 'tap';
import { signJoinToken } from '../src/auth/join-token.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import { push, startTestServer, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

const ts = await startTestServer(testdir(t));
t.teardown(() => ts.server.stop());
const secret = loadJoinSecret('', ts.server.config['paths.data']);
const ptFor = async (channel: string): Promise<string> => {
  const jt = signJoinToken({ sub: 'l1', name: 'Learner', role: 'learner', channel, exp: Math.floor(Date.now() / 1000) + 3600 }, secret);
  const r = await fetch(`${ts.base}/api/channels/${channel}/playback`, { headers: { Authorization: `Bearer ${jt}` } });
  return new URL((await r.json() as { url: string }).url, ts.base).searchParams.get('pt')!;
};
const status = async (path: string): Promise<number> => {
  const r = await fetch(ts.base + path);
  await r.arrayBuffer();
  return r.status;
};
const q = (pt: string): string => `pt=${encodeURIComponent(pt)}`;

/** Every way of writing the path with an encoded separator after the owner (and a double encoding). */
function encodedForms(path: string): string[] {
  const m = /^\/(hls|vod)\/([^/]+)\/(.+)$/.exec(path)!;
  const [, kind, owner, rest] = m;
  return [
    `/${kind}/${owner}%2F${rest}`,
    `/${kind}/${owner}%2f${rest}`,
    `/${kind}/${owner}%2F${rest.replaceAll('/', '%2F')}`,
    `/${kind}/${owner}%5C${rest}`,
    `/${kind}/${owner}%5c${rest.replaceAll('/', '%5c')}`,
    `/${kind}/${owner}%252F${rest}`,
    `/${kind}/${owner}%25252F${rest}`,
    `/${kind}/${owner.slice(0, 1)}%${owner.charCodeAt(1).toString(16)}${owner.slice(2)}/${rest}`,
  ];
}

async function refused(t: { equal(a: unknown, b: unknown, m?: string): unknown }, path: string, pt: string, what: string): Promise<void> {
  t.equal(await status(path), 403, `${what}: the plain path without a token is 403`);
  const sep = path.includes('?') ? '&' : '?';
  t.equal(await status(`${path}${sep}${q(pt)}`), 200, `${what}: with the class's token, 200`);
  for (const form of encodedForms(path)) {
    t.equal(await status(form), 400, `${what}: ${form.slice(0, 60)} is a bad request`);
    t.equal(await status(`${form}${sep}${q(pt)}`), 400, `${what}: and still with a valid token`);
  }
}

const segmentOf = (text: string, re: RegExp): string => {
  const found = text.split('\n').filter((l) => re.test(l)).pop();
  return found!.split('?')[0]!;
};

t.test('a private ultra class: no encoded path reaches a playlist, part, init or segment', async (t) => {
  const { key } = ts.createChannel('secret-ll', { latency: 'ultra', ladder: ['360p'], record: true, public: false });
  const pub = push(ts.rtmp(key), { seconds: 60, size: '640x360', gop: 30 });
  t.teardown(() => pub.kill('SIGKILL'));
  const pt = await ptFor('secret-ll');
  await waitFor('the master playlist', async () => (await status(`/hls/secret-ll/master.m3u8?${q(pt)}`)) === 200, 40000);
  const text = await waitFor('three segments', async () => {
    const r = await (await fetch(`${ts.base}/hls/secret-ll/360p/index.m3u8?${q(pt)}`)).text();
    return (r.match(/^[^#].*\.m4s/gm) ?? []).length >= 3 ? r : undefined;
  }, 40000);
  const init = /EXT-X-MAP:URI="([^"?]+)/.exec(text)![1]!;
  const part = /#EXT-X-PART:[^\n]*URI="([^"?]+)/.exec(text)![1]!;
  const segment = segmentOf(text, /^[^#].*\.m4s/);
  const msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)![1]) + (text.match(/^[^#].*\.m4s/gm) ?? []).length;

  await refused(t, '/hls/secret-ll/master.m3u8', pt, 'master playlist');
  await refused(t, '/hls/secret-ll/360p/index.m3u8', pt, 'rendition playlist');
  await refused(t, `/hls/secret-ll/360p/${init}`, pt, 'init segment');
  await refused(t, `/hls/secret-ll/360p/${part}`, pt, 'LL-HLS part');
  await refused(t, `/hls/secret-ll/360p/${segment}`, pt, 'fMP4 segment');
  // A blocking reload is answered only once the segment exists: the refusals must come at once, not after a hold.
  const t0 = Date.now();
  t.equal(await status(`/hls/secret-ll%2F360p%2Findex.m3u8?_HLS_msn=${msn}&_HLS_part=0`), 400, 'an encoded blocking reload is refused');
  t.equal(await status(`/hls/secret-ll/360p/index.m3u8?_HLS_msn=${msn}&_HLS_part=0`), 403, 'a plain blocking reload without a token is refused');
  t.ok(Date.now() - t0 < 1000, 'both refused without being held');
  t.equal(await status(`/hls/secret-ll/360p/index.m3u8?_HLS_msn=${msn}&_HLS_part=0&${q(pt)}`), 200, 'with the token it is held and answered');

  // The replay of the class.
  const session = ts.server.live.snapshot().channels.find((c) => c.channel === 'secret-ll')!.sessionId;
  pub.kill('SIGKILL');
  const jt = signJoinToken({ sub: 'l1', name: 'Learner', role: 'learner', channel: 'secret-ll', exp: Math.floor(Date.now() / 1000) + 3600 }, secret);
  const replayUrl = await waitFor('the replay', async () => {
    const r = await fetch(`${ts.base}/api/sessions/${session}/replay`, { headers: { Authorization: `Bearer ${jt}` } });
    return r.status === 200 ? (await r.json() as { url: string }).url : undefined;
  }, 40000);
  const vpt = new URL(replayUrl, ts.base).searchParams.get('pt')!;
  const vod = await (await fetch(`${ts.base}/vod/${session}/360p/index.m3u8?${q(vpt)}`)).text();
  await refused(t, `/vod/${session}/master.m3u8`, vpt, 'replay master');
  await refused(t, `/vod/${session}/360p/index.m3u8`, vpt, 'replay rendition');
  await refused(t, `/vod/${session}/360p/${segmentOf(vod, /^[^#].*\.m4s/)}`, vpt, 'replay segment');
});

t.test('a private classic class: MPEG-TS segments behave alike, and unknown names are 404, never public', async (t) => {
  const { key } = ts.createChannel('secret-ts', { latency: 'low', ladder: ['360p'], record: false, public: false });
  const pub = push(ts.rtmp(key), { seconds: 40, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  const pt = await ptFor('secret-ts');
  const text = await waitFor('a segment', async () => {
    const r = await fetch(`${ts.base}/hls/secret-ts/360p/index.m3u8?${q(pt)}`);
    const body = await r.text();
    return r.status === 200 && /\.ts/.test(body) ? body : undefined;
  }, 40000);
  await refused(t, `/hls/secret-ts/360p/${segmentOf(text, /^[^#].*\.ts/)}`, pt, 'MPEG-TS segment');
  t.equal(await status('/hls/no-such-class/master.m3u8'), 404, 'a channel that does not exist');
  t.equal(await status('/vod/s_0000000000000000/master.m3u8'), 404, 'a session that does not exist');
});
