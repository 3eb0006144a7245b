// The hub over two processes (`serve --workers 2`) and a real redis-server: learners on different processes see
// the same chat, poll tallies and Q&A votes; a rate limit follows a learner across processes; a Redis restart
// mid-class is survived; killing the process that owns a room loses no acknowledged message and another process
// takes the room over; the pool restarts the dead worker; shutdown is clean.

import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { BIN, cleanEnv, cliJson } from './helpers/cli.js';
import { freePort, waitFor } from './helpers/server.js';
import { startRedis } from './helpers/redis.js';
import { childrenOf } from './helpers/procs.js';
import { Client, type Event } from './helpers/ws.js';
import { signJoinToken } from '../src/auth/join-token.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import { testdir } from './helpers/testdir.js';

const chatTexts = (c: Client): string[] => c.events.filter((e) => e.t === 'chat').map((e) => (e.msg as { text: string }).text);
const lastPoll = (c: Client): { counts: number[]; total: number } | undefined =>
  c.events.filter((e) => e.t === 'poll').map((e) => e.poll as { counts: number[]; total: number }).at(-1);
const lastQuestion = (c: Client): { votes: number } | undefined => c.events.filter((e) => e.t === 'question').map((e) => e.q as { votes: number }).at(-1);

t.test('serve --workers 2 with a Redis backplane', async (t) => {
  const dir = testdir(t);
  const redis = await startRedis(join(dir, 'redis'));
  t.teardown(() => redis.stop());
  const http = await freePort();
  const env = {
    KMK_BIND_ADDRESS: '127.0.0.1', KMK_HTTP_PORT: String(http), KMK_RTMP_PORT: String(await freePort()), KMK_PUBLIC_HOST: '127.0.0.1',
    KMK_HUB_REDIS_URL: redis.url,
  };
  cliJson(dir, ['channel', 'create', 'lecture'], env);
  for (const name of ['seminar', 's2', 's3', 's4', 's5', 's6', 's7', 's8']) cliJson(dir, ['channel', 'create', name], env);

  const server = spawn(process.execPath, [BIN, 'serve', '--workers', '2'], { cwd: dir, env: cleanEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  server.stderr.setEncoding('utf8').on('data', (c: string) => (log += c));
  const exited = new Promise<number | null>((r) => server.once('close', (code) => r(code)));
  t.teardown(() => server.kill('SIGKILL'));
  t.teardown(() => { if (!t.passing()) t.comment(`server log:\n${log.slice(-8000)}\nredis:\n${redis.log().slice(-2000)}`); });
  await waitFor('healthz', async () => (await fetch(`http://127.0.0.1:${http}/healthz`).catch(() => undefined))?.status === 200, 30000);
  const main = server.pid!;
  // The worker is the child started with --worker-of (the main process may run other short-lived children).
  const workerOf = (pid: number): number | undefined => childrenOf(pid).find((c) => {
    try {
      return readFileSync(`/proc/${c}/cmdline`, 'utf8').includes('--worker-of');
    } catch {
      return false;
    }
  });
  let worker = await waitFor('the worker process', () => workerOf(main));

  const secret = loadJoinSecret('', join(dir, 'data'));
  const token = (user: string, role: 'learner' | 'instructor', channel: string): string =>
    signJoinToken({ sub: user, name: user.toUpperCase(), role, channel, exp: Math.floor(Date.now() / 1000) + 3600 }, secret);
  const open: Client[] = [];
  t.teardown(() => { for (const c of open) c.close(); });
  /** Open hub sockets per process, as each process counts its own (kmk_hub_process_sockets{pid}). */
  const counts = async (): Promise<Map<number, number>> => {
    const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
    return new Map([...text.matchAll(/^kmk_hub_process_sockets\{pid="(\d+)"\} (\d+)$/gm)].map((m) => [Number(m[1]), Number(m[2])]));
  };
  const placed = new Map<Client, number>();
  const where = (c: Client): number | undefined => placed.get(c);
  /** A client whose socket the kernel gave to process `pid` (connections are spread by SO_REUSEPORT): the process
   * whose own count grew by one when it connected holds it. */
  // The worker listens a moment after the main process answers /healthz: until then every socket is the main's.
  await waitFor('both processes to report their sockets', async () => (await counts()).size === 2 || undefined, 30000);
  let attempt = 1;
  const connectOn = async (pid: number | 'any', user: string, role: 'learner' | 'instructor', channel: string): Promise<Client> => {
    // The kernel picks the process by a hash of the connection's addresses: from one client address, one run can
    // put every connection on the same process (seen on this box). Each attempt comes from another loopback
    // address, and misplaced ones stay open until one lands.
    const spares: Client[] = [];
    try {
      for (let i = 0; i < 60; i++) {
        const before = await counts();
        const from = `127.${(attempt >> 8) & 255}.${attempt & 255}.${2 + (i % 250)}`;
        attempt += 1;
        const c = await Client.connect(`ws://127.0.0.1:${http}/ws?token=${token(user, role, channel)}`, {}, from);
        await c.waitFor('welcome', () => c.messages.some((m) => m.t === 'welcome'));
        const at = await waitFor('the process whose count grew', async () => {
          const grown = [...await counts()].filter(([p, n]) => n === (before.get(p) ?? 0) + 1);
          return grown.length === 1 ? grown[0]![0] : undefined;
        }, 5000);
        placed.set(c, at);
        if (pid === 'any' || at === pid) {
          open.push(c);
          return c;
        }
        spares.push(c);
      }
      throw new Error(`no connection landed on process ${pid} in 60 tries`);
    } finally {
      for (const c of spares) await release(c);
    }
  };
  /** Closes a client and waits until its process no longer counts it (the next connectOn compares counts). */
  const release = async (c: Client): Promise<void> => {
    const at = placed.get(c);
    const was = at === undefined ? 0 : (await counts()).get(at) ?? 0;
    c.close();
    if (at !== undefined) await waitFor('the socket closed on its process', async () => ((await counts()).get(at) ?? 0) < was || undefined, 5000);
  };

  await t.test('learners on different processes see the same chat, poll tallies and question votes', async (t) => {
    const inst = await connectOn('any', 'prof', 'instructor', 'lecture');
    const a = await connectOn(main, 'ann', 'learner', 'lecture');
    const b = await connectOn(worker, 'bob', 'learner', 'lecture');
    const c = await connectOn(worker, 'cat', 'learner', 'lecture');
    const d = await connectOn(main, 'dan', 'learner', 'lecture');
    const all = [inst, a, b, c, d];
    t.not(where(a), where(b), 'ann and bob are on different processes');

    a.send({ t: 'chat', text: 'from the main process' });
    b.send({ t: 'chat', text: 'from the worker' });
    for (const x of all) await x.waitFor('both chats', () => chatTexts(x).length >= 2);
    const order = chatTexts(a);
    t.same(order.slice().sort(), ['from the main process', 'from the worker']);
    for (const x of all) t.same(chatTexts(x), order, 'every learner sees the same chat in the same order');

    inst.send({ t: 'poll_create', question: 'Ready?', options: ['yes', 'no'] });
    const poll = await a.event('poll');
    const pollId = (poll.poll as { id: string }).id;
    a.send({ t: 'poll_vote', id: pollId, option: 0 });
    b.send({ t: 'poll_vote', id: pollId, option: 1 });
    c.send({ t: 'poll_vote', id: pollId, option: 1 });
    for (const x of all) await x.waitFor('the tally of three votes', () => lastPoll(x)?.total === 3);
    for (const x of all) t.same(lastPoll(x)?.counts, [1, 2], 'the same tally everywhere');

    b.send({ t: 'ask', text: 'What is a backplane?' });
    const q = await d.event('question');
    const qid = (q.q as { id: string }).id;
    for (const x of [a, c, d]) x.send({ t: 'q_vote', id: qid });
    for (const x of all) await x.waitFor('three votes', () => lastQuestion(x)?.votes === 3);
    t.pass('every learner sees 3 votes on the question');
  });

  await t.test('a learner rate-limited on one process is limited on the other', async (t) => {
    const r1 = await connectOn(main, 'rita', 'learner', 'lecture');
    const r2 = await connectOn(worker, 'rita', 'learner', 'lecture');
    for (let i = 0; i < 5; i++) r1.send({ t: 'chat', text: `burst ${i}` });
    await r1.waitFor('the five chats', () => chatTexts(r1).filter((x) => x.startsWith('burst')).length === 5);
    r2.send({ t: 'chat', text: 'one more, from the other process' });
    const err = await r2.error('rate_limited');
    t.match(err.message, /at most 5 messages/);
    t.notOk(chatTexts(r1).includes('one more, from the other process'), 'the sixth message was not posted');
  });

  await t.test('redis-server restarting mid-class is survived', async (t) => {
    const a = await connectOn(main, 'amy', 'learner', 'lecture');
    const b = await connectOn(worker, 'ben', 'learner', 'lecture');
    await redis.restart();
    t.equal((await fetch(`http://127.0.0.1:${http}/healthz`)).status, 200, 'the server answers during and after');
    // Messages published while a subscriber was reconnecting may be lost (they were never acknowledged): send
    // until one crosses both ways.
    let n = 0;
    await waitFor('chat from the main process to the worker again', async () => {
      a.send({ t: 'chat', text: `after restart ${n++}` });
      await new Promise((r) => setTimeout(r, 500));
      return chatTexts(b).some((x) => x.startsWith('after restart'));
    }, 30000, 100);
    b.send({ t: 'chat', text: 'and back' });
    await a.waitFor('chat from the worker', () => chatTexts(a).includes('and back'), 10000);
    const metrics = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
    t.match(metrics, /^kmk_hub_backplane_connected 1$/m, 'both processes report the backplane connected');
    t.notOk(server.exitCode !== null, 'the server is still running');
  });

  await t.test('killing the process that owns a room loses no acknowledged message; another process takes over', async (t) => {
    // A room the worker owns: the lease in Redis names the owner's node (the main process's is in its log).
    const mainNode = Number(/hub backplane connected redis=\S+ node=(\d+)/.exec(log)?.[1]);
    const r = new Redis(redis.url);
    t.teardown(() => r.disconnect());
    let x: Client | undefined;
    let seminar = '';
    for (const name of ['seminar', 's2', 's3', 's4', 's5', 's6', 's7', 's8']) {
      const c = await connectOn(worker, 'xia', 'learner', name);
      const owner = await waitFor('the lease', async () => (await r.get(`kmk:hub:owner:${name}`)) ?? undefined);
      if (Number(owner) !== mainNode) {
        x = c;
        seminar = name;
        break;
      }
      await release(c);
    }
    if (!x) throw new Error('the worker never owned a room');
    const y = await connectOn(main, 'yan', 'learner', seminar);
    const sent = ['x1', 'x2', 'x3'].map((s) => `${s} from the owner's process`).concat(['y1', 'y2', 'y3'].map((s) => `${s} from the other process`));
    sent.slice(0, 3).forEach((text) => x.send({ t: 'chat', text }));
    sent.slice(3).forEach((text) => y.send({ t: 'chat', text }));
    await y.waitFor('all six acknowledged', () => sent.every((s) => chatTexts(y).includes(s)));
    process.kill(worker, 'SIGKILL');
    const db = new Database(join(dir, 'data', 'kmk.db'), { readonly: true });
    t.teardown(() => db.close());
    const stored = await waitFor('the six in SQLite', () => {
      const rows = db.prepare("SELECT text FROM chat_messages WHERE channel_id = (SELECT id FROM channels WHERE slug = ?)").all(seminar) as { text: string }[];
      return sent.every((s) => rows.some((r) => r.text === s)) ? rows : undefined;
    }, 15000);
    t.equal(stored.length, 6, 'every acknowledged message was written, once');
    await x.waitFor('its socket closed with the process', () => x.closed, 5000);

    // The main process takes the room over (the lease runs out) and its learner gets the room again.
    const welcomes = (): number => y.messages.filter((m) => m.t === 'welcome').length;
    await y.waitFor('a fresh welcome from the new owner', () => welcomes() >= 2, 20000);
    const fresh = y.messages.filter((m) => m.t === 'welcome').at(-1)!;
    const history = (fresh.room as { chat: { text: string }[] }).chat.map((m) => m.text);
    t.ok(sent.every((s) => history.includes(s)), 'the new owner has the whole chat history');
    const back = await connectOn('any', 'xia', 'learner', seminar);
    y.send({ t: 'chat', text: 'after the takeover' });
    await back.waitFor('chat after the takeover', () => chatTexts(back).includes('after the takeover'), 10000);
    t.pass('the reconnected learner and the other process talk again');

    const restarted = await waitFor('the pool to restart the worker', () => {
      const w = workerOf(main);
      return w !== undefined && w !== worker ? w : undefined;
    }, 20000);
    t.not(restarted, worker, 'a new worker process');
    worker = restarted;
  });

  await t.test('/metrics adds up every process', async (t) => {
    const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
    const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    t.ok(value('kmk_hub_forwarded_total') + value('kmk_hub_fanned_in_total') > 0, 'messages crossed between processes');
    t.ok(value('kmk_hub_backplane_lag_seconds_count') > 0, 'the backplane lag was measured');
    t.ok(value('kmk_hub_fanout_seconds_count') > 0, 'the fan-out latency was measured');
    t.equal(value('kmk_hub_writer_active'), 1, 'one writer');
    t.ok(value('kmk_hub_rooms_owned') >= 2, 'the rooms in use are owned');
  });

  server.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM stops the main process and its workers cleanly');
  t.equal(workerOf(main), undefined, 'no worker left behind');
});

t.test('--workers above 1 without a backplane is refused with the fix', async (t) => {
  const dir = testdir(t);
  const env = { KMK_BIND_ADDRESS: '127.0.0.1', KMK_HTTP_PORT: String(await freePort()), KMK_RTMP_PORT: String(await freePort()) };
  const { cli } = await import('./helpers/cli.js');
  const r = cli(dir, ['serve', '--workers', '2'], env);
  t.equal(r.code, 2);
  t.match(r.stderr, /--workers 2 needs hub\.backplane.*KMK_HUB_REDIS_URL/s);
  const bad = cli(dir, ['serve', '--workers', 'lots'], env);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--workers must be a whole number from 1 to 64/);
});

t.test('a backplane that does not answer fails the start clearly', async (t) => {
  const dir = testdir(t);
  const env = { KMK_BIND_ADDRESS: '127.0.0.1', KMK_HTTP_PORT: String(await freePort()), KMK_RTMP_PORT: String(await freePort()), KMK_HUB_REDIS_URL: `redis://127.0.0.1:${await freePort()}` };
  const { cliAsync } = await import('./helpers/cli.js');
  const r = await cliAsync(dir, ['serve'], env);
  t.equal(r.code, 1);
  t.match(r.stderr, /hub\.backplane redis:\/\/127\.0\.0\.1:\d+: cannot connect to Redis/);
});
