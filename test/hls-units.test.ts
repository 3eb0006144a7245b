import t from 'tap';
import * as HLS from 'hls-parser';
import { parseRange, resolveMediaPath } from '../src/hls/paths.js';
import { liveWindow } from '../src/hls/window.js';
import { masterPlaylist } from '../src/hls/master.js';
import { codecString } from '../src/transcode/probe.js';
import { testdir } from './helpers/testdir.js';

t.test('media paths resolve inside the media folder only', async (t) => {
  const ok = resolveMediaPath('/m', 'hls', 'math-101/720p/index.m3u8');
  t.match(ok, { ok: true, file: { path: '/m/live/math-101/720p/index.m3u8', playlist: true, contentType: 'application/vnd.apple.mpegurl' } });
  t.match(resolveMediaPath('/m', 'vod', 's_0123456789abcdef/master.m3u8'), { ok: true, file: { path: '/m/vod/s_0123456789abcdef/master.m3u8' } });
  t.match(resolveMediaPath('/m', 'hls', 'math-101/360p/s_x_00001.ts'), { ok: true, file: { contentType: 'video/mp2t', playlist: false } });
  for (const bad of ['../data/kmk.db', '%2e%2e/x.m3u8', 'math-101/..%2fkmk.db', 'math-101/%00.ts', '%E0%A4%A', 'a\\b/x.ts']) {
    t.match(resolveMediaPath('/m', 'hls', bad), { ok: false, status: 400 }, `${bad} is a bad request`);
  }
  for (const missing of ['Math/x.m3u8', 'math-101', 'math-101/a/b/c.ts', 'math-101/x.db', 'math-101/.hidden.ts']) {
    t.match(resolveMediaPath('/m', 'hls', missing), { ok: false, status: 404 }, `${missing} is not found`);
  }
  t.match(resolveMediaPath('/m', 'vod', 'math-101/master.m3u8'), { ok: false, status: 404 }, 'vod wants a session id');
});

t.test('byte ranges', async (t) => {
  t.same(parseRange('bytes=0-99', 1000), { start: 0, end: 99 });
  t.same(parseRange('bytes=900-', 1000), { start: 900, end: 999 });
  t.same(parseRange('bytes=-100', 1000), { start: 900, end: 999 });
  t.same(parseRange('bytes=0-5000', 1000), { start: 0, end: 999 });
  t.equal(parseRange('', 1000), undefined);
  for (const bad of ['bytes=1000-', 'bytes=5-1', 'bytes=-0', 'items=0-1', 'bytes=0-1,5-6', 'bytes=-']) t.equal(parseRange(bad, 1000), 'invalid', bad);
});

const event = (n: number, discontinuityAt: number[] = []): string => {
  let s = '#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:EVENT\n';
  for (let i = 0; i < n; i++) s += `${discontinuityAt.includes(i) ? '#EXT-X-DISCONTINUITY\n' : ''}#EXTINF:2.000000,\nseg_${i}.ts\n`;
  return s;
};

t.test('a recording playlist is served to live viewers as a 6-segment window', async (t) => {
  const w = HLS.parse(liveWindow(event(10, [3, 8]), 6)) as HLS.types.MediaPlaylist;
  t.same(w.segments.map((s) => s.uri), ['seg_4.ts', 'seg_5.ts', 'seg_6.ts', 'seg_7.ts', 'seg_8.ts', 'seg_9.ts']);
  t.equal(w.mediaSequenceBase, 4);
  t.equal(w.discontinuitySequenceBase, 1, 'one removed discontinuity bumps the sequence');
  t.equal(w.playlistType, undefined, 'the window is a plain live playlist');
  t.equal(liveWindow(event(4), 6), event(4), 'short playlists pass unchanged');
  t.equal(liveWindow('not a playlist', 6), 'not a playlist');
});

t.test('the master playlist lists every variant with CODECS and the shared audio group', async (t) => {
  const text = masterPlaylist([
    { uri: '480p/index.m3u8', bandwidth: 1.6e6, averageBandwidth: 1.5e6, width: 854, height: 480, frameRate: 30, videoCodec: 'avc1.64001e' },
    { uri: '720p/index.m3u8', bandwidth: 3.2e6, averageBandwidth: 2.9e6, width: 1280, height: 720, frameRate: 30, videoCodec: 'avc1.64001f' },
  ], { uri: 'audio/index.m3u8', codec: 'mp4a.40.2', name: 'audio' });
  const m = HLS.parse(text) as HLS.types.MasterPlaylist;
  t.same(m.variants.map((v) => v.uri), ['720p/index.m3u8', '480p/index.m3u8'], 'highest first');
  t.same(m.variants.map((v) => v.codecs), ['avc1.64001f,mp4a.40.2', 'avc1.64001e,mp4a.40.2']);
  t.match(text, 'AVERAGE-BANDWIDTH=2900000');
  t.match(text, '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud"');
});

