import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as HLS from 'hls-parser';
import { ffprobe, firstVideoFlags, liveDir, push, startTestServer, startsWithKeyframe, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

const ts = await startTestServer(testdir(t), { KMK_INGEST_RECONNECT_GRACE_SECONDS: '2' });
t.teardown(() => ts.server.stop());

t.test('a 720p30 publish becomes an adaptive HLS ladder without a 1080p rung', async (t) => {
  const { key } = ts.createChannel('math-101');
  const started = Date.now();
  const pub = push(ts.rtmp(key), { seconds: 20 });
  t.teardown(() => pub.kill('SIGKILL'));

  const masterText = await waitFor('the master playlist', async () => {
    const r = await ts.get('/hls/math-101/master.m3u8');
    return r.status === 200 ? r.text() : undefined;
  });
  t.comment(`master playlist served ${((Date.now() - started) / 1000).toFixed(1)} s after the publish started`);
  const master = HLS.parse(masterText) as HLS.types.MasterPlaylist;
  t.ok(master.isMasterPlaylist);
  const pictures = master.variants.filter((v) => v.resolution);
  const heights = pictures.map((v) => v.resolution?.height);
  t.same(heights, [720, 480, 360], '720p, 480p and 360p; no 1080p above a 720p source');
  // The audio-only variant, last: AAC at most 64 kbit/s in its own playlist, for a learner on a very poor link.
  t.equal(master.variants.length, 4, 'three pictures and the audio-only variant');
  const listen = master.variants[3]!;
  t.match(listen, { uri: 'audio-only/index.m3u8', codecs: 'mp4a.40.2', resolution: undefined }, 'audio-only: its codec alone, no RESOLUTION');
  t.same(listen.audio, [], 'its audio is its own, not the shared group');
  t.ok(listen.bandwidth < 100_000, `audio-only BANDWIDTH ${listen.bandwidth}`);
  const listenText = await (await ts.get('/hls/math-101/audio-only/index.m3u8')).text();
  const listenSeg = /^[^#\n][^\n]*\.ts/m.exec(listenText)?.[0];
  t.ok(listenSeg, 'the audio-only playlist lists segments');
  const probed = await ffprobe(`${ts.base}/hls/math-101/audio-only/${listenSeg}`);
  const streams = probed.streams as unknown as { codec_type: string; codec_name: string; bit_rate?: string; channels?: number; sample_rate?: string }[];
  t.same(streams.map((x) => `${x.codec_type}:${x.codec_name}:${x.channels}:${x.sample_rate}`), ['audio:aac:2:48000'], 'one AAC stereo stream, no video');
  t.ok(Number(streams[0]?.bit_rate ?? 1e9) <= 70_000, `AAC at ${streams[0]?.bit_rate} bit/s (64k asked)`);
  for (const v of pictures) {
    t.match(v.codecs, /^avc1\.[0-9a-f]{6},mp4a\.40\.2$/, `${v.uri} has CODECS`);
    t.ok(v.bandwidth > 0 && (v.averageBandwidth ?? 0) > 0, `${v.uri} has BANDWIDTH and AVERAGE-BANDWIDTH`);
    t.equal(v.frameRate, 30, `${v.uri} has FRAME-RATE`);
    t.equal(v.audio[0]?.groupId, 'aud', `${v.uri} uses the shared audio group`);
  }
  const headers = (await ts.get('/hls/math-101/master.m3u8')).headers;
  t.equal(headers.get('content-type'), 'application/vnd.apple.mpegurl');
  t.equal(headers.get('cache-control'), 'no-cache');
  t.equal(headers.get('access-control-allow-origin'), '*');

  const variant = await (await ts.get('/hls/math-101/480p/index.m3u8')).text();
  t.match(variant, '#EXT-X-PROGRAM-DATE-TIME:');
  t.match(variant, '#EXT-X-INDEPENDENT-SEGMENTS');
  t.match(variant, '#EXT-X-TARGETDURATION:2');

  const dir = liveDir(ts, 'math-101');
  const expected: Record<string, [number, number]> = { '720p': [1280, 720], '480p': [854, 480], '360p': [640, 360] };
  for (const [name, [w, h]] of Object.entries(expected)) {
    const segs = readdirSync(join(dir, name)).filter((f) => f.endsWith('.ts')).sort();
    t.ok(segs.length > 0, `${name} has segments`);
    const probe = await ffprobe(join(dir, name, segs[0]!));
    const video = probe.streams.find((s) => s.codec_type === 'video');
    t.match(video, { codec_name: 'h264', width: w, height: h }, `${name} segment is H.264 ${w}x${h}`);
    for (const s of segs.slice(0, -1)) t.ok(startsWithKeyframe(join(dir, name, s)), `${name}/${s} starts with a keyframe`, { flags: firstVideoFlags(join(dir, name, s)) });
  }
  const audioSeg = readdirSync(join(dir, 'audio')).find((f) => f.endsWith('.ts'))!;
  t.equal((await ffprobe(join(dir, 'audio', audioSeg))).streams[0]?.codec_name, 'aac', 'one shared AAC audio rendition');

  const segName = readdirSync(join(dir, '360p')).filter((f) => f.endsWith('.ts')).sort()[0]!;
  const seg = await ts.get(`/hls/math-101/360p/${segName}`);
  t.equal(seg.status, 200);
  t.equal(seg.headers.get('content-type'), 'video/mp2t');
  t.equal(seg.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  const full = Buffer.from(await seg.arrayBuffer());
  const part = await ts.get(`/hls/math-101/360p/${segName}`, { Range: 'bytes=0-187' });
  t.equal(part.status, 206, 'Range requests are answered with 206');
  t.equal(part.headers.get('content-range'), `bytes 0-187/${full.length}`);
  t.same(Buffer.from(await part.arrayBuffer()), full.subarray(0, 188));
  const bad = await ts.get(`/hls/math-101/360p/${segName}`, { Range: `bytes=${full.length + 10}-` });
  t.equal(bad.status, 416);
  const preflight = await fetch(ts.base + '/hls/math-101/master.m3u8', { method: 'OPTIONS' });
  t.equal(preflight.status, 204);
  t.match(preflight.headers.get('access-control-allow-headers'), /Range/);

  // A second publisher with the same key is refused while the first goes on.
  const second = push(ts.rtmp(key), { seconds: 5 });
  const code = await second.done;
  t.not(code, 0, 'the second publisher is disconnected');
  const before = readdirSync(join(dir, '480p')).length;
  await waitFor('new segments from the first publisher', () => readdirSync(join(dir, '480p')).length > before);
  t.equal(ts.server.live.snapshot().channels.length, 1, 'still one live class');

  // Recording on: when the class ends its playlists are closed and it plays as VOD.
  await pub.done;
  await waitFor('the class to end', () => ts.server.live.current('math-101') === undefined, 30000);
  const session = ts.server.store.sessions.list({ channel: 'math-101' })[0]!;
  t.match(session, { endReason: 'publisher left', recorded: true, reconnects: 0 });
  t.ok(session.bytesIn > 100000, 'bytes in recorded');
  t.match(session.source, { codec: 'h264', width: 1280, height: 720, fps: 30, audioCodec: 'aac' });
  t.notOk(existsSync(dir), 'the live folder became the recording');
  const vodVariant = await (await ts.get(`/vod/${session.id}/480p/index.m3u8`)).text();
  t.match(vodVariant, '#EXT-X-ENDLIST');
  const probe = await ffprobe(`${ts.base}/vod/${session.id}/master.m3u8`);
  const seconds = Number(probe.format?.duration);
  t.ok(seconds > 16, `the replay holds the whole class (${seconds.toFixed(1)} s of 20 s pushed)`);
  const segCount = readFileSync(join(ts.server.config['paths.media'], 'vod', session.id, '480p', 'index.m3u8'), 'utf8').match(/#EXTINF/g)?.length ?? 0;
  t.ok(segCount >= 6, 'every segment is kept when recording');
});

t.test('recording off keeps only the live window on disk', async (t) => {
  const { key } = ts.createChannel('no-rec', { record: false, ladder: ['360p'] });
  const pub = push(ts.rtmp(key), { seconds: 20, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  const dir = liveDir(ts, 'no-rec');
  await waitFor('segment 10', () => existsSync(dir) && readdirSync(join(dir, '360p')).some((f) => f.endsWith('_00009.ts')), 40000);
  const segs = readdirSync(join(dir, '360p')).filter((f) => f.endsWith('.ts'));
  t.ok(segs.length <= 9, `old segments are deleted as the window slides (${segs.length} on disk)`);
  t.notOk(segs.some((f) => f.endsWith('_00000.ts')), 'the first segment is gone');
  const pl = await (await ts.get('/hls/no-rec/360p/index.m3u8')).text();
  t.equal(pl.match(/#EXTINF/g)?.length, 6, 'live window of 6 segments');
  pub.kill('SIGKILL');
  await waitFor('the class to end', () => ts.server.live.current('no-rec') === undefined, 30000);
  t.notOk(existsSync(join(ts.server.config['paths.media'], 'vod')) && readdirSync(join(ts.server.config['paths.media'], 'vod')).length > 1, 'no recording kept');
});
