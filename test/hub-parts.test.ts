// The hub's three parts on their own: the durable write queue, fan-out, and room ownership/routing. The whole hub
// over real sockets and a real Redis is in hub.test.ts, hub-workers.test.ts and state-machines.test.ts.

import t from 'tap';
import { createLogger } from '../src/log.js';
import type { EngagementOp } from '../src/domain/records.js';
import { WriteQueue, MAX_PENDING_OPS } from '../src/hub/write-queue.js';
import { Fanout, Outbox, MAX_PENDING_EVENTS, type Peers, type Transport } from '../src/hub/fanout.js';
import { SharedOwnership, SoleOwner, MAX_PENDING_ROUTE, type OwnerSide } from '../src/hub/ownership.js';
import { globalId, type Backplane, type BackplaneHandlers, type InMsg, type OutMsg } from '../src/hub/backplane.js';
import type { RoomEvent } from '../src/hub/protocol.js';

const logs: string[] = [];
const log = createLogger('debug', (l) => void logs.push(l));
const tally = (userId: string, n = 1): EngagementOp => ({ op: 'tally', sessionId: 's1', userId, kind: 'reaction', n, channelId: 1 }) as EngagementOp;
const leave = (key: string): EngagementOp => ({ op: 'leave', key, at: 1, channelId: 1 });
const opts = { flushMs: 250, maxQueue: 1e9 };

// ---- the write queue ------------------------------------------------------------------------------------------

t.test('write queue: reactions of one learner become one counter update per write', async (t) => {
  const written: EngagementOp[][] = [];
  const q = new WriteQueue({ kind: 'local', write: (ops) => void written.push(ops) }, opts, { log });
  for (let i = 0; i < 50; i++) q.add(tally('u1'));
  q.add(tally('u2', 3));
  t.equal(q.length, 2, 'two learners, two records');
  q.flush(0);
  t.same(written[0]!.map((o) => (o.op === 'tally' ? o.n : 0)), [50, 3]);
  q.add(tally('u1'));
  q.flush(1);
  t.equal(written[1]!.length, 1, 'after a write the next reaction is a new record');
  t.equal(q.counters.persisted, 3);
});

t.test('write queue: a full queue writes at once (local sink)', async (t) => {
  let writes = 0;
  const q = new WriteQueue({ kind: 'local', write: () => void writes++ }, { flushMs: 250, maxQueue: 3 }, { log });
  q.add(leave('a'));
  q.add(leave('b'));
  t.equal(writes, 0);
  q.add(leave('c'));
  t.equal(writes, 1, 'the third record forced the write');
  t.equal(q.length, 0);
});

t.test('write queue: a failing store backs off, keeps order, and bounds what it keeps', async (t) => {
  let fail = true;
  const written: string[] = [];
  const q = new WriteQueue({ kind: 'local', write: (ops) => {
    if (fail) throw new Error('database is locked');
    for (const o of ops) if (o.op === 'leave') written.push(o.key);
  } }, opts, { log });
  q.add(leave('first'));
  q.flush(1000);
  t.equal(q.counters.persistRetries, 1);
  q.add(leave('second'));
  q.flush(1001);
  t.equal(q.counters.persistFailures, 1, 'no second try within the backoff');
  fail = false;
  q.flush(2000);
  t.same(written, ['first', 'second'], 'in order, none lost');
  t.ok(logs.some((l) => l.includes('engagement writes recovered')));

  fail = true;
  for (let i = 0; i < MAX_PENDING_OPS + 10; i++) q.add(leave(`k${i}`));
  q.flush(10_000);
  t.equal(q.length, MAX_PENDING_OPS, 'bounded');
  t.equal(q.counters.persistDropped, 10, 'the oldest ten dropped and counted');
  t.ok(logs.some((l) => l.includes('oldest dropped')));
});

t.test('write queue: shared sink: frames wait until the records are in Redis; a failed write is kept for the next tick', async (t) => {
  const order: string[] = [];
  let release!: () => void;
  let reject!: (e: Error) => void;
  const q = new WriteQueue({ kind: 'shared', write: (ops) => new Promise<void>((res, rej) => {
    order.push(`write ${ops.length}`);
    release = res;
    reject = rej;
  }) }, opts, { log });
  t.notOk(q.flushes, 'no flush timer for the shared sink');
  q.beforeSend(() => order.push('send (nothing queued)'));
  t.same(order, ['send (nothing queued)'], 'nothing to write: frames go at once');
  q.add(leave('a'));
  q.add(leave('b'));
  q.beforeSend(() => order.push('send 1'));
  t.ok(q.busy);
  t.same(order.slice(1), ['write 2'], 'not sent before Redis has the records');
  release();
  await new Promise((r) => setImmediate(r));
  t.same(order.slice(1), ['write 2', 'send 1']);
  t.notOk(q.busy);
  q.add(leave('c'));
  q.beforeSend(() => order.push('send 2'));
  reject(new Error('redis gone'));
  await new Promise((r) => setImmediate(r));
  t.equal(q.length, 1, 'the failed record waits for the next tick');
  t.equal(q.counters.persistFailures, 1);
  t.equal(order.at(-1), 'send 2', 'frames still go');
  const done = q.finish();
  await new Promise((r) => setImmediate(r));
  release();
  await done;
  t.equal(order.at(-1), 'write 1', 'the rest is written at shutdown');
});

