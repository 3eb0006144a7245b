import t from 'tap';
import { Writable } from 'node:stream';
import { BoundedFlvPipe, classifyTag, flvUnit } from '../src/media/flv-pipe.js';
import { FailureGuard } from '../src/ingest/failure-guard.js';
import { Preroll } from '../src/live/preroll.js';
import { ProgressParser } from '../src/transcode/progress.js';
import { classifyFfmpegError, explainFfmpegError, FAILURE_TEXT, isDiskFailure } from '../src/media/failures.js';
import { IngestRouter, type Ingest } from '../src/live/ports.js';

const tag = (type: number, b11: number, b12: number, size = 100, ts = 0): Buffer => {
  const buf = Buffer.alloc(11 + size + 4);
  buf[0] = type;
  buf.writeUIntBE(size, 1, 3);
  buf[4] = (ts >> 16) & 0xff;
  buf[5] = (ts >> 8) & 0xff;
  buf[6] = ts & 0xff;
  buf[7] = (ts >> 24) & 0xff;
  buf[11] = b11;
  buf[12] = b12;
  return buf;
};
const keyframe = (size = 100, ts = 0) => tag(9, 0x17, 1, size, ts);
const inter = (size = 100) => tag(9, 0x27, 1, size);
const audio = () => tag(8, 0xaf, 1, 50);

t.test('FLV tags are classified', async (t) => {
  t.equal(classifyTag(Buffer.from('FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00', 'latin1')), 'header');
  t.equal(classifyTag(tag(18, 2, 0)), 'script');
  t.equal(classifyTag(tag(9, 0x17, 0)), 'video-config');
  t.equal(classifyTag(keyframe()), 'video-key');
  t.equal(classifyTag(inter()), 'video');
  t.equal(classifyTag(tag(8, 0xaf, 0)), 'audio-config');
  t.equal(classifyTag(audio()), 'audio');
  t.equal(classifyTag(Buffer.alloc(3)), 'unknown');
});

t.test('a stalled reader cannot make the pipe buffer more than its bound', async (t) => {
  // A writable that never finishes a write: ffmpeg stopped reading.
  const stalled = new Writable({ highWaterMark: 1024, write: () => {} });
  const pipe = new BoundedFlvPipe(stalled, 64 * 1024);
  pipe.write(flvUnit(tag(9, 0x17, 0)));
  for (let i = 0; i < 2000; i++) pipe.write(flvUnit(i % 30 === 0 ? keyframe(1000) : i % 3 === 0 ? audio() : inter(1000)));
  t.ok(stalled.writableLength <= 64 * 1024, `buffered ${stalled.writableLength} bytes of a 64 KiB bound`);
  t.ok(pipe.stats.droppedBytes > 1_000_000, 'the rest was dropped');
  t.ok(pipe.stats.droppedTags > 1000, 'and counted');
  const before = pipe.stats.writtenBytes;
  const config = tag(9, 0x17, 0);
  pipe.write(flvUnit(config));
  t.equal(pipe.stats.writtenBytes, before + config.length, 'codec configuration is never dropped');
});

t.test('after a stall the pipe resumes at a keyframe, never mid-GOP', async (t) => {
  const written: Buffer[] = [];
  let release: (() => void) | undefined;
  const slow = new Writable({
    highWaterMark: 1,
    write: (chunk: Buffer, _e, cb) => {
      written.push(chunk);
      release = cb;
    },
  });
  const pipe = new BoundedFlvPipe(slow, 5000);
  for (let i = 0; i < 20; i++) pipe.write(flvUnit(inter(1000))); // fills and starts dropping
  t.ok(pipe.stats.dropping);
  while (release) {
    const r = release;
    release = undefined;
    r();
    await new Promise((res) => setImmediate(res));
  }
  const countBefore = written.length;
  pipe.write(flvUnit(inter(1000)));
  t.equal(written.length, countBefore, 'a delta frame after the stall is still dropped');
  pipe.write(flvUnit(keyframe(1000)));
  await new Promise((res) => setImmediate(res));
  t.equal(classifyTag(written[written.length - 1]!), 'video-key', 'flow resumes with a keyframe');
  t.notOk(pipe.stats.dropping);
});

t.test('the failure guard blocks an address over the limit and forgets old failures', async (t) => {
  const g = new FailureGuard({ maxFailuresPerMinute: 3, blockMs: 1000, maxAddresses: 2 });
  for (let i = 0; i < 3; i++) t.equal(g.recordFailure('1.2.3.4', 1000 + i), false);
  t.notOk(g.isBlocked('1.2.3.4', 1004));
  t.equal(g.recordFailure('1.2.3.4', 1005), true, 'the fourth failure within a minute blocks');
  t.ok(g.isBlocked('1.2.3.4', 1006));
  t.notOk(g.isBlocked('1.2.3.4', 2006), 'the block expires');
  t.notOk(g.isBlocked('5.6.7.8', 1006), 'other addresses are unaffected');
  g.recordFailure('a', 0);
  g.recordFailure('b', 0);
  t.equal(g.size, 2, 'bounded number of addresses');
  g.recordFailure('1.2.3.4', 70000);
  t.notOk(g.isBlocked('1.2.3.4', 70001), 'failures older than a minute do not count');
});

t.test('an FLV buffer becomes a media unit: kind, time (with the extension byte), H.264 profile', async (t) => {
  const k = flvUnit(keyframe(100, 0x01020304));
  t.same([k.format, k.kind, k.ts], ['flv', 'video-key', 0x01020304]);
  const config = tag(9, 0x17, 0);
  config[17] = 100; // AVCProfileIndication: High
  t.equal(flvUnit(config).profile, 100);
  t.equal(flvUnit(inter()).profile, undefined);
  const header = flvUnit(Buffer.from('FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00', 'latin1'));
  t.same([header.kind, header.ts], ['header', 0]);
});

