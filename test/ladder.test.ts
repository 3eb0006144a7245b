import t from 'tap';
import { encodeQuality } from '../src/transcode/quality.js';
import { keyframesAligned, pixelRate, planLadder, type SourceInfo } from '../src/transcode/ladder.js';
import { admit, defaultBudget, PIXELS_PER_CORE } from '../src/live/admission.js';

const src = (o: Partial<SourceInfo> = {}): SourceInfo => ({ videoCodec: 'h264', width: 1280, height: 720, fps: 30, audioCodec: 'aac', ...o });
const profile = ['1080p', '720p', '480p', '360p'] as const;

t.test('the ladder never goes above the source resolution', async (t) => {
  t.same(planLadder(src(), { profile: [...profile], segmentSeconds: 2 }).rungs.map((r) => r.name), ['720p', '480p', '360p']);
  t.same(planLadder(src({ width: 1920, height: 1080 }), { profile: [...profile], segmentSeconds: 2 }).rungs.map((r) => r.name), ['1080p', '720p', '480p', '360p']);
  const tiny = planLadder(src({ width: 320, height: 240 }), { profile: [...profile], segmentSeconds: 2 });
  t.same(tiny.rungs.map((r) => [r.name, r.width, r.height]), [['360p', 320, 240]], 'a source below every rung keeps its own size');
});

t.test('widths follow the source aspect ratio and are even', async (t) => {
  const r = planLadder(src({ width: 1440, height: 1080 }), { profile: ['720p', '480p'], segmentSeconds: 2 }).rungs;
  t.same(r.map((x) => [x.width, x.height]), [[960, 720], [640, 480]]);
});

t.test('the top rung is copied only for aligned H.264 at the top rung size', async (t) => {
  t.ok(planLadder(src({ keyframeInterval: 2 }), { profile: [...profile], segmentSeconds: 2 }).rungs[0]?.copy);
  t.ok(planLadder(src({ keyframeInterval: 1 }), { profile: [...profile], segmentSeconds: 2 }).rungs[0]?.copy, '1 s keyframes also land on 2 s boundaries');
  t.notOk(planLadder(src({ keyframeInterval: 2 }), { profile: [...profile], segmentSeconds: 1 }).rungs[0]?.copy, '2 s keyframes miss 1 s boundaries');
  t.notOk(planLadder(src({ keyframeInterval: 3 }), { profile: [...profile], segmentSeconds: 2 }).rungs[0]?.copy);
  t.notOk(planLadder(src({ keyframeInterval: 2, videoCodec: 'other' }), { profile: [...profile], segmentSeconds: 2 }).rungs[0]?.copy);
  t.notOk(planLadder(src({ keyframeInterval: 2, height: 800, width: 1422 }), { profile: [...profile], segmentSeconds: 2 }).rungs[0]?.copy, 'a 800p source must be scaled to 720p');
  t.ok(keyframesAligned(src({ keyframeInterval: 2.0 }), 4));
  t.notOk(keyframesAligned(src({}), 2), 'unknown keyframe spacing is not aligned');
});

t.test('audio: a lecture\'s AAC re-encoded at 96 kbit/s, motion\'s copied, other codecs encoded once, absent when absent', async (t) => {
  const lecture = planLadder(src(), { profile: ['360p'], segmentSeconds: 2 });
  t.match(lecture, { audio: 'aac', audioKbps: 96 }, 'lecture (the default): speech re-encoded smaller than OBS\'s 160 kbit/s');
  const motion = planLadder(src(), { profile: ['360p'], segmentSeconds: 2, encode: encodeQuality('motion') });
  t.match(motion, { audio: 'copy' }, 'motion: the publisher\'s AAC as sent');
  t.match(planLadder(src({ audioCodec: 'other' }), { profile: ['360p'], segmentSeconds: 2, encode: encodeQuality('motion') }), { audio: 'aac', audioKbps: 128 });
  t.equal(planLadder(src({ audioCodec: 'other' }), { profile: ['360p'], segmentSeconds: 2 }).audio, 'aac');
  t.equal(planLadder(src({ audioCodec: 'none' }), { profile: ['360p'], segmentSeconds: 2 }).audio, 'none');
});

t.test('a budget drops rungs from the top; copied rungs cost nothing', async (t) => {
  const full = planLadder(src({ width: 1920, height: 1080 }), { profile: [...profile], segmentSeconds: 2 });
  const cost = pixelRate(full.rungs);
  t.equal(cost, (1920 * 1080 + 1280 * 720 + 854 * 480 + 640 * 360) * 30);
  const cut = planLadder(src({ width: 1920, height: 1080 }), { profile: [...profile], segmentSeconds: 2, budget: cost - 1 });
  t.same(cut.rungs.map((r) => r.name), ['720p', '480p', '360p']);
  t.same(cut.dropped, ['1080p']);
  const copied = planLadder(src({ keyframeInterval: 2 }), { profile: [...profile], segmentSeconds: 2 });
  t.equal(pixelRate(copied.rungs), (854 * 480 + 640 * 360) * 30);
  const floor = planLadder(src(), { profile: [...profile], segmentSeconds: 2, budget: 1 });
  t.same(floor.rungs.map((r) => r.name), ['360p'], 'at least one rung is kept; admission decides whether it may run');
});

t.test('admission: full, degrade or refuse by policy', async (t) => {
  t.same(admit('degrade', 100, 50, 10), { kind: 'full', budget: 100 });
  t.match(admit('degrade', 40, 50, 10), { kind: 'degrade', budget: 40 });
  t.match(admit('mux', 40, 50, 10), { kind: 'degrade', note: /Mux is not configured/ });
  t.match(admit('refuse', 40, 50, 10), { kind: 'refuse', reason: /overflow policy: refuse/ });
  t.match(admit('degrade', 5, 50, 10), { kind: 'refuse', reason: /not even the smallest rung/ });
  t.equal(defaultBudget(0, 2), 2 * PIXELS_PER_CORE);
  t.equal(defaultBudget(123, 2), 123);
});
