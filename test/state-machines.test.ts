// The state machines alone, with fakes of our own interfaces (clock, process, ingest, store, files): the ffmpeg
// process's restart policy and crash-loop flag, a class run's publish / reconnect / end / overflow decisions, and
// the hub's per-tick batching, event bound and write retries. End-to-end tests cover the same with real processes.

import t from 'tap';
import type { RoomInit } from '../src/domain/engagement.js';
import { FfmpegProcess } from '../src/media/ffmpeg-process.js';
import { ClassRun, type RunDeps, type RunListener } from '../src/live/class-run.js';
import type { OutputContext } from '../src/live/outputs.js';
import { LadderOutput } from '../src/transcode/ladder-output.js';
import { MasterOutput } from '../src/hls/master-output.js';
import { SerialQueue } from '../src/live/serial.js';
import type { Channel } from '../src/domain/channel.js';
import type { SourceMeta } from '../src/live/ports.js';
import type { MediaSink } from '../src/media/sink.js';
import type { TranscoderStatus } from '../src/transcode/supervisor.js';
import { Hub } from '../src/hub/hub.js';
import type { Transport } from '../src/hub/fanout.js';
import type { EngagementOp } from '../src/domain/records.js';
import { silentLogger, type Logger } from '../src/log.js';
import { FakeClock, fakeSpawner, settle } from './helpers/fakes.js';

const logs: string[] = [];
const log: Logger = {
  debug() {}, info: (m) => void logs.push(m), warn: (m) => void logs.push(m), error: (m) => void logs.push(m),
};

// ---- FfmpegProcess --------------------------------------------------------------------------------------------

t.test('ffmpeg process: a crash loop restarts with doubling backoff, is flagged after 3 quick exits, and heals', async (t) => {
  const clock = new FakeClock();
  const { spawn, children } = fakeSpawner();
  const restarts: number[] = [];
  const p = new FfmpegProcess({
    label: 'ladder', ffmpegPath: 'ffmpeg', args: ({ restarted }) => [restarted ? 'resume' : 'fresh'], stdin: true,
    restart: { kind: 'backoff', initialMs: 500, maxMs: 4000 }, log, spawn, clock,
    onExit: (_info, next) => { if (next.restartInMs !== undefined) restarts.push(next.restartInMs); },
  });
  await p.start();
  t.equal(children.length, 1);
  t.same(children[0]!.args, ['fresh']);
  for (let i = 0; i < 5; i++) {
    children.at(-1)!.exit(1, null, 'Error initializing output stream 0:0');
    await settle();
    await clock.advance(10_000);
  }
  t.same(restarts, [500, 1000, 2000, 4000, 4000], 'backoff doubles up to its cap');
  t.equal(children.length, 6, 'one new process per exit');
  t.same(children[1]!.args, ['resume'], 'a restart continues the playlists');
  const s = p.status();
  t.equal(s.crashLoop, true, 'three or more exits within a minute: a crash loop');
  t.equal(s.restarts, 5);
  t.match(s.lastError, /could not set up the ladder/, 'the friendly reason');
  t.match(s.lastLine, /Error initializing output stream/, 'beside ffmpeg\'s own line');
  t.ok(logs.some((l) => l.includes('crash loop')), 'logged once as a crash loop');
  // A run that lasts is healthy: backoff and the crash-loop flag start over.
  await clock.advance(30_000);
  children.at(-1)!.exit(1);
  await settle();
  t.equal(p.status().crashLoop, false, 'healed after a long run');
  t.equal(restarts.at(-1), 500, 'backoff back to its start');
  await p.stop();
});