t.test('the preroll holds media from the first packet and replays it once', async (t) => {
  const p = new Preroll(10_000);
  p.write(flvUnit(tag(9, 0x17, 0)));
  p.write(flvUnit(keyframe(100, 0)));
  p.write(flvUnit(inter(100)));
  p.write(flvUnit(keyframe(100, 2000)));
  t.equal(p.keyframeInterval(), 2);
  const out: Buffer[] = [];
  p.drainInto({ write: (u) => out.push(u.data) });
  t.same(out.map(classifyTag), ['video-config', 'video-key', 'video', 'video-key']);
  p.write(flvUnit(inter(100)));
  t.equal(out.length, 5, 'then forwards live');
  const small = new Preroll(500);
  for (let i = 0; i < 10; i++) small.write(flvUnit(i % 4 === 0 ? keyframe(200, i * 1000) : inter(200)));
  const kept: Buffer[] = [];
  small.drainInto({ write: (u) => kept.push(u.data) });
  t.ok(kept.reduce((n, b) => n + b.length, 0) <= 500, 'bounded');
  t.equal(classifyTag(kept[0]!), 'video-key', 'restarts at a keyframe when over the bound');
});

t.test('ffmpeg progress blocks are parsed', async (t) => {
  const seen: number[] = [];
  const p = new ProgressParser((b) => seen.push(b.speed, b.fps, b.bitrateKbps, b.outTimeSeconds));
  p.push('frame=60\nfps=29.9\nbitrate=2800.5kbits/s\nout_time_us=2000000\nspe');
  p.push('ed=0.98x\nprogress=continue\n');
  t.same(seen, [0.98, 29.9, 2800.5, 2]);
  p.push('x'.repeat(100000));
  p.push('\nprogress=end\n');
  t.equal(seen.length, 8, 'a junk line is bounded and ignored');
});

t.test('known ffmpeg failures become plain messages', async (t) => {
  t.match(explainFfmpegError("[AVFilterGraph] Unknown encoder 'libx264'"), /no libx264/);
  t.match(explainFfmpegError('av_interleaved_write_frame(): No space left on device'), /disk is full/);
  t.match(explainFfmpegError('pipe:0: Invalid data found when processing input'), /cannot read/);
  t.equal(explainFfmpegError('something new'), undefined);
});

t.test('known ffmpeg failures have codes; the disk ones are told apart by code, not by their words', async (t) => {
  t.equal(classifyFfmpegError('av_interleaved_write_frame(): No space left on device'), 'disk_full');
  t.equal(classifyFfmpegError('/m/live/x/360p/s_1.ts: Permission denied'), 'media_not_writable');
  t.equal(classifyFfmpegError("Unknown encoder 'aac'"), 'no_aac');
  t.equal(classifyFfmpegError('something new'), undefined);
  t.ok(isDiskFailure('disk_full') && isDiskFailure('media_not_writable'));
  t.notOk(isDiskFailure('bad_input') || isDiskFailure(undefined));
  for (const [code, text] of Object.entries(FAILURE_TEXT)) t.ok(text.length > 20, `${code} has words for people`);
});

t.test('the ingest router sends each call to the ingest that owns the publisher', async (t) => {
  const calls: string[] = [];
  const fake = (name: string, ids: string[]): Ingest => ({
    owns: (id) => ids.includes(id),
    meta: (id) => { calls.push(`${name} meta ${id}`); return { videoCodec: 'h264', width: 1, height: 1, fps: 30, videoKbps: 1, audioCodec: 'aac', inBytes: name.length, container: 'flv', via: 'rtmp' }; },
    subscribe: (id) => { calls.push(`${name} subscribe ${id}`); return () => calls.push(`${name} detach ${id}`); },
    kick: (id) => calls.push(`${name} kick ${id}`),
  });
  const router = new IngestRouter([fake('rtmp', ['a']), fake('webrtc', ['b'])]);
  t.equal(router.meta('b')?.inBytes, 6);
  router.subscribe('a', { write: () => undefined })();
  router.kick('b');
  t.equal(router.meta('nobody'), undefined);
  router.kick('nobody');
  t.throws(() => router.subscribe('nobody', { write: () => undefined }), /publish nobody is not live/);
  t.same(calls, ['webrtc meta b', 'rtmp subscribe a', 'rtmp detach a', 'webrtc kick b']);
});

t.test('the RTMP guard refuses to start on a node-media-server without the methods it wraps', async (t) => {
  const { assertGuardable, GUARDED_NMS_VERSION, WRAPPED_METHODS } = await import('../src/ingest/nms-guard.js');
  const { createRequire } = await import('node:module');
  const req = createRequire(import.meta.url);
  const real = req('node-media-server/src/protocol/rtmp.js') as { prototype: Record<string, unknown> };
  const version = (req('node-media-server/package.json') as { version: string }).version;
  t.equal(version, GUARDED_NMS_VERSION, 'the installed node-media-server is the pinned one');
  t.doesNotThrow(() => assertGuardable(real.prototype, version), 'it has every wrapped method');
  const pkg = JSON.parse((await import('node:fs')).readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
  t.equal(pkg.dependencies['node-media-server'], GUARDED_NMS_VERSION, 'package.json pins exactly that version');
  for (const m of WRAPPED_METHODS) {
    const changed = { ...Object.fromEntries(WRAPPED_METHODS.map((x) => [x, () => null])), [m]: undefined };
    t.throws(() => assertGuardable(changed, '5.0.0'), { message: new RegExp(`node-media-server 5\\.0\\.0 has no Rtmp\\.${m}.*npm ci`) }, `a release without ${m} is refused with the fix`);
  }
});
