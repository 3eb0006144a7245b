import t from 'tap';
import * as HLS from 'hls-parser';
import { BoxSplitter, parseMoof } from '../src/media/fmp4.js';
import { PartAssembler, partTargetFor, type AssemblerEvent } from '../src/hls/ll/assembler.js';
import { livePlaylist, partHoldBack, recordingEntry, recordingHead, RECORDING_END } from '../src/hls/ll/playlist.js';
import { LlRendition } from '../src/hls/ll/rendition.js';
import { blockingQuery, serveLl } from '../src/hls/ll/serve.js';
import { llFfmpegArgs, llOutputNames } from '../src/transcode/ll-args.js';
import { catchUp } from '../src/web/catch-up.js';
import { planLadder } from '../src/transcode/ladder.js';
import { mdat, moof } from './helpers/fmp4.js';

const TS = 15360; // ffmpeg's video timescale at 30 fps
const FRAME = 512;

/** Feeds n video frames at 30 fps (keyframe every `gop`) with an audio fragment between frames. */
function feed(a: PartAssembler, from: number, n: number, gop = 30): AssemblerEvent[] {
  const out: AssemblerEvent[] = [];
  for (let i = from; i < from + n; i += 1) {
    out.push(...a.push(moof(1, i * FRAME, FRAME, i % gop === 0), mdat()));
    out.push(...a.push(moof(2, i * 1600, 1600, true), mdat(4)));
  }
  return out;
}

t.test('fMP4: boxes split across chunks, fragment times and sync flags', async (t) => {
  const bytes = Buffer.concat([moof(1, 1024, 512, true), mdat(10), moof(1, 1536, 512, false), mdat(3)]);
  const s = new BoxSplitter();
  const boxes = [];
  for (let i = 0; i < bytes.length; i += 7) boxes.push(...s.push(bytes.subarray(i, i + 7)));
  t.same(boxes.map((b) => b.type), ['moof', 'mdat', 'moof', 'mdat']);
  t.equal(s.pendingBytes, 0);
  t.same(parseMoof(boxes[0]!.bytes), [{ trackId: 1, baseTime: 1024, duration: 512, samples: 1, startsWithSync: true }]);
  t.same(parseMoof(boxes[2]!.bytes), [{ trackId: 1, baseTime: 1536, duration: 512, samples: 1, startsWithSync: false }]);
  const bad = Buffer.alloc(8);
  bad.writeUInt32BE(3, 0);
  t.throws(() => new BoxSplitter().push(bad), /corrupt MP4 stream/, 'a box smaller than its header is refused, not looped on');
});

t.test('parts are cut by video time, segments at keyframes', async (t) => {
  t.equal(partTargetFor(0.3, 30), 0.3);
  t.equal(partTargetFor(0.3, 25), 0.32, 'whole frames: 8 frames at 25 fps');
  t.equal(partTargetFor(0.01, 30), 0.03333, 'never less than one frame');
  const a = new PartAssembler({ timingTrack: 1, timescale: TS, partTarget: 0.3, segmentTarget: 1, maxSegment: 1.5, firstMsn: 0 });
  const events = feed(a, 0, 61);
  const parts = events.filter((e) => e.kind === 'part').map((e) => e.kind === 'part' && e.part);
  const segs = events.filter((e) => e.kind === 'segment').map((e) => e.kind === 'segment' && e.segment);
  t.same(parts.slice(0, 5).map((p) => p && [p.msn, p.index, Math.round(p.duration * 1000), p.independent]),
    [[0, 0, 300, true], [0, 1, 300, false], [0, 2, 300, false], [0, 3, 100, false], [1, 0, 300, true]]);
  t.same(segs.map((s) => s && [s.msn, Math.round(s.duration * 1000), s.parts]), [[0, 1000, 4], [1, 1000, 4]]);
  for (const p of parts) t.ok(p && p.duration <= 0.3 + 1e-9, 'no part is longer than the part target');
  // Each part holds whole fragments, video and the audio between them.
  const p0 = parts[0]!;
  t.same(new BoxSplitter().push(p0.bytes).map((b) => b.type).slice(0, 4), ['moof', 'mdat', 'moof', 'mdat']);
  const end = a.flush();
  t.match(end.map((e) => e.kind), ['part', 'segment'], 'a flush closes the open part and segment');
});

