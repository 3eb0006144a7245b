// The WebRTC ingest's pure parts: the jitter buffer, the RTP frame assemblers, the Matroska writer and the SDP
// helpers. The whole path (werift, ffmpeg, the ladder) is in whip.test.ts.

import t from 'tap';
import { JitterBuffer, type RtpIn } from '../src/ingest/jitter.js';
import { H264Frames, OpusFrames, Vp8Frames, vp8Descriptor, vp8Size } from '../src/ingest/rtp-frames.js';
import { mkvFrame, mkvHeader, opusHead, vint } from '../src/media/mkv.js';
import { advertise, answeredCodecs, checkOffer, fragmentCandidates } from '../src/ingest/sdp.js';
import { RtpToMkv } from '../src/ingest/rtp-mkv.js';
import { avcC, parseSps } from '../src/media/h264.js';

const pkt = (seq: number, ts = 0, marker = false, payload = Buffer.from([seq & 0xff])): RtpIn => ({ seq, ts, marker, payload });
const seqs = (out: ReturnType<JitterBuffer['push']>): (number | string)[] => out.map((o) => (o.t === 'packet' ? o.p.seq : `gap${o.lost}`));

t.test('jitter buffer: reorders, waits for a hole, then gives it up', async (t) => {
  const j = new JitterBuffer(100);
  t.same(seqs(j.push(pkt(10), 0)), [10]);
  t.same(seqs(j.push(pkt(12), 5)), [], '11 missing: 12 waits');
  t.same(seqs(j.push(pkt(11), 20)), [11, 12], 'the late one fills the hole');
  t.same(seqs(j.push(pkt(14), 30)), []);
  t.same(seqs(j.tick(100)), [], 'not yet given up');
  t.same(seqs(j.tick(131)), ['gap1', 14], 'given up after the wait');
  t.same(seqs(j.push(pkt(13), 140)), [], 'too late: dropped');
  t.same(seqs(j.push(pkt(14), 141)), [], 'duplicate of a released one');
  t.equal(j.stats.lost, 1);
  t.equal(j.stats.late, 2);
});

t.test('jitter buffer: sequence numbers wrap at 65536', async (t) => {
  const j = new JitterBuffer(100);
  t.same(seqs(j.push(pkt(65534), 0)), [65534]);
  t.same(seqs(j.push(pkt(0), 1)), []);
  t.same(seqs(j.push(pkt(65535), 2)), [65535, 0]);
  t.same(seqs(j.push(pkt(1), 3)), [1]);
});

t.test('jitter buffer: bounded in packets held', async (t) => {
  const j = new JitterBuffer(10_000, 5);
  j.push(pkt(1), 0);
  for (let s = 3; s <= 6; s += 1) t.same(seqs(j.push(pkt(s), 0)), []);
  t.same(seqs(j.push(pkt(7), 0)), ['gap1', 3, 4, 5, 6, 7], 'the fifth held packet gives up the hole at once');
});

t.test('vp8: descriptor lengths, frame assembly, keyframes, loss', async (t) => {
  t.same(vp8Descriptor(Buffer.from([0x10, 0xaa])), { length: 1, start: true });
  t.same(vp8Descriptor(Buffer.from([0x90, 0x80, 0x81, 0x23, 0xaa])), { length: 4, start: true }, 'X + 15-bit picture id');
  t.same(vp8Descriptor(Buffer.from([0x80, 0xe0, 0x05, 0x01, 0x02, 0xaa])), { length: 5, start: false }, 'I, L, T set; continuation');
  t.equal(vp8Descriptor(Buffer.alloc(0)), undefined);
  const key = Buffer.from([0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01]); // 640x360
  t.same(vp8Size(key), { width: 640, height: 360 });
  t.equal(vp8Size(Buffer.from([0x51, 0, 0, 0, 0, 0, 0, 0, 0, 0])), undefined, 'an interframe has no size');
  const f = new Vp8Frames();
  t.equal(f.push(pkt(1, 90, true, Buffer.concat([Buffer.from([0x10]), Buffer.from([0x51, 1, 2])]))), undefined, 'an interframe before any keyframe is dropped');
  t.equal(f.push(pkt(2, 180, false, Buffer.concat([Buffer.from([0x10]), key.subarray(0, 4)]))), undefined);
  const k = f.push(pkt(3, 180, true, Buffer.concat([Buffer.from([0x00]), key.subarray(4)])));
  t.same(k, { ts: 180, key: true, data: key }, 'two packets make the keyframe');
  const d = f.push(pkt(4, 270, true, Buffer.from([0x10, 0x51, 9])));
  t.same(d, { ts: 270, key: false, data: Buffer.from([0x51, 9]) });
  t.equal(f.push(pkt(5, 300, false, Buffer.alloc(0))), undefined, 'a padding-only packet (bandwidth probe) is skipped');
  t.notOk(f.waitingForKey, 'and does not break the frames around it');
  t.same(f.push(pkt(6, 360, true, Buffer.from([0x10, 0x51, 8]))), { ts: 360, key: false, data: Buffer.from([0x51, 8]) });
  f.gap();
  t.ok(f.waitingForKey, 'after loss the assembler waits for a keyframe');
  t.equal(f.push(pkt(7, 450, true, Buffer.from([0x10, 0x51, 9]))), undefined);
});