t.test('ffmpeg process: stop ends stdin and waits; a child that ignores it is SIGKILLed after the timeout', async (t) => {
  const clock = new FakeClock();
  const polite = fakeSpawner();
  const a = new FfmpegProcess({ label: 'a', ffmpegPath: 'ffmpeg', args: () => [], stdin: true, restart: { kind: 'backoff', initialMs: 500, maxMs: 500 }, log: silentLogger, spawn: polite.spawn, clock });
  await a.start();
  await a.stop(1000);
  t.ok(polite.children[0]!.stdinEnded, 'stdin ended: ffmpeg closes its playlists');
  t.same(polite.children[0]!.signals, ['exited'], 'no signal needed');
  t.equal(a.status().state, 'stopped');
  await clock.advance(5000);
  t.equal(polite.children.length, 1, 'a stopped process is not restarted');

  const stubborn = fakeSpawner({ exitOnStdinEnd: false });
  const b = new FfmpegProcess({ label: 'b', ffmpegPath: 'ffmpeg', args: () => [], stdin: true, restart: { kind: 'backoff', initialMs: 500, maxMs: 500 }, log: silentLogger, spawn: stubborn.spawn, clock });
  await b.start();
  const stopped = b.stop(2000);
  await settle();
  t.same(stubborn.children[0]!.signals, [], 'nothing before the timeout');
  await clock.advance(2000);
  await stopped;
  t.same(stubborn.children[0]!.signals, ['SIGKILL', 'exited'], 'killed after the timeout');
  t.equal(stubborn.children.length, 1, 'and not restarted');
});

t.test('ffmpeg process: stop while a restart is pending spawns nothing more', async (t) => {
  const clock = new FakeClock();
  const { spawn, children } = fakeSpawner();
  const p = new FfmpegProcess({ label: 'x', ffmpegPath: 'ffmpeg', args: () => [], stdin: true, restart: { kind: 'backoff', initialMs: 1000, maxMs: 1000 }, log: silentLogger, spawn, clock });
  await p.start();
  children[0]!.exit(1);
  await settle();
  t.equal(p.status().state, 'restarting');
  await p.stop();
  await clock.advance(5000);
  t.equal(children.length, 1);
  t.equal(p.status().state, 'stopped');
});

t.test('ffmpeg process: give-up policy after quick failures; secret arguments never reach the status or log', async (t) => {
  const clock = new FakeClock();
  const { spawn, children } = fakeSpawner();
  let gaveUp = false;
  const seen: string[] = [];
  const p = new FfmpegProcess({
    label: 'relay', ffmpegPath: 'ffmpeg', args: () => ['rtmp://x/app/SECRETKEY'], stdin: true, secretArgs: true,
    restart: { kind: 'backoff', initialMs: 100, maxMs: 1000, giveUpAfter: 3, quickMs: 10_000 },
    log: { ...silentLogger, warn: (m, f) => void seen.push(m + JSON.stringify(f)), error: (m, f) => void seen.push(m + JSON.stringify(f)) },
    spawn, clock, onExit: (_i, next) => { gaveUp ||= next.gaveUp; },
  });
  await p.start();
  for (let i = 0; i < 3; i++) {
    children.at(-1)!.exit(1, null, 'rtmp://x/app/SECRETKEY: Connection refused');
    await settle();
    await clock.advance(2000);
  }
  t.ok(gaveUp, 'gave up after three quick failures');
  t.equal(p.status().state, 'gave-up');
  t.equal(children.length, 3);
  t.equal(p.status().lastLine, undefined);
  t.notOk(seen.join('\n').includes('SECRETKEY'), 'the key is never logged');
  t.notOk(JSON.stringify(p.status()).includes('SECRETKEY'));
});

t.test('serial queue: steps never interleave and a failure does not stop the queue', async (t) => {
  const q = new SerialQueue();
  const order: string[] = [];
  const a = q.run(async () => { order.push('a1'); await settle(2); order.push('a2'); });
  const b = q.run(() => { order.push('b'); throw new Error('boom'); });
  const c = q.run(async () => { order.push('c'); return 7; });
  await a;
  await t.rejects(b, /boom/);
  t.equal(await c, 7);
  t.same(order, ['a1', 'a2', 'b', 'c']);
});

// ---- ClassRun -------------------------------------------------------------------------------------------------

const channel = (over: Partial<Channel> = {}): Channel => ({
  id: 1, slug: 'math', title: 'Math', ladder: ['720p', '360p'], latency: 'standard', record: true, archive: false, overflow: 'degrade',
  allowGuests: false, startsAt: null, public: true, createdAt: '', updatedAt: '', ...over,
});

class FakeTranscoder {
  state: TranscoderStatus['state'] = 'stopped';
  starts: boolean[] = [];
  stops = 0;
  constructor(readonly req: Pick<OutputContext, 'feed'>) {}
  async start(resume = false): Promise<void> {
    this.starts.push(resume);
    this.state = 'running';
    this.req.feed({ write() {} });
  }
  async stop(): Promise<void> {
    this.stops += 1;
    this.state = 'stopped';
  }
  status(): TranscoderStatus {
    return { state: this.state, restarts: 0, slow: false, crashLoop: false, cpuMs: 0, pipe: { writtenBytes: 0, droppedTags: 0, droppedBytes: 0, peakBufferedBytes: 0, dropping: false } };
  }
}

