// The store's contract (src/store/ports.ts), one suite run on both engines: the embedded SQLite file and a
// PostgreSQL started by the test (Debian's postgresql, on a loopback port). Each case gets a fresh store.

import t from 'tap';
import { join } from 'node:path';
import { asStore, openPgStore, openStore, type Store } from '../src/store/index.js';
import { LATEST_VERSION } from '../src/store/sqlite/migrations.js';
import { PG_LATEST_VERSION } from '../src/store/pg/index.js';
import { toPg } from '../src/store/pg/run.js';
import { ConflictError, NotFoundError, ValidationError } from '../src/domain/errors.js';
import type { EngagementOp } from '../src/domain/records.js';
import { startPostgres, type Postgres } from './helpers/postgres.js';
import { retentionTasks } from '../src/classes/housekeeping.js';
import { testdir } from './helpers/testdir.js';
import { waitFor } from './helpers/server.js';

const newChannel = (slug: string) => ({
  slug, title: slug, ladder: ['720p', '480p'] as ('720p' | '480p')[], latency: 'standard' as const,
  record: true, archive: false, overflow: 'degrade' as const,
});

t.test('both engines are at the same schema version; the PostgreSQL runner numbers placeholders', async (t) => {
  t.equal(PG_LATEST_VERSION, LATEST_VERSION);
  t.equal(toPg("SELECT * FROM x WHERE a = ? AND b = '?' AND c = ? ORDER BY rowid"), "SELECT * FROM x WHERE a = $1 AND b = '?' AND c = $2 ORDER BY seq");
});

type Engine = { name: string; open(t: Tap.Test): Promise<{ store: Store; second(): Promise<Store> }> };

let pgServer: Postgres | undefined;
const engines: Engine[] = [
  {
    name: 'sqlite',
    open: async (t) => {
      const file = join(testdir(t), 'kmk.db');
      const store = asStore(openStore(file));
      t.teardown(() => store.close());
      return { store, second: async () => { const s = asStore(openStore(file)); t.teardown(() => s.close()); return s; } };
    },
  },
  {
    name: 'postgres',
    open: async (t) => {
      pgServer ??= await startPostgres();
      const url = await pgServer.database();
      const store = openPgStore(url, { node: 'box-a' });
      t.teardown(() => store.close());
      await store.ready();
      return { store, second: async () => { const s = openPgStore(url); t.teardown(() => s.close()); await s.ready(); return s; } };
    },
  },
];

t.teardown(() => pgServer?.destroy());

t.test('postgres: a class starts on one box only — the same key on two boxes at once gives one session', async (t) => {
  pgServer ??= await startPostgres();
  const url = await pgServer.database();
  const a = openPgStore(url, { node: 'box-a' });
  const b = openPgStore(url, { node: 'box-b' });
  t.teardown(async () => { await a.close(); await b.close(); });
  await Promise.all([a.ready(), b.ready()]);
  const c = await a.channels.create(newChannel('race-1'));
  await b.read.sync();
  const sa = a.sessions.start(c.id, true);
  const sb = b.sessions.start(c.id, true);
  const outcomes = await Promise.all([a.sessions.claimed!(sa.id), b.sessions.claimed!(sb.id)]);
  t.same(outcomes.filter((o) => o === null).length, 1, 'one box claimed it');
  t.ok(outcomes.includes('box-a') || outcomes.includes('box-b'), `the other was told who runs it (${JSON.stringify(outcomes)})`);
  const sessions = await a.sessions.list({ channel: 'race-1' });
  t.equal(sessions.length, 1, 'one session written');
  t.equal(sessions[0]!.id, outcomes[0] === null ? sa.id : sb.id);
  await waitFor('both read models agree', () => a.read.openSession('race-1') === sessions[0]!.id && b.read.openSession('race-1') === sessions[0]!.id, 3000, 20);
  t.pass('both read models name the one session');
});