t.test('write queue: shutdown tries a locked database three times, then says how many records it could not write', async (t) => {
  let tries = 0;
  const q = new WriteQueue({ kind: 'local', write: () => {
    tries++;
    throw new Error('database is locked');
  } }, opts, { log });
  q.add(leave('a'));
  await q.finish();
  t.equal(tries, 3);
  t.ok(logs.some((l) => l.includes('engagement records not written at shutdown')));
});

// ---- fan-out ---------------------------------------------------------------------------------------------------

const chat = (i: number): RoomEvent => ({ t: 'chat', msg: { id: `m${i}`, userId: 'u', name: 'U', role: 'learner', text: `${i}`, at: i } }) as RoomEvent;

t.test('outbox: one frame per topic per tick, bounded, oldest event time kept', async (t) => {
  const box = new Outbox();
  t.equal(box.push([chat(1), chat(2)], false, 100), 0);
  box.push([chat(3)], true, 200);
  const frames = box.take(0, 'math', 300);
  t.equal(frames.length, 2);
  t.same(frames.map((f) => f.staff), [false, true]);
  t.equal(frames[0]!.first, 100, 'the oldest pending event');
  t.same((JSON.parse(frames[0]!.f) as { events: unknown[] }).events.length, 2);
  t.same(box.take(0, 'math', 400), [], 'an idle tick sends nothing');
  const many = Array.from({ length: MAX_PENDING_EVENTS + 7 }, (_, i) => chat(i));
  t.equal(box.push(many), 7, 'what does not fit is counted');
});

function transport() {
  const log: string[] = [];
  const tr: Transport = {
    publish: (topic, f) => void log.push(`publish ${topic} ${f}`),
    send: (id, f) => void log.push(`send ${id} ${f}`),
    close: (id, code) => void log.push(`close ${id} ${code}`),
    subscribe: (id, topic) => void log.push(`subscribe ${id} ${topic}`),
  };
  return { tr, log };
}

t.test('fan-out: a frame goes to the socket here or to the process holding it', async (t) => {
  const published: OutMsg[] = [];
  const peers: Peers = { node: 3, shared: true, publish: (m) => void published.push(m) };
  const fan = new Fanout(peers);
  const { tr, log } = transport();
  fan.deliver(globalId(3, 7), 'x');
  t.same(log, [], 'nothing before a transport is attached');
  fan.attach(tr);
  fan.deliver(globalId(3, 7), 'hello');
  fan.deliver(globalId(4, 7), 'there');
  fan.close(globalId(4, 8), 4003, 'banned');
  t.same(log, ['send 7 hello']);
  t.same(published.map((m) => m.k), ['to', 'close']);
  fan.send([{ k: 'topic', n: 3, s: 'math', staff: false, f: 'F', at: 1, first: 1 }], () => 42);
  t.same(log.at(-1), 'publish room/math F');
  t.equal((published.at(-1) as { p?: number }).p, 42, 'other processes learn the presence with the frame');
  fan.fromPeer({ k: 'to', n: 4, c: [globalId(3, 9), globalId(5, 9)], f: 'only mine' });
  fan.fromPeer({ k: 'close', n: 4, c: [globalId(5, 1)], code: 4003, reason: 'banned' });
  fan.fromPeer({ k: 'topic', n: 4, s: 'art', staff: true, f: 'S', at: 1, first: 1 });
  t.same(log.slice(-2), ['send 9 only mine', 'publish staff/art S'], "another process's connections are left alone");
});

t.test('fan-out: without peers nothing is published beyond this process', async (t) => {
  let n = 0;
  const fan = new Fanout({ node: 0, shared: false, publish: () => void n++ });
  fan.attach(transport().tr);
  fan.send([{ k: 'topic', n: 0, s: 'math', staff: false, f: 'F', at: 1, first: 1 }], () => 1);
  t.equal(n, 0);
});

// ---- ownership and routing --------------------------------------------------------------------------------------

class MemoryBackplane implements Backplane {
  node = 2;
  connected = true;
  h?: BackplaneHandlers;
  owners = new Map<string, number>();
  toOwners: InMsg[] = [];
  published: OutMsg[] = [];
  released: string[] = [];
  claimGate?: Promise<void>;
  async start(h: BackplaneHandlers) {
    this.h = h;
  }
  async stop() {}
  async claim(slug: string) {
    await this.claimGate;
    if (!this.owners.has(slug)) this.owners.set(slug, this.node);
    return this.owners.get(slug) === this.node;
  }
  async renew(slugs: string[]) {
    return new Set(slugs.filter((s) => this.owners.get(s) === this.node));
  }
  async release(slugs: string[]) {
    this.released.push(...slugs);
  }
  toOwner(m: InMsg) {
    this.toOwners.push(m);
  }
  fromOwner(m: OutMsg) {
    this.published.push(m);
  }
  async persist() {}
}

