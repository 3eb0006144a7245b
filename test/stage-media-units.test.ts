// The stage's pure parts: the PCM mix, the class's media clock and the stage's input kept ahead of the class's media,
// the slot plan, the member's offer check, the Opus decoder (libopus in WebAssembly) on real Opus packets.
import t from 'tap';
import { PassThrough } from 'node:stream';
import OpusScript from 'opusscript';
import { MAX_QUEUE_MS, MIX_RATE, PcmMix } from '../src/media/pcm-mix.js';
import { LEAD_MS, MediaClock, StageAudioFeed } from '../src/transcode/stage-audio.js';
import { slotPlan } from '../src/ingest/stage-slots.js';
import { checkStageOffer } from '../src/ingest/sdp.js';
import { OpusDecoder } from '../src/media/opus.js';
import type { MediaUnit } from '../src/media/sink.js';

const pcm = (n: number, v: number): Int16Array => new Int16Array(n).fill(v);

t.test('the mix sums voices, clips, pads with silence', async (t) => {
  const m = new PcmMix();
  t.same([...m.take(4)], [0, 0, 0, 0], 'nobody: silence');
  m.push('a', pcm(3, 1000));
  m.push('b', pcm(2, 30000));
  m.push('b', pcm(2, 30000));
  t.equal(m.active, 2);
  t.same([...m.take(5)], [31000, 31000, 31000, 30000, 0], 'summed sample by sample, clipped at 32767 only when over; silence after');
  m.push('a', pcm(2, 20000));
  m.push('b', pcm(2, 20000));
  t.same([...m.take(2)], [32767, 32767], 'clipped');
  m.push('c', pcm(2, -20000));
  m.push('d', pcm(2, -20000));
  t.same([...m.take(2)], [-32768, -32768], 'clipped below');
  m.push('a', pcm(10, 5));
  m.remove('a');
  t.same([...m.take(3)], [0, 0, 0], 'a member that left is not heard');
  t.equal(m.active, 0);
});

t.test('a voice that runs ahead loses its oldest samples, never more than MAX_QUEUE_MS waits', async (t) => {
  const m = new PcmMix();
  const max = (MIX_RATE * MAX_QUEUE_MS) / 1000;
  for (let i = 0; i < 30; i += 1) m.push('a', pcm(960, i)); // 600 ms in 20 ms packets
  t.equal(m.dropped, 30 * 960 - max, 'the excess is dropped and counted');
  const out = m.take(max + 10);
  t.equal(out[0], 30 - max / 960, 'what is kept is the newest audio');
  t.equal(out[max - 1], 29);
  t.equal(out[max], 0, 'then silence');
});

const unit = (kind: MediaUnit['kind'], ts: number): MediaUnit => ({ format: 'flv', kind, ts, data: Buffer.alloc(1) });

t.test('the class\'s media clock', async (t) => {
  const c = new MediaClock();
  t.equal(c.advance(unit('header', 0)), 0, 'headers do not count');
  t.equal(c.advance(unit('video-key', 5000)), 0, 'the first unit sets the start, whatever its timestamp');
  t.equal(c.advance(unit('audio', 5021)), 21);
  t.equal(c.advance(unit('video', 5033)), 33);
  t.equal(c.advance(unit('audio', 5030)), 33, 'audio a little behind video: no step back');
  t.equal(c.advance(unit('video', 9000)), 33, 'a jump of seconds (a new publisher) is not time passing');
  t.equal(c.advance(unit('video', 9033)), 66);
  t.equal(c.advance(unit('video', 0)), 66, 'timestamps begin again');
  t.equal(c.advance(unit('video', 40)), 106);
});

t.test('the stage input is written LEAD_MS ahead of the class\'s media, in step with it', async (t) => {
  const out = new PassThrough();
  let bytes = 0;
  out.on('data', (b: Buffer) => { bytes += b.length; });
  let asked = 0;
  const feed = new StageAudioFeed(out, { take: (n) => { asked += n; return new Int16Array(n).fill(7); } });
  const seen: MediaUnit[] = [];
  const sink = feed.wrap({ write: (u) => seen.push(u) });
  sink.write(unit('header', 0));
  t.equal(asked, (LEAD_MS * MIX_RATE) / 1000, 'the lead is written at once');
  sink.write(unit('video-key', 1000));
  sink.write(unit('video', 3000)); // a held GOP handed over at once: 2 s of media
  t.equal(asked, ((2000 + LEAD_MS) * MIX_RATE) / 1000, 'a burst of media is matched at once (the ladder never waits for the stage)');
  sink.write(unit('audio', 3020));
  t.equal(asked, ((2020 + LEAD_MS) * MIX_RATE) / 1000);
  t.equal(seen.length, 4, 'every unit passed on');
  await new Promise((r) => setImmediate(r));
  t.equal(bytes, asked * 2, '16-bit samples');
  out.destroy();
  sink.write(unit('audio', 4000));
  t.ok(feed.droppedBytes > 0, 'a gone ffmpeg: counted, not thrown');
});