t.test('postgres: retention runs on one box; a box that dies holding it is replaced once its lease lapses', async (t) => {
  pgServer ??= await startPostgres();
  const url = await pgServer.database();
  const a = openPgStore(url, { node: 'box-a' });
  const b = openPgStore(url, { node: 'box-b' });
  let aClosed = false;
  t.teardown(async () => { if (!aClosed) await a.close(); await b.close(); });
  await Promise.all([a.ready(), b.ready()]);
  const c = await a.channels.create(newChannel('keep-1'));
  const s = a.sessions.start(c.id, true);
  const day = 86400000;
  const t0 = Date.now();
  const beacon = (at: number) => ({ channelId: c.id, sessionId: s.id, userId: 'u1', at, startupMs: 900, rebuffers: 0, rebufferMs: 0, playedMs: 10000, bitrate: 800000, rendition: '720p' as const, latencyMs: 4000, errors: [] });
  const tasks = (store: Store, node: string) => retentionTasks({
    beacons: store.beacons, classes: store.classes, beaconRetentionDays: 30,
    mayRun: (name, now) => store.nodes.tryLease(name, node, now, 1800_000),
  });
  const run = async (store: Store, node: string, now: number) => {
    let deleted = 0;
    for (const task of tasks(store, node)) deleted += await task.run(now);
    return deleted;
  };
  a.beacons.add(beacon(t0 - 40 * day));
  t.equal(await a.beacons.playersSince(c.id, 0), 1, 'an old beacon (a read waits for the queued write)');
  t.equal(await run(a, 'box-a', t0), 1, 'box A holds retention and deletes the old beacon');
  b.beacons.add(beacon(t0 - 40 * day));
  t.equal(await b.beacons.playersSince(c.id, 0), 1, 'another old beacon');
  t.equal(await run(b, 'box-b', t0 + 60_000), 0, 'box B, a minute later, leaves it to box A');
  await a.close(); // box A dies holding the lease
  aClosed = true;
  t.equal(await run(b, 'box-b', t0 + 20 * 60_000), 0, 'not before the lease lapses');
  t.equal(await run(b, 'box-b', t0 + 31 * 60_000), 1, 'box B takes over once it lapsed');
  t.equal(await run(b, 'box-b', t0 + 40 * 60_000), 0, 'and holds it: nothing left to delete');
});