t.test('h264: single NAL, STAP-A and FU-A make one access unit', async (t) => {
  // Made by ffmpeg's libx264 (testsrc2 1280x720, baseline).
  const sps = Buffer.from('6742c01fd9005005bb0110000003001000000303c0f1832480', 'hex');
  const pps = Buffer.from('68cb83cb20', 'hex');
  const f = new H264Frames();
  const stap = Buffer.concat([Buffer.from([24]), Buffer.from([0, sps.length]), sps, Buffer.from([0, pps.length]), pps]);
  t.equal(f.push(pkt(1, 0, false, stap)), undefined);
  const idr = Buffer.concat([Buffer.from([0x65]), Buffer.alloc(3000, 7)]);
  t.equal(f.push(pkt(2, 0, false, Buffer.concat([Buffer.from([0x7c, 0x85]), idr.subarray(1, 1500)]))), undefined);
  const au = f.push(pkt(3, 0, true, Buffer.concat([Buffer.from([0x7c, 0x45]), idr.subarray(1500)])));
  t.ok(au?.key, 'an IDR makes a keyframe');
  const lengths: number[] = [];
  for (let i = 0; au && i < au.data.length;) {
    const n = au.data.readUInt32BE(i);
    lengths.push(n);
    i += 4 + n;
  }
  t.same(lengths, [sps.length, pps.length, idr.length], 'length-prefixed NAL units, the FU-A put back whole');
  t.same(f.sps, sps);
  const info = parseSps(sps);
  t.same(info, { profile: 66, width: 1280, height: 720 });
  t.same(parseSps(Buffer.from('6764001eacd940a02ff970110000030001000003003c0f162d96', 'hex')), { profile: 100, width: 640, height: 360 }, 'High, cropped to 360 lines');
  t.throws(() => parseSps(Buffer.from('6764', 'hex')), /ended early/);
  const rec = avcC(sps, pps);
  t.equal(rec[0], 1);
  t.equal(rec[1], 66);
  t.equal(rec.readUInt16BE(6), sps.length);
  t.equal(f.push(pkt(5, 3000, true, Buffer.from([0x7c, 0x41, 1, 2]))), undefined, 'an FU-A end without its start is dropped');
  t.ok(f.waitingForKey);
  t.same(new OpusFrames().push(pkt(1, 960, true, Buffer.from([1, 2]))), { ts: 960, key: true, data: Buffer.from([1, 2]) });
});

t.test('matroska: sizes, header and frame elements', async (t) => {
  t.same(vint(0), Buffer.from([0x80]));
  t.same(vint(126), Buffer.from([0xfe]));
  t.same(vint(127), Buffer.from([0x40, 0x7f]), '127 is all ones in one byte (unknown size): two bytes');
  t.same(vint(300), Buffer.from([0x41, 0x2c]));
  const h = mkvHeader([{ number: 1, kind: 'video', codec: 'vp8', width: 640, height: 360 }, { number: 2, kind: 'audio', codec: 'opus', channels: 2 }]);
  t.same(h.subarray(0, 4), Buffer.from([0x1a, 0x45, 0xdf, 0xa3]), 'EBML');
  t.ok(h.includes(Buffer.from('V_VP8')) && h.includes(Buffer.from('A_OPUS')) && h.includes(opusHead(2)));
  const f = mkvFrame(1, 1234, true, Buffer.from([9, 9]));
  t.same(f.subarray(0, 4), Buffer.from([0x1f, 0x43, 0xb6, 0x75]), 'a cluster');
  t.same(f.subarray(-6), Buffer.from([0x81, 0, 0, 0x80, 9, 9]), 'track 1, relative time 0, keyframe flag, the data');
});

t.test('rtp to matroska: header at the first keyframe, times from each RTP clock, a GOP for late subscribers', async (t) => {
  const units: { kind: string; ts: number }[] = [];
  let plis = 0;
  const m = new RtpToMkv('vp8', true, (u) => units.push({ kind: u.kind, ts: u.ts }), () => { plis += 1; }, 1000);
  m.push('audio', pkt(1, 0, true, Buffer.from([1])), 1000);
  t.same(units, [], 'audio before the first keyframe is dropped');
  const key = Buffer.from([0x10, 0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01]);
  m.push('video', pkt(100, 9000, true, key), 1100);
  m.push('audio', pkt(2, 960, true, Buffer.from([1])), 1110);
  m.push('video', pkt(101, 12000, true, Buffer.from([0x10, 0x51, 1])), 1133);
  t.same(units.map((u) => u.kind), ['header', 'video-key', 'audio', 'video']);
  t.same(units.map((u) => u.ts), [0, 100, 110, 133], 'video 3000 ticks = 33 ms after its first frame; audio from its own first');
  t.same(m.size, { width: 640, height: 360 });
  t.same(m.snapshot().map((u) => u.kind), ['header', 'video-key', 'audio', 'video']);
  m.push('video', pkt(103, 15000, true, Buffer.from([0x10, 0x51, 1])), 1200);
  m.tick(1400);
  t.equal(plis, 1, 'a lost packet asks for a keyframe');
  t.equal(m.stats.video.lost, 1);
  m.push('video', pkt(104, 18000, true, Buffer.from([0x10, 0x51, 1])), 1401);
  t.equal(units.length, 4, 'interframes after the loss wait for a keyframe (none is written)');
});

