// The top rung's pass-or-encode decision: its arithmetic as table tests, and how class planning applies it
// (the budget counts an encoded top rung; a box without room passes it through).
import t from 'tap';
import { decideTopRung, ENCODED_SHARE, type TopRungFacts } from '../src/transcode/top-rung.js';
import { planClass, type Expectation } from '../src/live/admission.js';
import { encodeQuality } from '../src/transcode/quality.js';
import type { SourceInfo } from '../src/transcode/ladder.js';

const facts = (over: Partial<TopRungFacts> = {}): TopRungFacts => ({
  profile: 'lecture', sourceKbps: 2500, width: 1280, height: 720, fps: 30, audience: 2000, audienceFrom: 'roster', minutes: 60,
  cdnPerGb: 0.085, boxPerMonth: 60, cores: 2, ...over,
});

t.test('the arithmetic: egress saved against the encode\'s share of the box', async (t) => {
  const d = decideTopRung(facts());
  // 2000 learners × 3600 s × 2500 kbit/s × 0.7 / 8 = 1,575 GB; at $0.085 = $133.88. CPU: 0.6912 core × 1 h × $60/(2×730) = $0.0284.
  t.equal(Math.round(d.savedGb), 1575);
  t.equal(Math.round(d.egressSaved * 100), 13388);
  t.equal(Math.round(d.cpuCost * 10000), 284);
  t.equal(d.encode, true);
  t.match(d.reason, /^top rung encoded: 2000 learners expected \(roster\) × 60 min: encoding saves 1575\.0 GB \(\$133\.88 at \$0\.085\/GB\) for \$0\.028 of CPU \(0\.69 core\)$/);
  t.equal(ENCODED_SHARE.lecture, 0.3);
});

t.test('table: who is worth encoding for', async (t) => {
  const cases: [string, Partial<TopRungFacts>, boolean][] = [
    ['a big lecture', {}, true],
    ['one learner still pays for 0.69 core at $60 a month', { audience: 1 }, true],
    ['no audience known: pass through', { audience: 0, audienceFrom: 'none' }, false],
    ['egress in the box price ($0/GB): pass through', { cdnPerGb: 0 }, false],
    ['motion gains nothing by re-encoding', { profile: 'motion' }, false],
    ['an expensive box and a tiny audience', { audience: 1, boxPerMonth: 50_000, minutes: 10 }, false],
  ];
  for (const [what, over, want] of cases) t.equal(decideTopRung(facts(over)).encode, want, what);
  t.equal(decideTopRung(facts({ audience: 0, audienceFrom: 'none' })).reason, 'top rung passed through: no audience known yet (no course roster, no past class on this channel)');
});

const source: SourceInfo = { videoCodec: 'h264', width: 1280, height: 720, fps: 30, audioCodec: 'aac', keyframeInterval: 2, videoKbps: 2500 };
const channel = { ladder: ['720p', '360p'] as ('720p' | '360p')[], latency: 'standard' as const, overflow: 'degrade' as const };
const expect: Expectation = { audience: 300, audienceFrom: 'past classes', minutes: 45, cdnPerGb: 0.085, boxPerMonth: 60, cores: 2 };

t.test('class planning applies the decision and counts an encoded top rung in the budget', async (t) => {
  const big = planClass(source, channel, 1e12, { muxAvailable: false, encode: encodeQuality('lecture'), expect });
  t.equal(big.kind, 'local');
  if (big.kind !== 'local') return;
  t.equal(big.plan.rungs[0]?.copy, false, 'worth it: the top rung is encoded');
  t.equal(big.top?.encode, true);
  t.match(big.top?.reason, /300 learners expected \(past classes\) × 45 min/);

  const motion = planClass(source, channel, 1e12, { muxAvailable: false, encode: encodeQuality('motion'), expect });
  t.equal(motion.kind === 'local' && motion.plan.rungs[0]?.copy, true, 'motion: passed through');

  // Room for the 360p rung and not for encoding 720p too (27.6 M + 6.9 M pixels/s).
  const tight = planClass(source, channel, 20_000_000, { muxAvailable: false, encode: encodeQuality('lecture'), expect });
  t.equal(tight.kind === 'local' && tight.plan.rungs.length, 2, 'the whole ladder still runs');
  t.equal(tight.kind === 'local' && tight.plan.rungs[0]?.copy, true, 'no room to encode it: passed through');
  t.match(tight.kind === 'local' ? tight.top?.reason : '', /^top rung passed through: encoding it does not fit the transcode budget/);

  const unknown = planClass(source, channel, 1e12, { muxAvailable: false, encode: encodeQuality('lecture') });
  t.equal(unknown.kind === 'local' && unknown.plan.rungs[0]?.copy, true, 'nothing expected: as before, passed through');
  t.equal(unknown.kind === 'local' ? unknown.top : 'x', undefined);

  const unaligned = planClass({ ...source, keyframeInterval: 3 }, channel, 1e12, { muxAvailable: false, encode: encodeQuality('lecture'), expect });
  t.equal(unaligned.kind === 'local' ? unaligned.top : 'x', undefined, 'nothing to decide when the top rung cannot be passed through');
});

t.test('with the stage\'s picture composed, the top rung is always encoded, and the decision says why', async (t) => {
  const motion = planClass(source, channel, 1e12, { muxAvailable: false, encode: encodeQuality('motion'), expect, composeStage: true });
  t.equal(motion.kind === 'local' && motion.plan.rungs[0]?.copy, false, 'motion, which would pass it through: encoded');
  t.match(motion.kind === 'local' ? motion.top?.reason : '', /^top rung encoded: the stage's picture is laid over it \(stage\.picture\); 300 learners expected/);
  t.equal(motion.kind === 'local' && motion.top?.encode, true);
  const unknown = planClass(source, channel, 1e12, { muxAvailable: false, encode: encodeQuality('lecture'), composeStage: true });
  t.equal(unknown.kind === 'local' && unknown.plan.rungs[0]?.copy, false, 'nothing expected: encoded all the same');
  // The budget counts the encoded top rung: room for 360p only drops 720p rather than passing it through.
  const tight = planClass(source, channel, 20_000_000, { muxAvailable: false, encode: encodeQuality('lecture'), expect, composeStage: true });
  t.same(tight.kind === 'local' && tight.plan.rungs.map((r) => `${r.name}${r.copy ? ' copy' : ''}`), ['360p'], 'a full box: the ladder reduced, no rung copied');
});
