import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as HLS from 'hls-parser';
import { signJoinToken } from '../src/auth/join-token.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import { launch } from './helpers/browser.js';
import { push, startTestServer, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

// An `ultra` class end to end: real ffmpeg over RTMP, the LL-HLS packager, the origin's blocking reloads, and the
// watch page in Chromium with hls.js low-latency mode; then a publisher reconnect, an ffmpeg crash and the replay.

const ts = await startTestServer(testdir(t), { KMK_INGEST_RECONNECT_GRACE_SECONDS: '6' });
t.teardown(() => ts.server.stop());
const browser = await launch();
t.teardown(() => browser.close());
const token = (channel: string, sub: string) =>
  signJoinToken({ sub, name: `Learner ${sub}`, role: 'learner', channel, exp: Math.floor(Date.now() / 1000) + 3600 },
    loadJoinSecret('', ts.server.config['paths.data']));
const transcoder = (slug: string) => ts.server.live.snapshot().channels.find((c) => c.channel === slug)?.transcoder;

const playlist = async (path: string): Promise<{ status: number; text: string; ms: number; cache: string | null }> => {
  const t0 = Date.now();
  const r = await ts.get(path);
  return { status: r.status, text: await r.text(), ms: Date.now() - t0, cache: r.headers.get('cache-control') };
};

t.test('an ultra class: LL-HLS playlists, blocking reload, low-latency playback, reconnect, crash, replay', async (t) => {
  const { key } = ts.createChannel('fast', { latency: 'ultra', ladder: ['720p', '360p'], record: true });
  // The learner opens the page before the class starts (the page asks for playback while the class is starting).
  const page = await browser.newPage({ width: 1280, height: 800 });
  t.teardown(() => page.close());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${ts.base}/watch/fast?token=${token('fast', 'l1')}`);
  let pub = push(ts.rtmp(key), { seconds: 120, size: '1280x720', gop: 30 });
  t.teardown(() => pub.kill('SIGKILL'));
  await waitFor('the master playlist', async () => (await ts.get('/hls/fast/master.m3u8')).status === 200, 30000);
  const master = HLS.parse(await (await ts.get('/hls/fast/master.m3u8')).text()) as HLS.types.MasterPlaylist;
  t.same(master.variants.map((v) => v.resolution?.height), [720, 360, undefined], 'two pictures and the audio-only variant');
  t.match(master.variants[0]!.codecs, /^avc1\.[0-9a-f]{6},mp4a\.40\.2$/, 'audio is muxed into each rung');
  t.match(master.variants[2], { uri: 'audio-only/index.m3u8', codecs: 'mp4a.40.2' }, 'the audio-only variant, its codec alone');
  t.ok(master.variants[2]!.bandwidth < 100_000, `audio-only BANDWIDTH ${master.variants[2]!.bandwidth}`);
  // The audio-only rendition is an LL-HLS rendition too: parts no longer than the part target, and never much shorter.
  const listen = await playlist('/hls/fast/audio-only/index.m3u8');
  const lp = HLS.parse(listen.text) as HLS.types.MediaPlaylist;
  t.equal(lp.partTargetDuration, 0.3);
  const durations = [...listen.text.matchAll(/#EXT-X-PART:DURATION=([\d.]+)/g)].map((m) => Number(m[1]));
  t.ok(durations.length >= 3, `audio-only parts listed (${durations.length})`);
  t.ok(durations.every((d) => d <= 0.3 && d >= 0.255), `every audio part within (85 %, 100 %] of the part target: ${[...new Set(durations)].join(', ')}`);
  const lastListen = lp.mediaSequenceBase! + lp.segments.filter((s) => s.uri && s.duration > 0).length - 1;
  const heldListen = await playlist(`/hls/fast/audio-only/index.m3u8?_HLS_msn=${lastListen + 1}`);
  t.match(heldListen.text, new RegExp(`_${lastListen + 1}\\.m4s\\n`), 'blocking reload works on the audio-only rendition');

  const live = await playlist('/hls/fast/360p/index.m3u8');
  const p = HLS.parse(live.text) as HLS.types.MediaPlaylist;
  // The master appears once every rung has three complete segments (RFC 8216 §6.3.3; Shaka Player needs it).
  t.ok(p.segments.filter((s) => s.uri && s.duration > 0).length >= 3, 'three complete segments when the master appears');
  t.equal(p.version, 9);
  t.equal(p.partTargetDuration, 0.3);
  t.match(p.lowLatencyCompatibility, { canBlockReload: true, partHoldBack: 0.9 });
  t.ok(p.segments[0]!.map?.uri.endsWith('_init0.mp4'), 'EXT-X-MAP');
  t.ok(p.segments[0]!.programDateTime, 'EXT-X-PROGRAM-DATE-TIME');
  t.match(live.text, /#EXT-X-RENDITION-REPORT:URI="\.\.\/720p\/index\.m3u8",LAST-MSN=\d+,LAST-PART=\d+/);
  t.match(live.text, /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="[^"]+\.m4s"/);
  t.match(live.text, /#EXT-X-PART:DURATION=0\.3,URI="[^"]+",INDEPENDENT=YES/);
  t.equal(live.cache, 'no-cache');

  // Blocking reload: ask for the segment after the last complete one; it is held until it exists.
  const last = p.mediaSequenceBase! + p.segments.filter((s) => s.uri && s.duration > 0).length - 1;
  const held = await playlist(`/hls/fast/360p/index.m3u8?_HLS_msn=${last + 1}`);
  t.equal(held.status, 200);
  t.match(held.text, new RegExp(`_${last + 1}\\.m4s\\n`), 'the answer lists the segment asked for');
  t.ok(held.ms > 50 && held.ms < 3000, `held ${held.ms} ms, then answered`);
  t.equal(held.cache, 'public, max-age=6');
  t.equal((await playlist(`/hls/fast/360p/index.m3u8?_HLS_msn=${last + 10}`)).status, 400, 'far beyond the live edge: 400');
  const hint = /PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(held.text)![1]!;
  const part = await ts.get(`/hls/fast/360p/${hint}`);
  t.equal(part.status, 200, 'the preload-hinted part is answered once complete');
  t.equal(part.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  t.equal(part.headers.get('content-type'), 'video/iso.segment');

  await page.waitForFunction(() => {
    const v = document.querySelector('video');
    return !!v && v.currentTime > 1 && !v.paused;
  }, undefined, { timeout: 30000 });
  t.equal(await page.$eval('.player', (el) => (el as HTMLElement).dataset.lowLatency), 'on', 'hls.js low-latency mode is on');
  await page.evaluate(() => {
    const w = window as unknown as { stalls: number };
    w.stalls = 0;
    document.querySelector('video')!.addEventListener('waiting', () => { w.stalls += 1; });
  });
  // 20 s of playback: the player's own latency (from EXT-X-PROGRAM-DATE-TIME) each second.
  const latencies: number[] = [];
  const start = await page.evaluate(() => document.querySelector('video')!.currentTime);
  const rates = new Set<number>();
  for (let i = 0; i < 20; i += 1) {
    await page.waitForTimeout(1000);
    rates.add(await page.evaluate(() => document.querySelector('video')!.playbackRate));
    const l = Number(await page.$eval('.player', (el) => (el as HTMLElement).dataset.latency));
    if (l > 0) latencies.push(l);
  }
  const played = (await page.evaluate(() => document.querySelector('video')!.currentTime)) - start;
  const stalls = await page.evaluate(() => (window as unknown as { stalls: number }).stalls);
  latencies.sort((a, b) => a - b);
  const median = latencies[Math.floor(latencies.length / 2)]!;
  t.ok(played > 18, `played ${played.toFixed(1)} s of 20`);
  t.ok(stalls <= 1, `stalls in 20 s: ${stalls}`);
  t.ok(latencies.length >= 15 && median < 2, `player latency median ${median.toFixed(2)} s (p90 ${latencies[Math.floor(latencies.length * 0.9)]!.toFixed(2)} s; rates ${[...rates].join(', ')})`);

  const at = (): Promise<number> => page.evaluate(() => document.querySelector('video')!.currentTime);
  const advances = async (what: string): Promise<void> => {
    const t0 = await at();
    await page.waitForTimeout(4000);
    const gained = (await at()) - t0;
    t.ok(gained > 2.5, `${what}: ${gained.toFixed(1)} s played in 4 s`);
  };
  const initsIn = async (): Promise<string> => (await playlist('/hls/fast/720p/index.m3u8')).text;
  // The publisher drops and comes back within the grace period: same session, the player keeps going.
  pub.kill('SIGKILL');
  await waitFor('the class to wait for its publisher', () => ts.server.live.snapshot().channels.find((c) => c.channel === 'fast')?.state === 'reconnecting');
  pub = push(ts.rtmp(key), { seconds: 60, size: '1280x720', gop: 30 });
  await waitFor('the publisher back', () => ts.server.live.snapshot().channels.find((c) => c.channel === 'fast')?.state === 'live');
  await waitFor('media of the new publisher', async () => (await initsIn()).includes('_init1.mp4'), 20000);
  await advances('playback continues after the publisher reconnected');
  // ffmpeg dies: it is restarted, the playlists continue after a discontinuity, the player keeps going.
  const pid = await waitFor('the ladder running', () => transcoder('fast')?.pid);
  process.kill(pid, 'SIGKILL');
  await waitFor('ffmpeg restarted', () => (transcoder('fast')?.restarts ?? 0) >= 1 && transcoder('fast')?.pid !== pid);
  await waitFor('media of the restarted ffmpeg', async () => (await initsIn()).includes('_init2.mp4'), 20000);
  await advances('playback continues after an ffmpeg restart');
  const after = (await playlist('/hls/fast/720p/index.m3u8')).text;
  t.match(after, /#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="[^"]+_init\d\.mp4"/, 'a discontinuity and a new init segment');
  t.same(errors, [], 'no page errors');

  // The class ends: the recording is an fMP4 VOD that plays as a replay.
  const session = ts.server.live.snapshot().channels.find((c) => c.channel === 'fast')!.sessionId;
  pub.kill('SIGKILL');
  await waitFor('the replay', async () => (await ts.get(`/vod/${session}/master.m3u8`)).status === 200, 30000);
  const vod = HLS.parse(readFileSync(join(ts.server.config['paths.media'], 'vod', session, '720p', 'index.m3u8'), 'utf8')) as HLS.types.MediaPlaylist;
  t.equal(vod.endlist, true);
  t.ok(vod.segments.length > 20, `${vod.segments.length} segments recorded`);
  const marks = vod.segments.flatMap((s, i) => (s.discontinuity ? [i] : []));
  t.ok(marks.length >= 2, `the reconnect and the crash are marked (discontinuities before segments ${marks.join(', ')})`);
  await page.waitForSelector('button.replay', { timeout: 30000 });
  await page.click('button.replay');
  await page.waitForFunction(() => {
    const v = document.querySelector('video');
    return !!v && v.currentTime > 1 && !v.paused;
  }, undefined, { timeout: 30000 });
  t.pass('the replay plays');
});
