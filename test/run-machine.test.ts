// The class run's decisions as a pure function: every event in every phase, and the transitions one by one.

import t from 'tap';
import { initialModel, mayClaim, step, type RunEvent, type RunModel, type RunPhase } from '../src/live/run-machine.js';
import type { Channel } from '../src/domain/channel.js';
import type { SourceInfo } from '../src/transcode/ladder.js';
import { encodeQuality } from '../src/transcode/quality.js';

const channel = (over: Partial<Channel> = {}): Channel => ({
  id: 1, slug: 'math', title: 'Math', ladder: ['720p', '360p'], latency: 'standard', record: true, archive: false, overflow: 'degrade',
  allowGuests: false, startsAt: null, public: true, createdAt: '', updatedAt: '', ...over,
});
const h264: SourceInfo = { videoCodec: 'h264', width: 1280, height: 720, fps: 30, audioCodec: 'aac', videoKbps: 2500 };
const hevc: SourceInfo = { ...h264, videoCodec: 'hevc' };
const BIG = 1e12;

const PHASES: RunPhase[] = ['admitted', 'starting', 'live', 'reconnecting', 'ending', 'ended'];
const EVENTS: RunEvent[] = [
  { t: 'begin' },
  { t: 'source_known', source: h264, free: BIG, muxAvailable: false },
  { t: 'start_failed', message: 'boom' },
  { t: 'mux_ready', target: 'rtmp://mux/app/k', playbackId: 'pb' },
  { t: 'mux_unavailable', free: BIG },
  { t: 'relay_gave_up', reason: 'refused', source: h264, free: BIG },
  { t: 'carrier_started' },
  { t: 'claimed', publisher: 'p2', how: 'reconnect', silentMs: 0 },
  { t: 'resume', publisher: 'p2' },
  { t: 'dropped', publisher: 'p1' },
  { t: 'publisher_ended', publisher: 'p1' },
  { t: 'end_asked', reason: 'bye' },
  { t: 'finish' },
  { t: 'outputs_closed', published: true },
  { t: 'kept', ok: true },
];
const STARTS = new Set(['start_local', 'start_relay', 'restart_outputs', 'find_mux', 'hold_and_probe']);

function model(phase: RunPhase, over: Partial<RunModel> = {}): RunModel {
  const ending = phase === 'ending' || phase === 'ended';
  return { ...initialModel(channel(), 'p1'), phase, ...(ending ? { endAsked: 'bye' } : {}), ...over };
}

t.test('every event in every phase: nothing throws, ended absorbs everything, and nothing starts once an end is asked', async (t) => {
  let cases = 0;
  for (const phase of PHASES) {
    for (const withEnd of [false, true]) {
      for (const e of EVENTS) {
        const m = model(phase, withEnd ? { endAsked: 'bye' } : {});
        const s = step(m, e);
        cases += 1;
        if (phase === 'ended') {
          t.equal(s.model.phase, 'ended', `ended stays ended on ${e.t}`);
          t.notOk(s.effects.some((f) => f.t === 'announce' || f.t === 'announce_ended' || STARTS.has(f.t)), `nothing announced or started after the end (${e.t})`);
        }
        if (m.endAsked) {
          t.notOk(s.effects.some((f) => STARTS.has(f.t)), `${phase} + end asked: ${e.t} starts nothing`);
        }
        if (s.model.phase === 'ending' && phase !== 'ending') t.equal(e.t, 'finish', 'only the finish step begins the end');
        if (s.model.phase === 'ended' && phase !== 'ended') t.ok(e.t === 'outputs_closed' || e.t === 'kept', 'only closing ends the class');
      }
    }
  }
  t.equal(cases, PHASES.length * 2 * EVENTS.length);
});

t.test('begin: admitted → starting, holding the media and probing; a second begin does nothing', async (t) => {
  const s = step(model('admitted'), { t: 'begin' });
  t.equal(s.model.phase, 'starting');
  t.ok(s.effects.some((f) => f.t === 'hold_and_probe'));
  t.same(step(s.model, { t: 'begin' }).effects, []);
});