t.test('the audio-only variant: its own playlist, audio codec only, listed last; audioOnlyBandwidth counts the framing', async (t) => {
  const { audioOnlyBandwidth } = await import('../src/hls/master-writer.js');
  const bw = audioOnlyBandwidth(64, 18236, 2);
  t.equal(bw.averageBandwidth, 73600, '64 kbit/s with 15 % for the framing (the segment measured 72.9 kbit/s)');
  t.equal(bw.bandwidth, 80960, 'the peak a tenth above');
  t.equal(audioOnlyBandwidth(64, 30000, 2).averageBandwidth, 120000, 'a segment that measured more wins');
  const text = masterPlaylist([
    { uri: '360p/index.m3u8', bandwidth: 1e6, averageBandwidth: 0.9e6, width: 640, height: 360, frameRate: 30, videoCodec: 'avc1.64001e' },
  ], { uri: 'audio/index.m3u8', codec: 'mp4a.40.2', name: 'audio' }, { uri: 'audio-only/index.m3u8', audioCodec: 'mp4a.40.2', ...bw });
  const m = HLS.parse(text) as HLS.types.MasterPlaylist;
  t.same(m.variants.map((v) => v.uri), ['360p/index.m3u8', 'audio-only/index.m3u8'], 'audio-only last');
  const ao = m.variants[1]!;
  t.equal(ao.codecs, 'mp4a.40.2', 'CODECS names the audio only');
  t.equal(ao.resolution, undefined, 'no RESOLUTION');
  t.same(ao.audio, [], 'no alternative audio group: the audio is in its own playlist');
  t.equal(ao.bandwidth, 80960);
  t.ok(ao.bandwidth <= 64000 * 1.3, 'at most about 64 kbit/s of AAC');
});

t.test('codec strings from probed streams', async (t) => {
  t.equal(codecString({ kind: 'video', codec: 'h264', profile: 'High', level: 31 }), 'avc1.64001f');
  t.equal(codecString({ kind: 'video', codec: 'h264', profile: 'Main', level: 30 }), 'avc1.4d401e');
  t.equal(codecString({ kind: 'video', codec: 'h264', profile: 'Constrained Baseline', level: 31 }), 'avc1.42e01f');
  t.equal(codecString({ kind: 'audio', codec: 'aac', profile: 'LC' }), 'mp4a.40.2');
  t.equal(codecString({ kind: 'audio', codec: 'aac', profile: 'HE-AAC' }), 'mp4a.40.5');
  t.equal(codecString({ kind: 'video', codec: 'vp9' }), undefined);
});