function side(channels = new Set(['math', 'art'])) {
  const seen: string[] = [];
  const s: OwnerSide = {
    handle: (m) => void seen.push(`handle ${m.k} ${m.s}`),
    gained: (slug) => (seen.push(`gained ${slug}`), channels.has(slug)),
    lost: (slug) => void seen.push(`lost ${slug}`),
    rejoin: (slug) => void seen.push(`rejoin ${slug}`),
    inUse: () => new Set(['math']),
    fromPeer: (m) => void seen.push(`peer ${m.k}`),
  };
  return { s, seen };
}
const settle = () => new Promise((r) => setTimeout(r, 5));
const join = (s: string): InMsg => ({ k: 'join', s, c: 1, i: { userId: 'u', name: 'U', role: 'learner', guest: false }, at: 0 });

t.test('ownership: one process owns every room and hands every message to it', async (t) => {
  const own = new SoleOwner();
  const { s, seen } = side();
  own.bind(s);
  await own.start();
  own.route(join('math'));
  t.same(seen, ['handle join math']);
  t.ok(own.sole);
  t.notOk(own.shared);
});

t.test('ownership: messages wait while the lease is claimed, then reach this owner in order', async (t) => {
  const bp = new MemoryBackplane();
  let open!: () => void;
  bp.claimGate = new Promise((r) => (open = r));
  const own = new SharedOwnership(bp, log);
  const { s, seen } = side();
  own.bind(s);
  await own.start();
  own.route(join('math'));
  own.route({ k: 'leave', s: 'math', c: 1, at: 1 });
  t.same(seen, [], 'held while claiming');
  open();
  await settle();
  t.same(seen, ['gained math', 'rejoin math', 'handle join math', 'handle leave math']);
  t.same(bp.published.map((m) => m.k), ['resync'], 'other processes send their members again');
  t.equal(own.counters.ownerChanges, 1);
  bp.h!.toOwner({ k: 'leave', s: 'math', c: 9, at: 2 });
  t.equal(seen.at(-1), 'handle leave math', "an edge's message for an owned room is handled");
  t.equal(own.counters.fannedIn, 1);
  await own.stop();
  t.same(bp.released, ['math'], 'leases given up at shutdown');
});

t.test('ownership: a room owned elsewhere is forwarded; the holding queue is bounded', async (t) => {
  const bp = new MemoryBackplane();
  bp.owners.set('art', 9);
  const own = new SharedOwnership(bp, log);
  const { s, seen } = side();
  own.bind(s);
  await own.start();
  own.route(join('art'));
  await settle();
  own.route({ k: 'leave', s: 'art', c: 1, at: 1 });
  t.same(bp.toOwners.map((m) => m.k), ['join', 'leave']);
  t.equal(own.counters.forwarded, 2);
  bp.h!.toOwner({ k: 'leave', s: 'art', c: 9, at: 2 });
  t.notOk(seen.includes('handle leave art'), "not this process's room: ignored");

  let open!: () => void;
  bp.claimGate = new Promise((r) => (open = r));
  for (let i = 0; i < MAX_PENDING_ROUTE + 5; i++) own.route({ k: 'schedule', s: 'math' });
  t.equal(own.counters.routeDropped, 5);
  open();
  await settle();
  t.equal(seen.filter((l) => l === 'handle schedule math').length, MAX_PENDING_ROUTE);
  await own.stop();
});

t.test('ownership: a channel that does not exist is not owned', async (t) => {
  const bp = new MemoryBackplane();
  const own = new SharedOwnership(bp, log);
  const { s, seen } = side();
  own.bind(s);
  await own.start();
  own.route(join('nope'));
  await settle();
  t.same(seen, ['gained nope'], 'nothing handled, and the claim is not retried for ever');
  t.equal(own.counters.ownerChanges, 0);
  t.equal(own.counters.routeDropped, 1, 'the waiting message is counted as dropped');
  await own.stop();
});

t.test("ownership: another process's resync takes the room; peers' frames reach the side", async (t) => {
  const bp = new MemoryBackplane();
  const own = new SharedOwnership(bp, log);
  const { s, seen } = side();
  own.bind(s);
  await own.start();
  own.route(join('math'));
  await settle();
  seen.length = 0;
  bp.h!.fromOwner({ k: 'resync', n: 5, s: 'math' });
  t.same(seen, ['lost math', 'rejoin math']);
  own.route({ k: 'leave', s: 'math', c: 1, at: 1 });
  t.equal(bp.toOwners.at(-1)?.k, 'leave', 'forwarded to the new owner');
  bp.h!.fromOwner({ k: 'ban', n: 5, s: 'math', u: 'x' });
  t.equal(seen.at(-1), 'peer ban');
  await own.stop();
});