for (const engine of engines) {
  t.test(engine.name, async (t) => {
    t.test('migrations: at the latest version, nothing to apply the second time', async (t) => {
      const { store } = await engine.open(t);
      t.same(await store.migrate(), { version: LATEST_VERSION, applied: [] });
    });

    t.test('channels: create, a unique slug, update, delete; the read model follows at once', async (t) => {
      const { store } = await engine.open(t);
      const c = await store.channels.create(newChannel('math-101'));
      t.equal(c.slug, 'math-101');
      t.equal(typeof c.id, 'number');
      t.equal(c.record, true);
      await t.rejects(store.channels.create(newChannel('math-101')), ConflictError);
      t.equal(store.read.channel('math-101')?.id, c.id, 'in the read model when the write resolves');
      const u = await store.channels.update('math-101', { title: 'Mathematics', latency: 'ultra' });
      t.equal(u.title, 'Mathematics');
      t.equal(u.latency, 'ultra');
      t.equal(store.read.channel('math-101')?.latency, 'ultra');
      t.same((await store.channels.list()).map((x) => x.slug), ['math-101']);
      const after = await store.channels.endJoinTokens('math-101');
      t.equal(store.read.joinTokensAfter('math-101'), after);
      await store.channels.delete('math-101');
      await t.rejects(store.channels.get('math-101'), NotFoundError);
      t.equal(store.read.channel('math-101'), undefined);
    });

    t.test('a channel and its key are made together or not at all; a rotated key replaces the old one at once', async (t) => {
      const { store } = await engine.open(t);
      const made = await store.channels.createWithKey(newChannel('bio-200'));
      t.equal(store.read.channelForKey(made.key), made.channel.id);
      await t.rejects(store.channels.createWithKey(newChannel('bio-200')), ConflictError);
      t.equal((await store.streamKeys.list(made.channel.id)).length, 1, 'the failed pair left no key');
      const next = await store.streamKeys.rotate(made.channel.id);
      t.equal(store.read.channelForKey(made.key), undefined, 'the old key opens nothing');
      t.equal(store.read.channelForKey(next.key), made.channel.id);
      t.same((await store.streamKeys.list(made.channel.id)).map((k) => k.active), [true, false]);
      t.equal(await store.streamKeys.revoke(made.channel.id), true);
      t.equal(await store.streamKeys.revoke(made.channel.id), false);
      t.equal(store.read.channelForKey(next.key), undefined);
    });

    t.test('API tokens: shown once, verified by hash, one active per name, revoked', async (t) => {
      const { store } = await engine.open(t);
      const { token, info } = await store.apiTokens.create('ops', ['channels:read'], ['math-101']);
      t.same(info.channels, ['math-101']);
      t.equal((await store.apiTokens.verify(token))?.name, 'ops');
      t.equal(await store.apiTokens.verify(token + 'x'), undefined);
      await t.rejects(store.apiTokens.create('ops', ['admin']), ConflictError);
      await t.rejects(store.apiTokens.create('x', ['admin'], ['a']), ValidationError);
      await store.apiTokens.revoke('ops');
      t.equal(await store.apiTokens.verify(token), undefined);
      t.equal((await store.apiTokens.list(true)).length, 1);
    });

    t.test('sessions: the start command answers at once; what follows reads it; end closes it', async (t) => {
      const { store } = await engine.open(t);
      const c = await store.channels.create(newChannel('art-3'));
      const s = store.sessions.start(c.id, true);
      t.match(s, { channel: 'art-3', recorded: true, endedAt: null, ladder: [], bytesIn: 0 });
      t.equal(store.read.openSession('art-3'), s.id, 'open in the read model at once');
      store.sessions.setSource(s.id, { codec: 'h264', width: 1280, height: 720, fps: 30, audioCodec: 'aac' }, ['720p', '480p'], 'encoded');
      store.sessions.update(s.id, { bytesIn: 1234, reconnects: 1 });
      const got = await store.sessions.get(s.id);
      t.same({ ...got, source: got.source }, { ...s, source: { codec: 'h264', width: 1280, height: 720, fps: 30, audioCodec: 'aac', ingest: 'rtmp' }, ladder: ['720p', '480p'], topRung: 'encoded', bytesIn: 1234, reconnects: 1 });
      t.same((await store.sessions.open()).map((o) => o.id), [s.id]);
      t.equal(store.read.sessionChannel(s.id), 'art-3');
      store.sessions.end(s.id, 'publisher ended');
      t.equal(store.read.openSession('art-3'), undefined);
      const ended = await store.sessions.get(s.id);
      t.equal(ended.endReason, 'publisher ended');
      t.ok(ended.endedAt);
      const s2 = store.sessions.start(c.id, false);
      t.equal(await store.sessions.endAllOpen('server restarted'), 1);
      t.equal((await store.sessions.get(s2.id)).endReason, 'server restarted');
      t.same((await store.sessions.list({ channel: 'art-3', limit: 1 })).length, 1);
      t.equal(await store.sessions.find('not-a-session'), undefined);
    });

    t.test('engagement: a batch is written whole; a room loads its chat, questions, polls, bans and mutes', async (t) => {
      const { store } = await engine.open(t);
      const c = await store.channels.create(newChannel('chem-1'));
      const s = store.sessions.start(c.id, true);
      const now = Date.now();
      const msg = (id: string, at: number) => ({ id, userId: 'u1', name: 'Ana', role: 'learner' as const, text: `hi ${id}`, at });
      const ops: EngagementOp[] = [
        { op: 'chat', msg: msg('m1', now), sessionId: s.id, channelId: c.id },
        { op: 'chat', msg: msg('m2', now), sessionId: s.id, channelId: c.id },
        { op: 'chat', msg: msg('m3', now + 1), sessionId: s.id, channelId: c.id },
        { op: 'chat_delete', id: 'm3', at: now + 2, channelId: c.id },
        { op: 'question', q: { id: 'q1', userId: 'u1', name: 'Ana', role: 'learner', text: 'why?', status: 'open', at: now, votes: 0 }, sessionId: s.id, channelId: c.id },
        { op: 'question_vote', id: 'q1', userId: 'u2', on: true, channelId: c.id },
        { op: 'question_vote', id: 'q1', userId: 'u3', on: true, channelId: c.id },
        { op: 'question_vote', id: 'q1', userId: 'u3', on: false, channelId: c.id },
        { op: 'poll', poll: { id: 'p1', question: 'A or B?', options: ['A', 'B'], counts: [0, 0], total: 0, closed: false, at: now }, sessionId: s.id, channelId: c.id },
        { op: 'poll_vote', id: 'p1', userId: 'u1', option: 0, channelId: c.id },
        { op: 'poll_vote', id: 'p1', userId: 'u2', option: 1, channelId: c.id },
        { op: 'poll_vote', id: 'p1', userId: 'u2', option: 0, channelId: c.id },
        { op: 'ban', userId: 'troll', by: 'teacher', at: now, channelId: c.id },
        { op: 'ban', userId: 'troll', by: 'teacher', at: now, channelId: c.id },
        { op: 'mute', userId: 'loud', until: now + 60000, channelId: c.id },
        { op: 'tally', kind: 'reaction', userId: 'u1', sessionId: s.id, n: 2, channelId: c.id },
        { op: 'tally', kind: 'reaction', userId: 'u1', sessionId: s.id, n: 3, channelId: c.id },
        { op: 'tally', kind: 'hand', userId: 'u1', sessionId: s.id, n: 1, channelId: c.id },
        { op: 'attend', key: 'a1', userId: 'u1', name: 'Ana', role: 'learner', sessionId: s.id, at: now, channelId: c.id },
        { op: 'leave', key: 'a1', at: now + 5000, channelId: c.id },
      ];
      await store.engagement.apply(ops);
      const room = await store.engagement.loadRoom(c.id, s.id, 10);
      t.same(room.chat!.map((m) => m.id), ['m1', 'm2'], 'deleted messages left out, oldest first, ties in the order written');
      t.same(room.questions!.map((q) => [q.id, q.votes, q.voters]), [['q1', 1, ['u2']]]);
      t.same(room.polls!.map((p) => [p.id, p.counts, p.total]), [['p1', [2, 0], 2]]);
      t.same(room.bans, ['troll']);
      t.same(room.mutes, [['loud', now + 60000]]);
      t.same((await store.engagement.loadRoom(c.id, s.id, 1)).chat!.map((m) => m.id), ['m2'], 'the newest within the history size');
      t.same((await store.engagement.attendance(s.id)).map((a) => [a.userId, a.joinedAt, a.leftAt]), [['u1', now, now + 5000]]);
      const records = await store.reports.records(s.id);
      t.same(records.tallies, [{ userId: 'u1', reactions: 5, hands: 1 }]);
      t.equal(records.chat.length, 3);
      t.same(records.pollVotes.length, 2);
      await t.rejects(store.engagement.apply([{ op: 'chat', msg: msg('m9', now), sessionId: s.id, channelId: 999999 }]), 'a batch naming no channel fails');
      t.equal((await store.reports.records(s.id)).chat.length, 3, 'and leaves nothing');
    });

    t.test('reports: traffic adds up, encode CPU is a command, sessions between two times', async (t) => {
      const { store } = await engine.open(t);
      const c = await store.channels.create(newChannel('geo-9'));
      const s = store.sessions.start(c.id, true);
      await store.reports.addTraffic([{ sessionId: s.id, kind: 'live', rendition: '720p', bytes: 1000, requests: 2 }]);
      await store.reports.addTraffic([{ sessionId: s.id, kind: 'live', rendition: '720p', bytes: 500, requests: 1 }, { sessionId: s.id, kind: 'replay', rendition: '480p', bytes: 7, requests: 1 }]);
      t.equal(await store.reports.bytesServed(s.id), 1507);
      store.reports.addEncodeCpu(s.id, 1500.4);
      store.sessions.end(s.id, 'done');
      const between = await store.reports.sessionsBetween(Date.now() - 60000, Date.now() + 1000);
      t.same(between.map((b) => [b.id, b.channel, b.encodeCpuMs, b.overflow]), [[s.id, 'geo-9', 1500, false]]);
      store.beacons.add({ channelId: c.id, sessionId: s.id, userId: 'u1', at: Date.now(), startupMs: 900, rebuffers: 0, rebufferMs: 0, playedMs: 10000, bitrate: 800000, rendition: '720p', latencyMs: 4000, errors: [] });
      t.equal(await store.beacons.playersSince(c.id, Date.now() - 10000), 1);
      t.equal(await store.beacons.prune(Date.now() + 1), 1);
    });

    t.test('LTI: platforms and deployments, keys, a login state and a nonce good once, the outbox', async (t) => {
      const { store } = await engine.open(t);
      const p = await store.lti.addPlatform({ issuer: 'https://lms.example', clientId: 'c1', authUrl: 'https://lms.example/auth', tokenUrl: 'https://lms.example/token', jwksUrl: 'https://lms.example/jwks', deploymentIds: ['d1', 'd1', 'd2'] });
      t.same(p.deploymentIds, ['d1', 'd2']);
      await t.rejects(store.lti.addPlatform({ issuer: 'https://lms.example', clientId: 'c1', authUrl: 'a', tokenUrl: 't', jwksUrl: 'j', deploymentIds: [] }), ConflictError);
      await store.lti.addDeployment(p.id, 'd3');
      t.same((await store.lti.platform(p.id)).deploymentIds, ['d1', 'd2', 'd3']);
      t.same(store.read.platforms().map((x) => x.deploymentIds.length), [3], 'the read model has the deployment');
      await store.lti.addKey({ kid: 'k1', privateJwk: '{}', publicJwk: '{}', createdAt: 1000 });
      await store.lti.addKey({ kid: 'k2', privateJwk: '{}', publicJwk: '{}', createdAt: 1000 });
      t.same((await store.lti.keys()).map((k) => [k.kid, k.retiredAt]), [['k2', null], ['k1', 1000]], 'newest first, the same second in the order made');
      const login = { state: 'st', nonce: 'n', platformId: p.id, storageTarget: null, expiresAt: Date.now() + 60000, binding: 'b' };
      t.equal(await store.lti.saveLogin(login), true);
      t.same(await store.lti.takeLogin('st', Date.now()), login);
      t.equal(await store.lti.takeLogin('st', Date.now()), undefined, 'a state is good once');
      t.equal(await store.lti.useNonce('nn', Date.now() + 60000, Date.now()), true);
      t.equal(await store.lti.useNonce('nn', Date.now() + 60000, Date.now()), false);
      const c = await store.channels.create(newChannel('lti-1'));
      const course = await store.classes.upsertLtiCourse({ platformId: p.id, deploymentId: 'd1', contextId: 'ctx', title: 'Course', nrpsUrl: null, agsLineItems: null, agsScopes: ['a', 'b'] });
      t.same((await store.classes.upsertLtiCourse({ platformId: p.id, deploymentId: 'd1', contextId: 'ctx', title: 'Course 2', nrpsUrl: 'https://n', agsLineItems: null, agsScopes: [] })).id, course.id);
      const k = await store.classes.schedule({ courseId: course.id, channelId: c.id, title: 'Week 1', startsAt: Date.now(), minutes: 60, record: true, archive: false });
      t.equal(await store.lti.enqueue({ key: 'pb:1', kind: 'passback', classId: k.id, payload: '{}' }, 1000), true);
      t.equal(await store.lti.enqueue({ key: 'pb:1', kind: 'passback', classId: k.id, payload: '{}' }, 1000), false, 'queued once');
      t.equal(await store.lti.pendingCount(), 1);
      const [item] = await store.lti.due(2000, 10);
      t.equal(await store.lti.nextDueAt(), 1000);
      await store.lti.retry(item!.id, 'boom', 5000, false);
      t.same(await store.lti.due(2000, 10), []);
      await store.lti.done(item!.id, 6000);
      t.equal(await store.lti.pendingCount(), 0);
      t.same((await store.lti.outbox({ all: true })).map((o) => [o.status, o.attempts, o.lastError]), [['done', 1, null]]);
      await store.lti.saveLink(p.id, 'rl1', course.id, 'https://li/1');
      t.same(await store.lti.link(p.id, 'rl1'), { courseId: course.id, classId: null, lineItemUrl: 'https://li/1' });
      t.same(await store.lti.courseLinkLineItems(course.id), ['https://li/1']);
      await store.lti.removePlatform(p.id);
      await t.rejects(store.lti.removePlatform(p.id), NotFoundError);
    });

    t.test('classes and rosters: a class takes its first session; a roster is replaced whole', async (t) => {
      const { store } = await engine.open(t);
      const c = await store.channels.create(newChannel('hist-1'));
      const course = await store.classes.createCourse('History', c.id);
      const k = await store.classes.schedule({ courseId: course.id, channelId: c.id, title: 'Rome', startsAt: Date.now(), minutes: 45, record: true, archive: false, confirmed: false });
      t.equal(k.confirmed, false);
      t.same(store.read.classesOf(c.id).map((x) => x.id), [k.id]);
      const s1 = store.sessions.start(c.id, true);
      const s2 = store.sessions.start(c.id, true);
      await store.classes.attachSession(k.id, s1.id);
      await store.classes.attachSession(k.id, s2.id);
      t.equal((await store.classes.bySession(s1.id))?.id, k.id, 'the first session wins');
      t.equal((await store.classes.get(k.id)).confirmed, true);
      await store.classes.replaceRoster(course.id, [
        { userId: 'u1', ltiSub: 's1', name: 'Ben', email: null, role: 'learner', active: true },
        { userId: 'u2', ltiSub: 's2', name: 'Ana', email: 'a@x', role: 'learner', active: false },
      ], 1);
      await store.classes.replaceRoster(course.id, [{ userId: 'u2', ltiSub: 's2', name: 'Ana', email: 'a@x', role: 'learner', active: true }], 2);
      t.same((await store.classes.roster(course.id)).map((m) => [m.userId, m.active]), [['u2', true]]);
      t.equal((await store.classes.cancel(k.id)).status, 'cancelled');
      t.same(store.read.classesOf(c.id), []);
    });

    t.test('Mux: an archive job leased by one holder at a time; a webhook event handled once', async (t) => {
      const { store } = await engine.open(t);
      const c = await store.channels.create(newChannel('mux-1'));
      const s = store.sessions.start(c.id, true);
      t.equal((await store.mux.createJob(s.id)).status, 'pending');
      t.equal(await store.mux.lease(s.id, 60000), true);
      t.equal(await store.mux.lease(s.id, 60000), false, 'held');
      await store.mux.updateJob(s.id, { status: 'uploading', uploadId: 'up1', bytesSent: 10 });
      t.match(await store.mux.jobByUpload('up1'), { sessionId: s.id, status: 'uploading', bytesSent: 10 });
      t.same((await store.mux.unfinishedJobs()).map((j) => j.sessionId), [s.id]);
      t.equal(await store.mux.firstSeen('ev1', 'video.asset.ready'), true);
      t.equal(await store.mux.firstSeen('ev1', 'video.asset.ready'), false);
      await store.mux.setChannelStream('mux-1', 'ls1', 'pb1');
      t.equal(await store.mux.setStreamStatus('ls1', 'active', '2026-01-01T00:00:02Z'), true);
      t.equal(await store.mux.setStreamStatus('ls1', 'idle', '2026-01-01T00:00:01Z'), false, 'an older event changes nothing');
      t.same(store.read.muxStream('mux-1'), { status: 'active', at: '2026-01-01T00:00:02Z' });
      await store.mux.markOverflow(s.id);
      t.equal(await store.mux.overflowSessionOf('mux-1'), s.id);
    });

    t.test('boxes: heartbeats, a lease held by one box until it lapses, one box per live channel', async (t) => {
      const { store } = await engine.open(t);
      const c = await store.channels.create(newChannel('box-1'));
      await store.nodes.beat({ name: 'a', url: 'http://a', rtmp: 'rtmp://a/live', startedAt: 1 }, '{"used":0}', 1000, 10000);
      await store.nodes.beat({ name: 'b', url: 'http://b', rtmp: 'rtmp://b/live', startedAt: 1 }, '{}', 1000, 10000);
      await store.nodes.beat({ name: 'a', url: 'http://a2', rtmp: 'rtmp://a/live', startedAt: 1 }, '{"used":5}', 2000, 10000);
      t.same((await store.nodes.list()).map((n) => [n.name, n.url, n.leaseUntil, n.load]), [['a', 'http://a2', 12000, '{"used":5}'], ['b', 'http://b', 11000, '{}']]);
      t.equal(await store.nodes.tryLease('outbox', 'a', 1000, 5000), true);
      t.equal(await store.nodes.tryLease('outbox', 'b', 2000, 5000), false, 'held by a');
      t.equal(await store.nodes.tryLease('outbox', 'a', 3000, 5000), true, 'a renews it');
      t.equal(await store.nodes.tryLease('outbox', 'b', 8001, 5000), true, 'lapsed: b takes it');
      await store.nodes.releaseLease('outbox', 'b');
      t.equal(await store.nodes.tryLease('outbox', 'a', 8002, 5000), true, 'released');
      t.equal(await store.nodes.claimChannel(c.id, 'a', 's_1', 1000, 10000), null);
      t.equal(await store.nodes.claimChannel(c.id, 'b', 's_2', 2000, 10000), 'a', 'b is told a runs it');
      t.equal(await store.nodes.claimChannel(c.id, 'a', 's_3', 3000, 10000), null, 'a again (a reconnect) keeps it');
      await store.nodes.renewClaims('a', ['s_3'], 5000, 10000);
      t.same(await store.nodes.claims(), [{ channelId: c.id, node: 'a', sessionId: 's_3', until: 15000 }]);
      t.equal(await store.nodes.claimChannel(c.id, 'b', 's_4', 15001, 10000), null, 'lapsed: b claims it');
      await store.nodes.renewClaims('b', [], 16000, 10000);
      t.same(await store.nodes.claims(), [], 'a box renewing no session drops its claims');
      await store.nodes.leave('a', 17000);
      t.equal((await store.nodes.list())[0]!.leaseUntil, 17000);
    });

    t.test('a write through a second connection (another process or box) reaches the read model', async (t) => {
      const { store, second } = await engine.open(t);
      const other = await second();
      const made = await other.channels.createWithKey(newChannel('shared-1'));
      const id = await waitFor('the channel in the first read model', () => store.read.channelForKey(made.key), 3000, 20);
      t.equal(id, made.channel.id);
      t.equal(store.read.channel('shared-1')?.slug, 'shared-1');
    });
  });
}