t.test('the origin serves a changed playlist at once and windows a recording', async (t) => {
  const { Origin } = await import('../src/hls/origin.js');
  const { mkdirSync, writeFileSync, appendFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const media = testdir(t);
  mkdirSync(join(media, 'live', 'ch', '360p'), { recursive: true });
  const file = join(media, 'live', 'ch', '360p', 'index.m3u8');
  writeFileSync(file, event(8));
  const origin = new Origin({ mediaDir: media, cacheBytes: 1 << 20, liveWindow: 6 });
  const first = HLS.parse(String((await origin.serve('hls', 'ch/360p/index.m3u8', '')).body)) as HLS.types.MediaPlaylist;
  t.same(first.segments.map((s) => s.uri), ['seg_2.ts', 'seg_3.ts', 'seg_4.ts', 'seg_5.ts', 'seg_6.ts', 'seg_7.ts']);
  t.equal(String((await origin.serve('hls', 'ch/360p/index.m3u8', '')).body), String(HLS.stringify(first)), 'same answer from the cache');
  appendFileSync(file, '#EXTINF:2.000000,\nseg_8.ts\n');
  const second = HLS.parse(String((await origin.serve('hls', 'ch/360p/index.m3u8', '')).body)) as HLS.types.MediaPlaylist;
  t.equal(second.segments.at(-1)?.uri, 'seg_8.ts', 'a new segment shows up immediately');
  t.equal(second.mediaSequenceBase, 3);
  const vod = String((await origin.serve('vod', 's_0000000000000000/x.m3u8', '')).body);
  t.match(vod, 'not found');
});

t.test('validators: ETag on every media answer, 304 on revalidation (a CDN edge refreshing what it holds)', async (t) => {
  const { Origin, entityTag, notModified } = await import('../src/hls/origin.js');
  const { mkdirSync, writeFileSync, appendFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const media = testdir(t);
  mkdirSync(join(media, 'live', 'ch', '360p'), { recursive: true });
  writeFileSync(join(media, 'live', 'ch', '360p', 'index.m3u8'), event(3));
  writeFileSync(join(media, 'live', 'ch', '360p', 'seg_1.ts'), Buffer.alloc(5000, 1));
  const origin = new Origin({ mediaDir: media, cacheBytes: 1 << 20, liveWindow: 6 });
  const seg = await origin.serve('hls', 'ch/360p/seg_1.ts', '');
  const tag = seg.headers.ETag!;
  t.match(tag, /^"1388-[\w-]{16}"$/, 'size and identity in the tag');
  t.equal((await origin.serve('hls', 'ch/360p/seg_1.ts', '')).headers.ETag, tag, 'stable across requests');
  const again = await origin.serve('hls', 'ch/360p/seg_1.ts', '', undefined, false, { ifNoneMatch: tag });
  t.equal(again.status, 304);
  t.equal(String(again.body), '', 'no body');
  t.equal(again.headers['Cache-Control'], 'public, max-age=31536000, immutable');
  t.equal((await origin.serve('hls', 'ch/360p/seg_1.ts', '', undefined, false, { ifNoneMatch: '"other"' })).status, 200);
  const pl = await origin.serve('hls', 'ch/360p/index.m3u8', '');
  t.equal((await origin.serve('hls', 'ch/360p/index.m3u8', '', undefined, false, { ifNoneMatch: pl.headers.ETag })).status, 304, 'an unchanged playlist');
  appendFileSync(join(media, 'live', 'ch', '360p', 'index.m3u8'), '#EXTINF:2.000000,\nseg_3.ts\n');
  t.equal((await origin.serve('hls', 'ch/360p/index.m3u8', '', undefined, false, { ifNoneMatch: pl.headers.ETag })).status, 200, 'a changed playlist is sent again');
  t.equal(origin.counters.notModified, 2);
  t.ok(notModified(`W/${tag}, "x"`, tag), 'a weak form of the same tag in a list');
  t.ok(notModified('*', tag));
  t.notOk(notModified('', tag));
  t.not(entityTag('/a', Buffer.from('x'), false), entityTag('/b', Buffer.from('x'), false), 'different segments, different tags');
  t.match(pl.headers['Access-Control-Expose-Headers'], /ETag/);
  t.notOk(Object.keys(pl.headers).some((h) => /set-cookie/i.test(h)), 'no cookies on media');
});

t.test('hls.cdnBaseUrl: media named in playlists comes from the CDN host, playlists stay here', async (t) => {
  const { mediaOnCdn, cdnOrigin } = await import('../src/hls/cdn.js');
  const text = '#EXTM3U\n#EXT-X-MAP:URI="s_init0.mp4?pt=a"\n#EXT-X-PART:DURATION=0.3,URI="s_1.0.m4s"\n#EXTINF:2,\nseg_1.ts\n#EXT-X-RENDITION-REPORT:URI="../720p/index.m3u8",LAST-MSN=1,LAST-PART=0\n360p/index.m3u8\nhttps://elsewhere.example/x.ts\n';
  t.equal(mediaOnCdn(text, 'https://cdn.school.example', '/hls/ch/360p'), '#EXTM3U\n#EXT-X-MAP:URI="https://cdn.school.example/hls/ch/360p/s_init0.mp4?pt=a"\n'
    + '#EXT-X-PART:DURATION=0.3,URI="https://cdn.school.example/hls/ch/360p/s_1.0.m4s"\n#EXTINF:2,\nhttps://cdn.school.example/hls/ch/360p/seg_1.ts\n'
    + '#EXT-X-RENDITION-REPORT:URI="../720p/index.m3u8",LAST-MSN=1,LAST-PART=0\n360p/index.m3u8\nhttps://elsewhere.example/x.ts\n');
  t.equal(cdnOrigin('https://cdn.school.example/base'), 'https://cdn.school.example');
  t.equal(cdnOrigin(''), '');
});