interface Harness {
  run: ClassRun;
  clock: FakeClock;
  events: string[];
  transcoders: FakeTranscoder[];
  kicked: string[];
  meta: Map<string, SourceMeta>;
  sessions: { updates: unknown[]; ended?: string; sources: string[][] };
  kept: string[];
  relays: { target: string; stopped: boolean; giveUp(reason: string): void }[];
  masters: { resolve(v: boolean): void }[];
}

function harness(opts: { channel?: Partial<Channel>; free?: number; overflow?: 'ok' | 'fails'; source?: Partial<SourceMeta> } = {}): Harness {
  const clock = new FakeClock();
  const h = {
    clock, events: [] as string[], transcoders: [] as FakeTranscoder[], kicked: [] as string[], meta: new Map<string, SourceMeta>(),
    sessions: { updates: [] as unknown[], ended: undefined as string | undefined, sources: [] as string[][] }, kept: [] as string[],
    relays: [] as Harness['relays'], masters: [] as Harness['masters'],
  };
  const deps: RunDeps = {
    sessions: {
      setSource: (_id, _s, ladder) => void h.sessions.sources.push(ladder),
      update: (_id, p) => void h.sessions.updates.push(p),
      end: (_id, reason) => { h.sessions.ended = reason; },
    },
    ingest: {
      meta: (id) => h.meta.get(id),
      subscribe: (_id: string, _sink: MediaSink) => () => {},
      kick: (id) => void h.kicked.push(id),
    },
    outputs: {
      create: (ctx) => [
        new LadderOutput(() => {
          const x = new FakeTranscoder(ctx);
          h.transcoders.push(x);
          return x;
        }),
        new MasterOutput((over) => new Promise<boolean>((resolve) => {
          let done = false;
          h.masters.push({ resolve: (v) => { done = true; resolve(v); } });
          const poll = (): void => { if (done) return; if (over()) resolve(false); else setTimeout(poll, 5); };
          setTimeout(poll, 5);
        })),
      ],
    },
    overflow: opts.overflow ? {
      ensureStream: async () => {
        if (opts.overflow === 'fails') throw new Error('Mux down');
        return { target: 'rtmp://mux/app/k', playbackId: 'pb1' };
      },
      relay: (req) => {
        const r = { kind: 'relay', target: req.target, stopped: false, giveUp: req.onGiveUp, async start() {}, async stop() { r.stopped = true; }, async close() { return {}; } };
        h.relays.push(r);
        return r;
      },
      markOverflow: async () => {},
    } : undefined,
    freeBudget: () => opts.free ?? 1e12,
    files: { reset: async () => {}, keep: async (from, to) => void h.kept.push(`${from} -> ${to}`) },
    clock,
    log: silentLogger,
  };
  const listener: RunListener = {
    started: () => void h.events.push('started'),
    publisher: (_r, s) => void h.events.push(`publisher:${s}`),
    ended: (_r, reason, recorded) => void h.events.push(`ended:${reason}:${recorded}`),
  };
  const run = new ClassRun(channel(opts.channel), 's_1', 'p1', { mediaDir: '/m', graceMs: 30_000, probeTimeoutMs: 10_000, stallMs: 5000 }, deps, listener);
  h.meta.set('p1', { videoCodec: 'h264', width: 1280, height: 720, fps: 30, videoKbps: 2500, audioCodec: 'aac', inBytes: 1000, container: 'flv', via: 'rtmp', ...opts.source });
  return { run, ...h };
}

/** Begins the run and lets the probe finish (no preroll keyframes in the fake: its wait times out on the real clock). */
async function publish(h: Harness): Promise<void> {
  await h.run.begin();
  await waitUntil(() => h.run.state !== 'starting');
}

