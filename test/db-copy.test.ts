// `kmk-live db copy --to postgres://…` from a store with every kind of row, into a PostgreSQL the test starts:
// counts checked, the same answers from both stores, safe to run again, a foreign target refused.

import t from 'tap';
import { join } from 'node:path';
import { asStore, openPgStore, openStore } from '../src/store/index.js';
import { COPY_ORDER } from '../src/store/copy.js';
import type { EngagementOp } from '../src/domain/records.js';
import { cliAsync } from './helpers/cli.js';
import { startPostgres } from './helpers/postgres.js';
import { testdir } from './helpers/testdir.js';

const newChannel = (slug: string) => ({ slug, title: slug, ladder: ['720p'] as '720p'[], latency: 'standard' as const, record: true, archive: false, overflow: 'degrade' as const });

t.test('db copy: every row into PostgreSQL, counts checked, the same answers, idempotent; a foreign target refused', async (t) => {
  const dir = testdir(t);
  const pg = await startPostgres();
  t.teardown(() => pg.destroy());
  const url = await pg.database();

  // A store with a row in every table.
  const file = join(dir, 'data', 'kmk.db');
  const sync = openStore(file);
  const { channel, key } = sync.channels.createWithKey(newChannel('math-101'));
  sync.apiTokens.create('ops', ['admin']);
  const p = sync.lti.addPlatform({ issuer: 'https://lms.example', clientId: 'c1', authUrl: 'https://a', tokenUrl: 'https://t', jwksUrl: 'https://j', deploymentIds: ['d1'] });
  sync.lti.addKey({ kid: 'k1', privateJwk: '{"k":1}', publicJwk: '{}', createdAt: 1 });
  sync.lti.saveLogin({ state: 'st', nonce: 'n', platformId: p.id, storageTarget: null, expiresAt: Date.now() + 3600_000, binding: 'b' });
  sync.lti.useNonce('nonce-1', Date.now() + 3600_000, Date.now());
  const course = sync.classes.upsertLtiCourse({ platformId: p.id, deploymentId: 'd1', contextId: 'ctx', title: 'Maths', nrpsUrl: null, agsLineItems: null, agsScopes: [] });
  sync.classes.setCourseChannel(course.id, channel.id);
  const s = sync.sessions.start(channel.id, true);
  sync.sessions.setSource(s.id, { codec: 'h264', width: 1280, height: 720, fps: 29.97, audioCodec: 'aac' }, ['720p'], 'passthrough');
  sync.sessions.end(s.id, 'publisher ended');
  const k = sync.classes.schedule({ courseId: course.id, channelId: channel.id, title: 'Week 1', startsAt: Date.now(), minutes: 60, record: true, archive: false });
  sync.classes.attachSession(k.id, s.id);
  sync.lti.saveLink(p.id, 'rl1', course.id, 'https://li/1', k.id);
  sync.lti.enqueue({ key: 'pb:1', kind: 'passback', classId: k.id, payload: '{"x":1}' }, Date.now());
  sync.classes.replaceRoster(course.id, [{ userId: 'u1', ltiSub: 's1', name: 'Ana', email: 'a@x', role: 'learner', active: true }], Date.now());
  sync.mux.createJob(s.id);
  sync.mux.firstSeen('ev1', 'video.asset.ready');
  const now = Date.now();
  const ops: EngagementOp[] = [
    { op: 'chat', msg: { id: 'm1', userId: 'u1', name: 'Ana', role: 'learner', text: 'first', at: now }, sessionId: s.id, channelId: channel.id },
    { op: 'chat', msg: { id: 'm2', userId: 'u1', name: 'Ana', role: 'learner', text: 'second', at: now }, sessionId: s.id, channelId: channel.id },
    { op: 'question', q: { id: 'q1', userId: 'u1', name: 'Ana', role: 'learner', text: 'why?', status: 'open', at: now, votes: 0 }, sessionId: s.id, channelId: channel.id },
    { op: 'question_vote', id: 'q1', userId: 'u2', on: true, channelId: channel.id },
    { op: 'poll', poll: { id: 'p1', question: '?', options: ['a', 'b'], counts: [0, 0], total: 0, closed: false, at: now }, sessionId: s.id, channelId: channel.id },
    { op: 'poll_vote', id: 'p1', userId: 'u1', option: 1, channelId: channel.id },
    { op: 'ban', userId: 'troll', by: 'prof', at: now, channelId: channel.id },
    { op: 'mute', userId: 'loud', until: now + 3600_000, channelId: channel.id },
    { op: 'attend', key: 'a1', userId: 'u1', name: 'Ana', role: 'learner', sessionId: s.id, at: now, channelId: channel.id },
    { op: 'tally', kind: 'hand', userId: 'u1', sessionId: s.id, n: 1, channelId: channel.id },
    { op: 'caption', cue: { id: 'c1', start: now, end: now + 2000, text: 'hello', lang: 'en', by: 'cap' }, sessionId: s.id, channelId: channel.id },
    { op: 'stage', userId: 'u1', name: 'Ana', sessionId: s.id, joinedAt: now, leftAt: now + 5000, channelId: channel.id },
  ];
  sync.engagement.apply(ops);
  sync.beacons.add({ channelId: channel.id, sessionId: s.id, userId: 'u1', at: now, startupMs: 800, rebuffers: 1, rebufferMs: 300, playedMs: 60000, bitrate: 900000, rendition: '720p', latencyMs: 5000, errors: ['x'] });
  sync.reports.addTraffic([{ sessionId: s.id, kind: 'live', rendition: '720p', bytes: 123456, requests: 10 }]);
  for (const table of COPY_ORDER) {
    t.ok((sync.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n > 0, `the file has a ${table} row`);
  }
  const fileStore = asStore(sync);

  const env = { KMK_PATHS_DATA: join(dir, 'data') };
  const bad = await cliAsync(dir, ['db', 'copy', '--to', 'mysql://x'], env);
  t.equal(bad.code, 2, 'a URL that is not PostgreSQL: a usage error');
  t.match(bad.stderr, /expected a postgres:\/\/ URL/);
  const first = await cliAsync(dir, ['db', 'copy', '--to', url, '--json'], env);
  t.equal(first.code, 0, first.stderr);
  const report = JSON.parse(first.stdout) as { tables: { table: string; source: number; copied: number; target: number }[] };
  t.same(report.tables.map((r) => r.table), [...COPY_ORDER]);
  for (const r of report.tables) t.ok(r.copied === r.source && r.target === r.source, `${r.table}: ${r.source} in the file, ${r.copied} copied, ${r.target} in the target`);
  const again = await cliAsync(dir, ['db', 'copy', '--to', url, '--json'], env);
  t.equal(again.code, 0, again.stderr);
  t.same((JSON.parse(again.stdout) as typeof report).tables.map((r) => r.copied), COPY_ORDER.map(() => 0), 'run again: nothing copied twice');
  const human = await cliAsync(dir, ['db', 'copy', '--to', url], env);
  t.match(human.stdout, /Every row of the file is in the target/);
  t.notMatch(human.stdout + human.stderr, /password/, 'no secret printed');

  // The same answers from both stores.
  const shared = openPgStore(url);
  t.teardown(() => shared.close());
  await shared.ready();
  t.equal(shared.read.channelForKey(key), channel.id, 'the stream key opens the channel');
  t.same(await shared.sessions.get(s.id), await fileStore.sessions.get(s.id));
  t.same(await shared.reports.records(s.id), await fileStore.reports.records(s.id));
  t.same(await shared.engagement.loadRoom(channel.id, s.id, 10), await fileStore.engagement.loadRoom(channel.id, s.id, 10));
  t.same(await shared.engagement.captions(s.id), await fileStore.engagement.captions(s.id), 'caption lines (number columns read back as numbers)');
  t.equal((await shared.engagement.captions(s.id))[0]?.text, 'hello');
  t.same(await shared.engagement.stageSpells(s.id), await fileStore.engagement.stageSpells(s.id), 'stage spells');
  t.same(await shared.lti.platforms(), await fileStore.lti.platforms());
  t.same(await shared.lti.outbox({ all: true }), await fileStore.lti.outbox({ all: true }));
  t.same(await shared.classes.list(), await fileStore.classes.list());
  t.same(await shared.classes.roster(course.id), await fileStore.classes.roster(course.id));
  t.same(await shared.mux.job(s.id), await fileStore.mux.job(s.id));
  t.equal(await shared.reports.bytesServed(s.id), 123456);
  t.equal((await shared.apiTokens.list()).length, 1);
  const next = await shared.channels.create(newChannel('bio-200'));
  t.ok(next.id > channel.id, 'a channel made afterwards gets an id past the copied ones');

  // Another installation's database is refused, and nothing is written into it.
  const foreign = await pg.database();
  const other = openPgStore(foreign);
  await other.ready();
  await other.channels.create(newChannel('art-1'));
  await other.close();
  const refused = await cliAsync(dir, ['db', 'copy', '--to', foreign], env);
  t.equal(refused.code === 0, false);
  t.match(refused.stderr, /already holds other channels/);
  const check = openPgStore(foreign);
  t.teardown(() => check.close());
  t.same((await check.channels.list()).map((c) => c.slug), ['art-1'], 'the refused copy left nothing');
  sync.close();
});