t.test('slots keep their member; free slots take the next', async (t) => {
  let plan = slotPlan([{ id: 'a', slots: [undefined, undefined] }, { id: 'b', slots: [undefined, undefined] }, { id: 'c', slots: [undefined, undefined] }]);
  t.same(plan.get('a'), ['b', 'c']);
  t.same(plan.get('c'), ['a', 'b']);
  plan = slotPlan([{ id: 'a', slots: ['b', 'c'] }, { id: 'c', slots: ['a', 'b'] }]);
  t.same(plan.get('a'), [undefined, 'c'], 'b left: c stays in its slot (no jump)');
  plan = slotPlan([{ id: 'a', slots: [undefined, 'c'] }, { id: 'c', slots: ['a', undefined] }, { id: 'd', slots: [undefined] }]);
  t.same(plan.get('a'), ['d', 'c'], 'a newcomer takes the free slot');
  t.same(plan.get('d'), ['a'], 'one slot: the first member only');
  t.same(slotPlan([{ id: 'a', slots: ['a', 'x'] }]).get('a'), [undefined, undefined], 'never oneself, never someone gone');
});

t.test('a stage member\'s offer', async (t) => {
  const head = 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=ice-ufrag:x\r\na=fingerprint:sha-256 AA\r\n';
  const audio = (dir: string): string => `m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=${dir}\r\n`;
  const video = (dir: string): string => `m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\na=${dir}\r\n`;
  t.same(checkStageOffer(head + audio('sendonly') + audio('recvonly') + video('recvonly'), 5), { ok: true }, 'a microphone and one slot');
  t.same(checkStageOffer(head + audio('sendonly') + video('sendonly') + audio('recvonly') + video('recvonly'), 5), { ok: true }, 'with a camera');
  t.match(checkStageOffer(head + audio('recvonly') + video('recvonly'), 5), { ok: false, reason: /one microphone/ }, 'nothing to send');
  t.match(checkStageOffer(head + audio('sendonly') + audio('sendonly'), 5), { ok: false, reason: /one microphone/ });
  t.match(checkStageOffer(head + audio('sendonly') + video('sendonly') + video('sendrecv'), 5), { ok: false, reason: /more than one camera/ });
  t.match(checkStageOffer(head + audio('sendonly') + (audio('recvonly') + video('recvonly')).repeat(3), 2), { ok: false, reason: /more than 2 receive slots/ });
  t.match(checkStageOffer('', 5), { ok: false, reason: /empty/ });
  t.match(checkStageOffer('hello', 5), { ok: false, reason: /not an SDP/ });
  t.match(checkStageOffer('v=0\r\n' + 'a'.repeat(70000), 5), { ok: false, reason: /larger than/ });
  t.match(checkStageOffer('v=0\r\n' + audio('sendonly'), 5), { ok: false, reason: /ICE credentials/ });
  t.match(checkStageOffer(head + 'm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\n', 5), { ok: false, reason: /no Opus/ });
});

t.test('the Opus decoder: a real packet back to 20 ms of the same tone; garbage is empty, not a throw', async (t) => {
  const enc = new OpusScript(48000, 1, OpusScript.Application.VOIP);
  t.teardown(() => enc.delete());
  const dec = new OpusDecoder();
  t.teardown(() => dec.close());
  let peak = 0;
  for (let k = 0; k < 5; k += 1) {
    const frame = Buffer.alloc(960 * 2);
    for (let i = 0; i < 960; i += 1) frame.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 1000 * (k * 960 + i)) / 48000)), i * 2);
    const out = dec.decode(enc.encode(frame, 960));
    t.equal(out.length, 960, '20 ms at 48 kHz');
    peak = Math.max(peak, ...out.map(Math.abs));
  }
  t.ok(peak > 5000 && peak < 10000, `the tone comes back at its level (peak ${peak})`);
  t.equal(dec.decode(Buffer.alloc(0)).length, 0);
  t.equal(dec.decode(Buffer.from([0xff, 0xff, 0xff])).length >= 0, true, 'a bad packet does not throw');
  dec.close();
  t.equal(dec.decode(Buffer.from([1, 2, 3])).length, 0, 'closed: nothing');
});