const OFFER = ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=rtpmap:111 opus/48000/2',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97', 'a=ice-ufrag:abcd', 'a=ice-pwd:0123456789abcdef012345', 'a=fingerprint:sha-256 AA:BB', 'a=rtpmap:96 VP8/90000', 'a=rtpmap:97 H264/90000', ''].join('\r\n');

t.test('sdp: offers checked with a reason, codecs of the answer, the advertised address, trickle fragments', async (t) => {
  t.same(checkOffer(OFFER), { ok: true });
  t.match(checkOffer(''), { ok: false, reason: /empty/ });
  t.match(checkOffer('hello'), { ok: false, reason: /not an SDP offer/ });
  t.match(checkOffer(OFFER.replace(/m=video[^]*$/, '')), { ok: false, reason: /no video/ });
  t.match(checkOffer(OFFER.replace(/VP8|H264/g, 'AV1X')), { ok: false, reason: /VP8, VP9 or H.264/ });
  t.match(checkOffer(OFFER + 'a=x:' + 'y'.repeat(70000)), { ok: false, reason: /larger than/ });
  t.match(checkOffer(OFFER.replace('a=fingerprint:sha-256 AA:BB\r\n', '')), { ok: false, reason: /fingerprint/ });
  t.same(answeredCodecs(OFFER.replace('SAVPF 96 97', 'SAVPF 97 96')), { audio: 'opus', video: 'h264' });
  t.same(answeredCodecs(OFFER.replace('m=video 9', 'm=video 0')), { audio: 'opus' }, 'a rejected track has no codec');
  const answer = 'v=0\r\na=candidate:1 1 udp 2130706431 10.0.0.5 40001 typ host\r\na=candidate:2 1 udp 1694498815 1.2.3.4 40001 typ srflx raddr 10.0.0.5 rport 40001\r\n';
  const out = advertise(answer, '203.0.113.7');
  t.match(out, /a=candidate:19 1 udp 2130706430 203\.0\.113\.7 40001 typ host\r\n/);
  t.equal(out.match(/typ host/g)?.length, 2, 'only host candidates get a public twin');
  t.equal(advertise(answer, undefined), answer);
  t.same(fragmentCandidates('a=ice-ufrag:xyz\r\na=candidate:1 1 udp 1 1.2.3.4 5 typ host\r\n'), { candidates: ['candidate:1 1 udp 1 1.2.3.4 5 typ host'], ufrag: 'xyz' });
});

t.test('a browser source: never passed through, every rung counted; REMB fields; the frame rate from the RTP clock', async (t) => {
  const { planLadder, pixelRate } = await import('../src/transcode/ladder.js');
  const { sourceRefusal } = await import('../src/live/source.js');
  const { rembFields } = await import('../src/ingest/webrtc.js');
  const vp8 = { videoCodec: 'vp8' as const, width: 1280, height: 720, fps: 30, audioCodec: 'opus' as const, container: 'mkv' as const, via: 'whip' as const, keyframeInterval: 2 };
  const plan = planLadder(vp8, { profile: ['720p', '360p'], segmentSeconds: 2 });
  t.same(plan.rungs.map((r) => [r.name, r.copy]), [['720p', false], ['360p', false]], 'VP8 is decoded and encoded on every rung');
  t.equal(pixelRate(plan.rungs), 1280 * 720 * 30 + 640 * 360 * 30, 'the budget counts the top rung');
  t.equal(plan.audio, 'aac', 'Opus becomes AAC once');
  t.equal(plan.input, 'mkv');
  const h264 = planLadder({ ...vp8, videoCodec: 'h264' }, { profile: ['720p', '360p'], segmentSeconds: 2 });
  t.equal(h264.rungs[0]!.copy, true, 'H.264 over WebRTC (OBS) may be passed through');
  t.equal(sourceRefusal(vp8), undefined, 'VP8 is taken');
  t.equal(sourceRefusal({ ...vp8, videoCodec: 'vp9' }), undefined, 'VP9 is taken');
  const f = rembFields(3_000_000);
  t.ok(f.brMantissa <= 0x3ffff);
  t.equal(f.brMantissa * 2 ** f.brExp, 3_000_000, '3 Mbit/s as 187500 × 2^4');
  const m = new RtpToMkv('vp8', false, () => {}, () => {}, 0);
  const key = Buffer.from([0x10, 0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01]);
  m.push('video', pkt(1, 0, true, key), 0);
  for (let i = 2; i <= 40; i += 1) m.push('video', pkt(i, (i - 1) * 3600, true, Buffer.from([0x10, 0x51, 1])), i * 40);
  t.equal(m.fps(), 25, '3600 ticks a frame is 25 fps, whatever the arrival jitter');
});