t.test('source known: an H.264 source that fits starts the full ladder; HEVC is refused with a reason', async (t) => {
  const s = step(model('starting'), { t: 'source_known', source: h264, free: BIG, muxAvailable: false });
  t.equal(s.model.carrier, 'local');
  t.same(s.model.plan?.rungs.map((r) => r.name), ['720p', '360p']);
  t.same(s.effects.map((f) => f.t), ['record_source', 'start_local']);
  const r = step(model('starting'), { t: 'source_known', source: hevc, free: BIG, muxAvailable: false });
  t.same(r.effects.map((f) => f.t), ['log', 'kick', 'request_end']);
  t.match(r.effects.at(-1), { t: 'request_end', reason: /^refused: the publisher sends HEVC/ });
  t.same(step(s.model, { t: 'source_known', source: h264, free: BIG, muxAvailable: false }).effects, [], 'planned once');
});

t.test('the ladder is planned with the channel\'s encoding profile and the box\'s CRF, also when it degrades', async (t) => {
  const motion = encodeQuality('motion', { lecture: 27, motion: 20 });
  const start = { ...initialModel(channel(), 'p1', motion), phase: 'starting' as const };
  const s = step(start, { t: 'source_known', source: h264, free: BIG, muxAvailable: false });
  t.same(s.model.plan?.encode, { profile: 'motion', crf: 20, tune: null, audioKbps: null });
  const reduced = step(start, { t: 'source_known', source: h264, free: 10_000_000, muxAvailable: false });
  t.equal(reduced.model.plan?.encode.crf, 20, 'a reduced ladder keeps the profile');
  const plain = step(model('starting'), { t: 'source_known', source: h264, free: BIG, muxAvailable: false });
  t.same(plain.model.plan?.encode, { profile: 'lecture', crf: 26, tune: 'stillimage', audioKbps: 96 }, 'without one: the lecture default');
  t.same(plain.model.plan?.rungs.map((r) => r.videoKbps), [2500, 800], 'no rung above the source\'s 2,500 kbit/s');
});

t.test('the top rung decided by cost: the reason becomes a note and a log line; a later re-plan keeps the expectation', async (t) => {
  const aligned = { ...h264, keyframeInterval: 2 };
  const expect = { audience: 500, audienceFrom: 'roster' as const, minutes: 50, cdnPerGb: 0.085, boxPerMonth: 60, cores: 2 };
  const s = step(model('starting'), { t: 'source_known', source: aligned, free: BIG, muxAvailable: false, expect });
  t.equal(s.model.plan?.rungs[0]?.copy, false);
  t.match(s.model.notes.at(-1), /^top rung encoded: 500 learners expected \(roster\) × 50 min/);
  t.match(s.effects[0], { t: 'log', msg: 'top rung decided by cost' });
  t.same(s.model.expect, expect);
  t.match(s.effects.find((f) => f.t === 'record_source'), { topRung: /^top rung encoded: 500 learners/ }, 'kept with the session');
  const none = step(model('starting'), { t: 'source_known', source: aligned, free: BIG, muxAvailable: false });
  t.equal(none.model.plan?.rungs[0]?.copy, true, 'without an expectation: passed through as before');
  t.same(none.model.notes, []);
});