t.test('a source without keyframes still gets segments (forced, not independent)', async (t) => {
  const a = new PartAssembler({ timingTrack: 1, timescale: TS, partTarget: 0.3, segmentTarget: 1, maxSegment: 1.5, firstMsn: 7 });
  const events = feed(a, 0, 100, 1000);
  const segs = events.flatMap((e) => (e.kind === 'segment' ? [e.segment] : []));
  t.ok(segs.length >= 2);
  t.equal(segs[0]!.msn, 7);
  for (const s of segs) t.ok(s.duration <= 1.5 + 1e-9, `segment ${s.msn} ends by maxSegment`);
});

const view = (over: Partial<Parameters<typeof livePlaylist>[0]> = {}): Parameters<typeof livePlaylist>[0] => ({
  targetDuration: 1,
  partTarget: 0.3,
  discontinuitySequence: 0,
  segments: [
    { msn: 4, duration: 1, uri: 's_4.m4s', programDateTime: Date.UTC(2026, 0, 1, 9, 0, 0), discontinuity: false, mapUri: 's_init0.mp4' },
    { msn: 5, duration: 1, uri: 's_5.m4s', programDateTime: Date.UTC(2026, 0, 1, 9, 0, 1), discontinuity: true, mapUri: 's_init1.mp4',
      parts: [{ index: 0, duration: 0.3, independent: true, uri: 's_5.0.m4s' }, { index: 1, duration: 0.3, independent: false, uri: 's_5.1.m4s' },
        { index: 2, duration: 0.3, independent: false, uri: 's_5.2.m4s' }, { index: 3, duration: 0.1, independent: false, uri: 's_5.3.m4s' }] },
  ],
  open: { msn: 6, programDateTime: Date.UTC(2026, 0, 1, 9, 0, 2), discontinuity: false, mapUri: 's_init1.mp4', parts: [{ index: 0, duration: 0.3, independent: true, uri: 's_6.0.m4s' }] },
  preloadHint: 's_6.1.m4s',
  reports: [{ uri: '../360p/index.m3u8', lastMsn: 6, lastPart: 0 }],
  ended: false,
  ...over,
});