async function waitUntil(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('class run: publish → live with a ladder; the end stops it and keeps the recording once the master exists', async (t) => {
  const h = harness();
  t.equal(h.run.state, 'admitted');
  await publish(h);
  t.equal(h.run.state, 'live');
  t.same(h.events, ['started']);
  t.equal(h.transcoders.length, 1);
  t.same(h.transcoders[0]!.starts, [false], 'fresh playlists');
  t.same(h.sessions.sources, [['720p', '360p']]);
  h.masters[0]!.resolve(true);
  await h.run.end('publisher left');
  t.equal(h.run.state, 'ended');
  t.equal(h.transcoders[0]!.stops, 1);
  t.same(h.kept, ['/m/live/math -> /m/vod/s_1']);
  t.same(h.events, ['started', 'ended:publisher left:true']);
  t.equal(h.sessions.ended, 'publisher left');
});

t.test('class run: a reconnect within the grace continues the same session on a restarted ladder', async (t) => {
  const h = harness();
  await publish(h);
  await h.run.publisherLeft('p1');
  t.equal(h.run.state, 'reconnecting');
  await h.clock.advance(20_000);
  t.equal(h.run.state, 'reconnecting', 'still within the 30 s grace');
  h.meta.set('p2', { ...h.meta.get('p1')!, inBytes: 10 });
  t.ok(h.run.claim('p2', h.clock.now(), 2000), 'the key\'s next publish is admitted');
  t.notOk(h.run.claim('p3', h.clock.now(), 2000), 'but only one');
  await settle();
  t.equal(h.run.state, 'live');
  t.equal(h.run.publisherId, 'p2');
  t.equal(h.transcoders.length, 2, 'the ladder restarted on the new publisher');
  t.same(h.transcoders[1]!.starts, [true], 'continuing the playlists after a discontinuity');
  t.same(h.events, ['started', 'publisher:reconnecting', 'publisher:live']);
  await h.clock.advance(60_000);
  t.equal(h.run.state, 'live', 'the cleared grace timer never fires');
  t.equal(h.run.bytesIn(), 1010, 'bytes of both publishers');
  await h.run.end('test over');
});

t.test('class run: no reconnect within the grace ends the class', async (t) => {
  const h = harness({ channel: { record: false } });
  await publish(h);
  await h.run.publisherLeft('p1');
  await h.clock.advance(30_000);
  await waitUntil(() => h.run.state === 'ended');
  t.equal(h.run.state, 'ended');
  t.same(h.events.at(-1), 'ended:publisher left:false');
  t.notOk(h.run.claim('p2', h.clock.now(), 2000), 'a publish after the end starts a new class instead');
});

t.test('class run: an end asked for during the start wins; no ladder is started', async (t) => {
  const h = harness();
  h.meta.delete('p1'); // no metadata yet: the probe waits
  void h.run.begin();
  await settle();
  t.equal(h.run.state, 'starting');
  const ended = h.run.end('server shutdown');
  await h.clock.advance(200);
  await ended;
  t.equal(h.run.state, 'ended');
  t.equal(h.transcoders.length, 0, 'nothing was started');
  t.same(h.events, ['ended:server shutdown:false']);
});

t.test('class run: a publisher that never sends metadata fails the start with a reason', async (t) => {
  const h = harness();
  h.meta.delete('p1');
  void h.run.begin();
  await settle();
  await h.clock.advance(11_000);
  await waitUntil(() => h.run.state === 'ended');
  t.match(h.sessions.ended, /failed: no video metadata from the publisher within 10 s/);
  t.same(h.kicked, ['p1'], 'the publisher is disconnected');
});

t.test('class run: HEVC is refused at publish with a clear reason', async (t) => {
  const h = harness({ source: { videoCodec: 'hevc' } });
  await publish(h);
  await waitUntil(() => h.run.state === 'ended');
  t.match(h.sessions.ended, /refused: the publisher sends HEVC \(H\.265\); this server takes H\.264/);
  t.equal(h.transcoders.length, 0);
});

t.test('class run: the overflow decision — Mux when the box is full, a reduced ladder when Mux fails or gives up', async (t) => {
  // The full ladder (720p + 360p at 30 fps) needs 34.6 M pixels/s; 10 M fits only the 360p rung.
  const onMux = harness({ channel: { overflow: 'mux' }, free: 10_000_000, overflow: 'ok' });
  await publish(onMux);
  t.equal(onMux.run.view().mode, 'mux');
  t.same(onMux.run.playback(), { mode: 'mux', playbackId: 'pb1' });
  t.equal(onMux.transcoders.length, 0, 'nothing encoded here');
  t.same(onMux.sessions.sources, [['mux']]);
  // Mux gives up mid-class: the class continues here.
  onMux.relays[0]!.giveUp('Mux ingest refused or unreachable');
  await waitUntil(() => onMux.transcoders.length === 1);
  t.equal(onMux.run.view().mode, 'local');
  t.match(onMux.run.view().notes.join(' '), /Mux relay failed \(Mux ingest refused or unreachable\); fell back/);
  await onMux.run.end('done');

  const fits = harness({ channel: { overflow: 'mux' }, overflow: 'ok' });
  await publish(fits);
  t.equal(fits.run.view().mode, 'local', 'room on the box: no Mux');
  await fits.run.end('done');

  const down = harness({ channel: { overflow: 'mux' }, free: 10_000_000, overflow: 'fails' });
  await publish(down);
  t.equal(down.run.view().mode, 'local');
  t.match(down.run.view().notes.join(' '), /Mux overflow unavailable/);
  t.same(down.run.view().ladder, ['360p'], 'reduced to what fits');
  await down.run.end('done');

  const refuse = harness({ channel: { overflow: 'refuse' }, free: 10 });
  await publish(refuse);
  await waitUntil(() => refuse.run.state === 'ended');
  t.match(refuse.sessions.ended, /refused: the box is at its transcode capacity/);
});

t.test('class run: a stalled publisher is dropped after stallMs, and a new publish takes over a silent one at once', async (t) => {
  const h = harness();
  await publish(h);
  h.run.tick(h.clock.now());
  await h.clock.advance(2500);
  t.ok(h.run.claim('p2', h.clock.now(), 2000), 'silent for 2.5 s: the new publish takes over');
  await settle();
  t.same(h.kicked, ['p1'], 'the frozen one is disconnected');
  t.equal(h.run.publisherId, 'p2');
  t.equal(h.run.state, 'live');
  await h.run.publisherLeft('p1');
  t.equal(h.run.state, 'live', 'the old publisher leaving changes nothing');
  await h.run.end('done');

  const s = harness();
  await publish(s);
  s.run.tick(0);
  t.notOk(s.run.claim('p2', 1000, 2000), 'a healthy publisher is never taken over');
  s.run.tick(5000);
  await settle();
  t.equal(s.run.state, 'reconnecting', 'silent for stallMs: dropped, waiting for a reconnect');
  t.same(s.kicked, ['p1']);
  await s.run.end('done');
});

// ---- Hub ------------------------------------------------------------------------------------------------------

function hubHarness(persist: (ops: EngagementOp[]) => void, loadRoom: () => RoomInit | Promise<RoomInit> = () => ({})) {
  const closed: [number, number][] = [];
  const frames: { topic: string; frame: string }[] = [];
  const sent: string[] = [];
  const transport: Transport = {
    publish: (topic, frame) => void frames.push({ topic, frame }),
    send: (_id, frame) => void sent.push(frame),
    close: (id, code) => void closed.push([id, code]),
    subscribe: () => {},
  };
  const hub = new Hub({ tickMs: 1e9, flushMs: 1e9, chatMaxLength: 500, chatBurst: 100_000, chatWindowMs: 1000, historySize: 50, presenceEveryMs: 1e9, maxQueue: 1e9 }, {
    channelId: () => 1, startsAt: () => null, loadRoom, liveSession: () => undefined, persist, log,
  });
  hub.attach(transport);
  return { hub, frames, sent, closed };
}

t.test('hub: every event of a tick goes out in one frame per topic, staff events on their own topic', async (t) => {
  const { hub, frames } = hubHarness(() => {});
  hub.join(1, 'math', { userId: 'u1', name: 'Ada', role: 'learner', guest: false });
  hub.join(2, 'math', { userId: 'i1', name: 'Prof', role: 'instructor', guest: false });
  for (let i = 0; i < 5; i++) hub.message(1, JSON.stringify({ v: 1, t: 'chat', text: `hello ${i}` }));
  hub.message(1, JSON.stringify({ v: 1, t: 'hand_raise' }));
  t.equal(frames.length, 0, 'nothing is sent before the tick');
  hub.tick();
  const room = frames.filter((f) => f.topic === 'room/math');
  t.equal(room.length, 1, 'one frame for the room');
  const batch = JSON.parse(room[0]!.frame) as { t: string; events: { t: string }[] };
  t.equal(batch.t, 'batch');
  t.equal(batch.events.filter((e) => e.t === 'chat').length, 5, 'all five messages in it, in order');
  t.ok(frames.some((f) => f.topic === 'staff/math'), 'the raised hand goes to staff only');
  frames.length = 0;
  hub.tick();
  t.equal(frames.length, 0, 'an idle tick sends nothing');
});

t.test('hub: a room whose records come over the network holds what arrives meanwhile, then answers it in order', async (t) => {
  let open!: (init: RoomInit) => void;
  const { hub, frames, sent } = hubHarness(() => {}, () => new Promise<RoomInit>((r) => (open = r)));
  hub.join(1, 'math', { userId: 'u1', name: 'Ada', role: 'learner', guest: false });
  hub.message(1, JSON.stringify({ v: 1, t: 'chat', text: 'while opening' }));
  hub.tick();
  t.same(sent, [], 'no welcome before the room has its records');
  t.same(frames, []);
  open({ chat: [{ id: 'old', userId: 'u9', name: 'Bo', role: 'learner', text: 'from before', at: 1 }] });
  await new Promise((r) => setImmediate(r));
  const welcome = JSON.parse(sent[0]!) as { t: string; room: { chat: { text: string }[] } };
  t.equal(welcome.t, 'welcome');
  t.same(welcome.room.chat.map((m) => m.text), ['from before'], 'the stored history is in the welcome');
  hub.tick();
  const batch = JSON.parse(frames.find((f) => f.topic === 'room/math')!.frame) as { events: { t: string; msg?: { text: string } }[] };
  t.same(batch.events.filter((e) => e.t === 'chat').map((e) => e.msg?.text), ['while opening'], 'the message sent meanwhile is not lost');
});

t.test('hub: a room whose records cannot be read closes the sockets that waited, and opens on the next try', async (t) => {
  let calls = 0;
  const { hub, sent, closed } = hubHarness(() => {}, () => (calls += 1) === 1 ? Promise.reject(new Error('connection refused')) : Promise.resolve({}));
  hub.join(1, 'math', { userId: 'u1', name: 'Ada', role: 'learner', guest: false });
  await new Promise((r) => setImmediate(r));
  t.same(closed, [[1, 1011]], 'told to come back');
  hub.join(2, 'math', { userId: 'u2', name: 'Bo', role: 'learner', guest: false });
  await new Promise((r) => setImmediate(r));
  t.equal((JSON.parse(sent[0]!) as { t: string }).t, 'welcome');
  t.ok(logs.some((l) => l.includes('could not open a room')));
});

t.test('hub: a room that outruns its tick keeps a bounded backlog and counts what it dropped', async (t) => {
  const { hub, frames } = hubHarness(() => {});
  hub.join(1, 'math', { userId: 'u1', name: 'Ada', role: 'learner', guest: false });
  for (let i = 0; i < 2500; i++) hub.message(1, JSON.stringify({ v: 1, t: 'chat', text: `m${i}` }));
  hub.tick();
  const batch = JSON.parse(frames.find((f) => f.topic === 'room/math')!.frame) as { events: unknown[] };
  t.equal(batch.events.length, 2000, 'the backlog is bounded');
  t.ok(hub.counters.eventsDropped >= 500, `the rest is counted (${hub.counters.eventsDropped})`);
});

t.test('hub: a locked database delays engagement writes; they are retried in order, none lost', async (t) => {
  let locked = true;
  const written: EngagementOp[] = [];
  const { hub } = hubHarness((ops) => {
    if (locked) throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    written.push(...ops);
  });
  hub.join(1, 'math', { userId: 'u1', name: 'Ada', role: 'learner', guest: false });
  hub.message(1, JSON.stringify({ v: 1, t: 'chat', text: 'first' }));
  hub.flush(1000);
  t.equal(written.length, 0);
  t.equal(hub.counters.persistRetries, 1);
  hub.message(1, JSON.stringify({ v: 1, t: 'chat', text: 'second' }));
  hub.flush(1001);
  t.equal(hub.counters.persistFailures, 1, 'no retry before the backoff is over');
  locked = false;
  hub.flush(10_000);
  const chats = written.filter((o) => o.op === 'chat').map((o) => (o.op === 'chat' ? o.msg.text : ''));
  t.same(chats, ['first', 'second'], 'both written, in order');
  t.equal(written[0]!.op, 'attend', 'the attendance record first, as it happened');
  t.ok(logs.some((l) => l.includes('engagement writes recovered')));
});