t.test('capacity: a full box degrades, refuses or goes to Mux by the channel policy', async (t) => {
  const free = 10_000_000; // fits the 360p rung only
  const deg = step(model('starting'), { t: 'source_known', source: h264, free, muxAvailable: false });
  t.same(deg.model.plan?.rungs.map((r) => r.name), ['360p']);
  t.match(deg.model.notes.join(' '), /ladder reduced \(overflow policy: degrade\); dropped 720p/);
  const ref = step(model('starting', { channel: channel({ overflow: 'refuse' }) }), { t: 'source_known', source: h264, free, muxAvailable: false });
  t.match(ref.effects.at(-1), { t: 'request_end', reason: /refused: the box is at its transcode capacity \(overflow policy: refuse\)/ });
  const named = step(model('starting', { channel: channel({ overflow: 'refuse' }) }), { t: 'source_known', source: h264, free, muxAvailable: false, elsewhere: 'box live-2 has room: push to rtmp://live-2:1935/live' });
  t.match(named.effects.at(-1), { t: 'request_end', reason: /overflow policy: refuse\); box live-2 has room: push to rtmp:\/\/live-2:1935\/live$/ }, 'on a shared store the refusal names a box with room');
  const degNamed = step(model('starting'), { t: 'source_known', source: h264, free, muxAvailable: false, elsewhere: 'box live-2 has room: push to rtmp://live-2:1935/live' });
  t.same(degNamed.model.plan?.rungs.map((r) => r.name), ['360p'], 'a class that fits runs here though another box has room');
  const mux = step(model('starting', { channel: channel({ overflow: 'mux' }) }), { t: 'source_known', source: h264, free, muxAvailable: true });
  t.same(mux.effects.map((f) => f.t), ['record_source', 'find_mux']);
  t.match(mux.effects[0], { ladder: ['mux'] });
  const noMux = step(model('starting', { channel: channel({ overflow: 'mux' }) }), { t: 'source_known', source: h264, free, muxAvailable: false });
  t.match(noMux.model.notes.join(' '), /Mux is not configured/);
});

t.test('Mux: ready → relay; unavailable → reduced ladder; the relay giving up falls back to a reduced ladder', async (t) => {
  const asked = step(model('starting', { channel: channel({ overflow: 'mux' }) }), { t: 'source_known', source: h264, free: 10_000_000, muxAvailable: true }).model;
  const ready = step(asked, { t: 'mux_ready', target: 'rtmp://t', playbackId: 'pb' });
  t.match(ready.model, { mode: 'mux', carrier: 'relay', muxPlaybackId: 'pb' });
  t.same(ready.effects, [{ t: 'mark_overflow' }, { t: 'start_relay', target: 'rtmp://t' }]);
  const live = step(ready.model, { t: 'carrier_started' });
  t.equal(live.model.phase, 'live');
  t.same(live.effects.map((f) => f.t), ['log', 'announce']);

  const down = step(asked, { t: 'mux_unavailable', free: 10_000_000 });
  t.same(down.model.plan?.rungs.map((r) => r.name), ['360p']);
  t.match(down.model.notes.join(' '), /Mux overflow unavailable/);

  const gave = step(live.model, { t: 'relay_gave_up', reason: 'Mux ingest refused or unreachable', source: h264, free: 10_000_000 });
  t.match(gave.model, { mode: 'local', carrier: 'local', muxPlaybackId: null });
  t.same(gave.effects.map((f) => f.t), ['drop_relay', 'record_source', 'start_local']);
  t.same(step(gave.model, { t: 'relay_gave_up', reason: 'again', source: h264, free: BIG }).effects, [], 'only a Mux class falls back');
});

t.test('claims: a dropped publisher is replaced within the grace; a silent one is taken over; never twice, never after the end', async (t) => {
  t.equal(mayClaim(model('reconnecting'), 0, 2000), 'reconnect');
  t.equal(mayClaim(model('live'), 1999, 2000), false, 'a healthy publisher keeps the class');
  t.equal(mayClaim(model('live'), 2000, 2000), 'takeover');
  t.equal(mayClaim(model('starting'), 5000, 2000), 'takeover');
  t.equal(mayClaim(model('reconnecting', { claimedBy: 'p2' }), 0, 2000), false, 'one claim at a time');
  t.equal(mayClaim(model('reconnecting', { endAsked: 'x' }), 0, 2000), false);
  t.equal(mayClaim(model('ending'), 9999, 2000), false);

  const taken = step(model('live', { carrier: 'local' }), { t: 'claimed', publisher: 'p2', how: 'takeover', silentMs: 2500 });
  t.equal(taken.model.claimedBy, 'p2');
  t.same(taken.effects.map((f) => f.t), ['clear_grace', 'log', 'kick']);
  t.match(taken.effects[2], { t: 'kick', publisher: 'p1' }, 'the frozen publisher is disconnected');
  const resumed = step(taken.model, { t: 'resume', publisher: 'p2' });
  t.match(resumed.model, { publisher: 'p2', reconnects: 1, phase: 'live' });
  t.equal(resumed.model.claimedBy, undefined);
  t.same(resumed.effects.map((f) => f.t), ['count_from', 'follow', 'save_reconnects', 'announce', 'log', 'restart_outputs']);
  const early = step(model('reconnecting', { claimedBy: 'p2' }), { t: 'resume', publisher: 'p2' });
  t.equal(early.model.phase, 'starting', 'nothing carries the class yet: still starting');
  t.notOk(early.effects.some((f) => f.t === 'restart_outputs'));
  const late = step(model('reconnecting', { claimedBy: 'p2', endAsked: 'x' }), { t: 'resume', publisher: 'p2' });
  t.same(late.effects, [{ t: 'kick', publisher: 'p2' }], 'a claim that lost to the end is disconnected');
});