t.test('live LL-HLS playlist: golden text, parsed by hls-parser', async (t) => {
  const text = livePlaylist(view());
  t.equal(text, `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:1
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.9
#EXT-X-PART-INF:PART-TARGET=0.3
#EXT-X-MEDIA-SEQUENCE:4
#EXT-X-MAP:URI="s_init0.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T09:00:00.000Z
#EXTINF:1,
s_4.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="s_init1.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T09:00:01.000Z
#EXT-X-PART:DURATION=0.3,URI="s_5.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.3,URI="s_5.1.m4s"
#EXT-X-PART:DURATION=0.3,URI="s_5.2.m4s"
#EXT-X-PART:DURATION=0.1,URI="s_5.3.m4s"
#EXTINF:1,
s_5.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T09:00:02.000Z
#EXT-X-PART:DURATION=0.3,URI="s_6.0.m4s",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="s_6.1.m4s"
#EXT-X-RENDITION-REPORT:URI="../360p/index.m3u8",LAST-MSN=6,LAST-PART=0
`);
  const p = HLS.parse(text) as HLS.types.MediaPlaylist;
  t.equal(p.version, 9);
  t.equal(p.mediaSequenceBase, 4);
  t.equal(p.partTargetDuration, 0.3);
  t.match(p.lowLatencyCompatibility, { canBlockReload: true, partHoldBack: 0.9 });
  t.equal(p.mediaSequenceBase! + 2, 6, 'the open segment (msn 6) is the third one');
  t.equal(p.segments[1]!.discontinuity, true);
  t.equal(p.segments[1]!.parts.length, 4);
  t.equal(p.segments[1]!.parts[0]!.independent, true);
  t.match(p.segments[2]!.parts.map((x) => [x.uri, x.hint === true]), [['s_6.0.m4s', false], ['s_6.1.m4s', true]], 'the preload hint is the open segment\'s next part');
  t.equal(p.renditionReports[0]!.lastMSN, 6);
  t.equal(partHoldBack(0.32), 0.96, 'three part targets');
  const ended = livePlaylist(view({ ended: true, open: undefined, discontinuitySequence: 2 }));
  t.match(ended, /#EXT-X-DISCONTINUITY-SEQUENCE:2\n/);
  t.match(ended, /#EXT-X-ENDLIST\n$/);
  t.notMatch(ended, /PRELOAD-HINT/, 'no hint once the stream ended');
});

t.test('recording playlist on disk: append-only, a valid fMP4 VOD once ended', async (t) => {
  const segs = view().segments;
  const text = recordingHead(1) + recordingEntry(segs[0]!, undefined, true) + recordingEntry(segs[1]!, segs[0]!.mapUri, false) + RECORDING_END;
  const p = HLS.parse(text) as HLS.types.MediaPlaylist;
  t.equal(p.endlist, true);
  t.equal(p.segments.length, 2);
  t.equal(p.segments[1]!.discontinuity, true);
  t.equal(p.segments[1]!.map?.uri, 's_init1.mp4');
  t.notMatch(text, /EXT-X-PART/);
});

function rendition(): LlRendition {
  const r = new LlRendition({ name: '720p', prefix: 's_x', partTarget: 0.3, segmentTarget: 1, window: 4 });
  r.setInit(0, Buffer.from('init'));
  return r;
}

const part = (msn: number, index: number, independent = index === 0) => ({ msn, index, start: msn + index * 0.3, duration: 0.3, independent, bytes: Buffer.from(`p${msn}.${index}`) });

t.test('blocking reload: readiness, too far, waiters released together, timeouts, no leak', async (t) => {
  const r = rendition();
  r.addPart(part(0, 0), 0);
  t.equal(r.readiness(0, 0), 'ready', 'a part that exists');
  t.equal(r.readiness(0, 1), 'wait', 'the next part');
  t.equal(r.readiness(0, undefined), 'wait', 'the whole segment');
  t.equal(r.readiness(2, 0), 'wait', 'two segments ahead is allowed');
  t.equal(r.readiness(3, 0), 'too-far', 'more than two beyond the last segment');
  t.equal(r.readiness(0, 11), 'too-far', 'beyond the advance part limit (3 / 0.3 = 10 parts)');

  const waits = Array.from({ length: 1000 }, () => r.waitFor(0, 1, 5000));
  t.equal(r.waiting, 1000);
  r.addPart(part(0, 1), 0);
  const results = await Promise.all(waits);
  t.ok(results.every((x) => x === 'changed'), 'one new part releases all 1000 waiters');
  t.equal(r.waiting, 0, 'none left behind');

  const ctl = new AbortController();
  const gone = r.waitFor(0, 2, 5000, ctl.signal);
  const timed = r.waitFor(0, 3, 30);
  ctl.abort();
  t.equal(await gone, 'aborted');
  t.equal(await timed, 'timeout');
  t.equal(r.waiting, 0, 'a client that went away and a timed-out one leave nothing behind');

  const whole = r.waitFor(0, undefined, 5000);
  r.addPart(part(0, 2), 0);
  t.match(r.playlist('a', () => []), /PRELOAD-HINT:TYPE=PART,URI="s_x_0\.3\.m4s"/, 'the hint: the next part of this segment');
  r.addPart({ ...part(0, 3), duration: 0.1 }, 0);
  t.match(r.playlist('b', () => []), /PRELOAD-HINT:TYPE=PART,URI="s_x_1\.0\.m4s"/, 'a segment at its target duration: the hint is the next segment\'s first part');
  r.addSegment({ msn: 0, duration: 1, start: 0, parts: 4 });
  t.equal(await whole, 'changed', 'a finished segment releases requests for it');
  t.equal(r.readiness(0, 7), 'ready', 'any part of a finished segment: the playlist has all of it');
  t.equal(r.lastMsn, 0);
  t.match(r.lookupPart(1, 0), { kind: 'wait' }, 'the hinted next part is held');
  t.match(r.lookupPart(1, 2), { kind: 'none' });
  t.match(r.lookupPart(0, 1), { kind: 'bytes', bytes: Buffer.from('p0.1') });
  t.equal(r.segment(0)?.toString(), 'p0.0p0.1p0.2p0.3', 'a segment is its parts');
});

t.test('the rendition window slides and counts discontinuities that scroll out', async (t) => {
  const r = rendition();
  for (let m = 0; m < 12; m += 1) {
    if (m === 2) r.setInit(1, Buffer.from('init1'));
    for (let i = 0; i < 3; i += 1) r.addPart(part(m, i), Date.UTC(2026, 0, 1) + m * 1000);
    r.addSegment({ msn: m, duration: 0.9, start: m, parts: 3 });
  }
  const p = HLS.parse(r.playlist('k', () => [])) as HLS.types.MediaPlaylist;
  t.equal(p.mediaSequenceBase, 8, 'the last 4 segments');
  t.equal(p.discontinuitySequenceBase, 1, 'the discontinuity at msn 2 scrolled out');
  t.same(p.segments.slice(0, 4).map((s) => s.parts.length), [0, 3, 3, 3], 'parts only for the last three segments');
  t.match(p.segments[4]?.parts, [{ uri: 's_x_12.0.m4s', hint: true }], 'then the hint for the next segment\'s first part');
  t.equal(r.segment(2), undefined, 'old segments leave memory');
  t.equal(r.init('s_x_init1.mp4')?.toString(), 'init1');
});

t.test('serveLl answers playlists, parts and errors', async (t) => {
  const r = rendition();
  r.addPart(part(0, 0), Date.UTC(2026, 0, 1));
  const stream = { rendition: (n: string) => (n === '720p' ? r : undefined), key: '1', reports: () => [] };
  t.same(blockingQuery('_HLS_msn=3&_HLS_part=1&pt=x'), { msn: 3, part: 1 });
  t.equal(blockingQuery('_HLS_part=1'), '_HLS_part needs _HLS_msn');
  t.match(blockingQuery('_HLS_msn=-1'), /non-negative integer/);
  const now = await serveLl(stream, '720p/index.m3u8', '');
  t.match(now, { kind: 'body', playlist: true, cacheControl: 'no-cache' });
  t.match(await serveLl(stream, '720p/index.m3u8', '_HLS_msn=9'), { kind: 'status', status: 400 });
  t.match(await serveLl(stream, '720p/index.m3u8', '_HLS_msn=abc'), { kind: 'status', status: 400 });
  const held = serveLl(stream, '720p/index.m3u8', '_HLS_msn=0&_HLS_part=1');
  const hinted = serveLl(stream, '720p/s_x_0.1.m4s', '');
  r.addPart(part(0, 1), 0);
  const blocking = await held;
  t.match(blocking, { kind: 'body', cacheControl: 'public, max-age=6' }, 'a blocking answer may be cached briefly');
  t.match(blocking.kind === 'body' && blocking.body.toString(), /s_x_0\.1\.m4s/);
  t.match(await hinted, { kind: 'body', cacheControl: 'public, max-age=31536000, immutable' }, 'the hinted part, once complete');
  t.match(await serveLl(stream, '720p/s_y_0.0.m4s', ''), { kind: 'status', status: 404 }, 'another class\'s part');
  t.match(await serveLl(stream, '720p/s_x_0.m4s', ''), { kind: 'disk' }, 'a segment not in memory falls through to disk');
  t.match(await serveLl(stream, '1080p/index.m3u8', ''), { kind: 'disk' });
  const t0 = Date.now();
  t.match(await serveLl(stream, '720p/index.m3u8', '_HLS_msn=1&_HLS_part=0'), { kind: 'status', status: 503 }, 'nothing new: 503 after 3 target durations');
  const waited = Date.now() - t0;
  t.ok(waited >= 2900 && waited < 4500, `held ${waited} ms (target duration 1 s)`);
  t.equal(r.waiting, 0, 'the timed-out request left nothing behind');
});

t.test('LL ladder arguments (golden)', async (t) => {
  const plan = planLadder({ videoCodec: 'h264', width: 1280, height: 720, fps: 30, audioCodec: 'aac', keyframeInterval: 1 }, { profile: ['720p', '360p'], segmentSeconds: 1 });
  t.same(llFfmpegArgs(plan, { preset: 'veryfast', partSeconds: 0.3 }), [
    '-hide_banner', '-loglevel', 'warning', '-nostats', '-progress', 'pipe:1', '-stats_period', '1', '-fflags', '+genpts',
    '-analyzeduration', '1000000', '-f', 'flv', '-i', 'pipe:0',
    '-filter_complex', '[0:v:0]split=1[s1];[s1]scale=640:360,setsar=1[v1]',
    '-map', '0:v:0', '-c:v', 'copy', '-map', '0:a:0', '-c:a', 'aac', '-b:a', '96k', '-ac', '2', '-ar', '48000',
    '-f', 'mp4', '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-frag_duration', '300000', '-flush_packets', '1', 'pipe:3',
    '-map', '[v1]', '-c:v', 'libx264', '-preset:v', 'veryfast', '-profile:v', 'high', '-tune:v', 'stillimage,zerolatency',
    '-crf:v', '26', '-maxrate:v', '800k', '-bufsize:v', '1600k',
    '-g:v', '30', '-keyint_min:v', '30', '-sc_threshold:v', '0', '-force_key_frames:v', 'source',
    '-map', '0:a:0', '-c:a', 'aac', '-b:a', '96k', '-ac', '2', '-ar', '48000',
    '-f', 'mp4', '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-frag_duration', '300000', '-flush_packets', '1', 'pipe:4',
    // the audio-only rendition: always AAC 64k, fragments one AAC frame (1024/48000 s) short of the part target
    '-map', '0:a:0', '-c:a', 'aac', '-b:a', '64k', '-ac:a', '2', '-ar:a', '48000',
    '-f', 'mp4', '-movflags', '+empty_moov+default_base_moof', '-frag_duration', '278667', '-flush_packets', '1', 'pipe:5',
  ]);
  t.same(llOutputNames(plan), ['720p', '360p', 'audio-only'], 'the pipes in order');
  const silent = planLadder({ videoCodec: 'h264', width: 640, height: 360, fps: 30, audioCodec: 'none' }, { profile: ['360p'], segmentSeconds: 1 });
  t.notOk(llFfmpegArgs(silent, { preset: 'veryfast', partSeconds: 0.3 }).includes('0:a:0'), 'no audio: no audio-only rendition');
  t.same(llOutputNames(silent), ['360p']);
});

t.test('live-edge catch-up', async (t) => {
  const at = (latency: number, buffered: number, rate = 1, sinceJumpMs = Infinity) => catchUp({ latency, target: 0.9, buffered, rate, sinceJumpMs });
  t.same(at(2.0, 1.9), { kind: 'jump', by: 0.85 }, 'a second behind with the buffer for it: jump to 0.25 s above the target');
  t.same(at(2.4, 1.1), { kind: 'jump', by: 0.6 }, 'a thinner buffer: jump as far as it allows, keeping 0.5 s');
  t.same(at(2.4, 1.1, 1, 4000), { kind: 'rate', rate: 1.1 }, 'at most one jump every 10 s: 1.1x meanwhile');
  t.same(at(1.9, 0.6), { kind: 'rate', rate: 1.1 }, 'too little to jump: 1.1x');
  t.same(at(1.6, 1.5), { kind: 'rate', rate: 1.1 }, 'half a second to a second behind: 1.1x, no jump');
  t.same(at(1.6, 1.5, 1.1), { kind: 'none' });
  t.same(at(1.0, 1, 1.1), { kind: 'rate', rate: 1 }, 'back at the target: 1x');
  t.same(at(1.6, 0.2, 1.1), { kind: 'rate', rate: 1 }, 'never race an empty buffer');
  t.same(at(9, 3), { kind: 'live' }, 'far behind: to the live edge');
  t.same(at(1.3, 1), { kind: 'none' }, 'within 0.5 s of the target: leave it');
});

t.test('program dates follow the part that arrived soonest while the class starts, then stay', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const { PassThrough } = await import('node:stream');
  const { LlStream } = await import('../src/hls/ll/stream.js');
  const { createLogger } = await import('../src/log.js');
  const { testdir } = await import('./helpers/testdir.js');
  // A real fragmented MP4 from ffmpeg, fed as its pipe would be, with a clock we move: the first part arrives 800 ms
  // after its media time (a busy box starting up), the next ones 100 ms, and after the class is live, 0 ms.
  const bytes = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=30', '-t', '6',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', '-f', 'mp4', '-movflags', '+frag_keyframe+empty_moov+default_base_moof',
    '-frag_duration', '300000', 'pipe:1']);
  const boxes = new BoxSplitter().push(bytes);
  const base = 1_800_000_000_000;
  let clock = base;
  const stream = new LlStream({ dir: testdir(t), prefix: 'p', rungs: ['90p'], partSeconds: 0.3, segmentSeconds: 1, record: false, window: 8,
    log: createLogger('error', () => {}), now: () => clock });
  const input = new PassThrough();
  stream.attach([input]);
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
  input.write(Buffer.concat(boxes.filter((b) => b.type === 'ftyp' || b.type === 'moov').map((b) => b.bytes)));
  await tick();
  let fragment = 0;
  let firstStart: number | undefined;
  let datesAtLive: string | undefined;
  for (let i = 0; i < boxes.length; i += 1) {
    if (boxes[i]!.type !== 'moof') continue;
    const run = parseMoof(boxes[i]!.bytes)[0]!;
    const start = run.baseTime / 15360;
    firstStart ??= start;
    const live = stream.rendition('90p')!.lastMsn >= 2; // three complete segments: what the master playlist waits for
    if (live && datesAtLive === undefined) datesAtLive = stream.rendition('90p')!.playlist('k1', () => []).match(/#EXT-X-PROGRAM-DATE-TIME:\S+/g)!.join();
    // This fragment closes the part before it, whose media ends where this one starts.
    clock = base + start * 1000 + (fragment === 1 ? 800 : live ? 0 : 100);
    input.write(Buffer.concat([boxes[i]!.bytes, boxes[i + 1]!.bytes]));
    await tick();
    fragment += 1;
  }
  const text = stream.rendition('90p')!.playlist('k2', () => []);
  const p = HLS.parse(text) as HLS.types.MediaPlaylist;
  t.ok(datesAtLive, 'the stream went live');
  t.equal(p.segments[0]!.programDateTime!.getTime(), Math.round(base + 100 + firstStart! * 1000), 'dated by the 100 ms parts, not the 800 ms first one');
  t.equal(text.match(/#EXT-X-PROGRAM-DATE-TIME:\S+/g)!.slice(0, 3).join(), datesAtLive!.split(',').slice(0, 3).join(), 'once live, the dates stay (the 0 ms parts after it move nothing)');
  for (let k = 1; k < p.segments.length; k += 1) {
    const gap = p.segments[k]!.programDateTime!.getTime() - p.segments[k - 1]!.programDateTime!.getTime();
    t.ok(Math.abs(gap - p.segments[k - 1]!.duration * 1000) < 2, `segment ${k} is dated one duration after the one before (${gap} ms)`);
  }
  await stream.finish();
});