t.test('drops: the current publisher leaving starts the grace; another publisher or a dropped one changes nothing', async (t) => {
  const d = step(model('live'), { t: 'dropped', publisher: 'p1' });
  t.equal(d.model.phase, 'reconnecting');
  t.same(d.effects.map((f) => f.t), ['snapshot_bytes', 'log', 'clear_grace', 'arm_grace', 'announce']);
  t.same(step(model('live'), { t: 'dropped', publisher: 'old' }).effects, []);
  t.same(step(d.model, { t: 'dropped', publisher: 'p1' }).effects, []);
  t.same(step(model('live'), { t: 'publisher_ended', publisher: 'p1' }).effects, [{ t: 'request_end', reason: 'publisher left' }]);
  t.same(step(d.model, { t: 'publisher_ended', publisher: 'p1' }).effects, [], 'ended while reconnecting: the grace decides');
});

t.test('the end: asked once, finished once; the recording is kept only when recorded and published', async (t) => {
  const asked = step(model('live'), { t: 'end_asked', reason: 'first' });
  t.equal(step(asked.model, { t: 'end_asked', reason: 'second' }).model.endAsked, 'first', 'the first reason stands');
  const fin = step(asked.model, { t: 'finish' });
  t.equal(fin.model.phase, 'ending');
  t.same(fin.effects.map((f) => f.t), ['clear_grace', 'release_media', 'stop_outputs', 'close_outputs']);
  t.same(step(fin.model, { t: 'finish' }).effects, []);
  const keep = step(fin.model, { t: 'outputs_closed', published: true });
  t.same(keep.effects, [{ t: 'close_session', reason: 'first' }, { t: 'keep_recording' }]);
  const kept = step(keep.model, { t: 'kept', ok: true });
  t.equal(kept.model.phase, 'ended');
  t.match(kept.effects.at(-1), { t: 'announce_ended', reason: 'first', recorded: true });
  const failed = step(keep.model, { t: 'kept', ok: false });
  t.match(failed.effects.at(-1), { recorded: false }, 'a move that failed is not a recording');
  const unpublished = step(fin.model, { t: 'outputs_closed', published: false });
  t.equal(unpublished.model.phase, 'ended');
  t.match(unpublished.effects.at(-1), { t: 'announce_ended', recorded: false });
  const notRecorded = step({ ...fin.model, channel: channel({ record: false }) }, { t: 'outputs_closed', published: true });
  t.notOk(notRecorded.effects.some((f) => f.t === 'keep_recording'));
});

t.test('a failure to start ends the class with its reason, once', async (t) => {
  const f = step(model('starting'), { t: 'start_failed', message: 'no video metadata' });
  t.same(f.effects.map((x) => x.t), ['log', 'kick', 'request_end']);
  t.match(f.effects.at(-1), { reason: 'failed: no video metadata' });
  t.same(step(model('starting', { endAsked: 'x' }), { t: 'start_failed', message: 'late' }).effects, []);
});
