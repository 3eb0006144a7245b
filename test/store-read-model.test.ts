// The store's two faces over one SQLite file: the read model the synchronous hot paths read (current with writes
// from another connection, as the CLI makes them, reloading only what changed) and the asynchronous Store the
// server runs on (queries promised, errors as rejections, the live path's commands taken at once).

import t from 'tap';
import { join } from 'node:path';
import { asStore, openStore } from '../src/store/index.js';
import { openDb } from '../src/store/sqlite/db.js';
import { NotFoundError, ConflictError } from '../src/domain/errors.js';
import { testdir } from './helpers/testdir.js';

const newChannel = (slug: string) => ({
  slug, title: slug, ladder: ['480p'] as '480p'[], latency: 'standard' as const, record: true, archive: false, overflow: 'degrade' as const,
});

t.test('the read model sees another connection\'s writes at its next read, and reloads only the table that changed', async (t) => {
  const file = join(testdir(t), 'kmk.db');
  const server = openStore(file);
  const cli = openStore(file); // as `kmk-live` would, in its own process
  t.teardown(() => { server.close(); cli.close(); });
  const read = server.read;
  t.equal(read.channel('math-101'), undefined);
  const { channel, key } = cli.channels.createWithKey(newChannel('math-101'));
  t.equal(read.channel('math-101')?.id, channel.id, 'a channel made elsewhere is there at the next read');
  t.equal(read.channelById(channel.id)?.slug, 'math-101');
  t.equal(read.channelForKey(key), channel.id, 'its key opens it');
  t.equal(read.channelForKey('not-a-key'), undefined);

  const before = { ...read.reloads };
  for (let i = 0; i < 100; i++) read.channel('math-101');
  t.same(read.reloads, before, 'reads without writes reload nothing');
  cli.streamKeys.channelForKey(key); // marks the key used: a write, but not one the read model copies
  server.streamKeys.markUsed(channel.id);
  read.channelForKey(key);
  t.same(read.reloads, before, 'marking a key used reloads nothing');

  const second = cli.streamKeys.rotate(channel.id);
  t.equal(read.channelForKey(key), undefined, 'a key rotated elsewhere no longer opens the channel');
  t.equal(read.channelForKey(second.key), channel.id);
  t.same({ ...read.reloads, stream_keys: before.stream_keys }, before, 'only the keys were read again');
  t.equal(read.reloads.stream_keys, before.stream_keys + 1);
  cli.streamKeys.revoke(channel.id);
  t.equal(read.channelForKey(second.key), undefined, 'a revoked key opens nothing');

  cli.channels.update('math-101', { title: 'Maths' });
  t.equal(read.channel('math-101')?.title, 'Maths');
  t.equal(read.joinTokensAfter('math-101'), 0);
  const epoch = cli.channels.endJoinTokens('math-101');
  t.equal(read.joinTokensAfter('math-101'), epoch, 'ending join tokens elsewhere is seen');
  cli.mux.setChannelStream('math-101', 'ls1', 'pb1');
  t.equal(read.muxStream('math-101'), null);
  cli.mux.setStreamStatus('ls1', 'active', '2026-12-04T10:00:00.000Z');
  t.same(read.muxStream('math-101'), { status: 'active', at: '2026-12-04T10:00:00.000Z' });

  cli.channels.delete('math-101');
  t.equal(read.channel('math-101'), undefined, 'a channel deleted elsewhere is gone');
  t.equal(read.channelById(channel.id), undefined);
});

t.test('sessions, scheduled classes and LMS platforms in the read model', async (t) => {
  const file = join(testdir(t), 'kmk.db');
  const server = openStore(file);
  const cli = openStore(file);
  t.teardown(() => { server.close(); cli.close(); });
  const read = server.read;
  const c = cli.channels.create(newChannel('bio-200'));
  const s = server.sessions.start(c.id, true);
  t.equal(read.openSession('bio-200'), s.id, 'the open session of a channel');
  t.equal(read.sessionChannel(s.id), 'bio-200');
  t.equal(read.sessionChannel('nosuchsession000'), undefined);
  cli.sessions.end(s.id, 'publisher left');
  t.equal(read.openSession('bio-200'), undefined, 'ended elsewhere: no longer open');
  t.equal(read.sessionChannel(s.id), 'bio-200', 'a recording keeps its channel');

  t.same(read.classesOf(c.id), []);
  const k = cli.classes.schedule({ courseId: null, channelId: c.id, title: 'Cells', startsAt: Date.parse('2026-12-05T09:00:00Z'), minutes: 50, record: true, archive: false });
  t.same(read.classesOf(c.id).map((x) => x.id), [k.id]);
  cli.classes.cancel(k.id);
  t.same(read.classesOf(c.id), [], 'a cancelled class is left out');

  t.same(read.platforms(), []);
  const p = cli.lti.addPlatform({ issuer: 'https://lms.example', clientId: 'abc', authUrl: 'https://lms.example/auth', tokenUrl: 'https://lms.example/token', jwksUrl: 'https://lms.example/jwks', deploymentIds: ['1'] });
  t.same(read.platforms().map((x) => x.issuer), ['https://lms.example']);
  cli.lti.addDeployment(p.id, '2');
  t.same(read.platforms()[0]?.deploymentIds, ['1', '2'], 'a deployment added elsewhere is seen');
  cli.lti.removePlatform(p.id);
  t.same(read.platforms(), []);
});

t.test('the asynchronous Store: queries promised, errors as rejections, commands at once', async (t) => {
  const sqlite = openStore(join(testdir(t), 'kmk.db'));
  const store = asStore(sqlite);
  t.teardown(() => store.close());
  const made = store.channels.createWithKey(newChannel('art-3'));
  t.ok(made instanceof Promise, 'a write the caller waits for is a promise');
  const { channel, key } = await made;
  t.equal(store.read.channelForKey(key), channel.id);
  await t.rejects(store.channels.get('nope'), NotFoundError, 'a thrown error arrives as a rejection');
  await t.rejects(store.channels.createWithKey(newChannel('art-3')), ConflictError);
  t.same((await store.channels.list()).map((c) => c.slug), ['art-3'], 'the refused create left no channel');
  t.equal((await store.streamKeys.list(channel.id)).length, 1, 'and no second key');

  const s = store.sessions.start(channel.id, false);
  t.type(s.id, 'string', 'a session starts at once (admission does not wait)');
  store.sessions.update(s.id, { bytesIn: 1234 });
  store.sessions.end(s.id, 'done');
  t.match(await store.sessions.get(s.id), { bytesIn: 1234, endReason: 'done' });
  store.reports.addEncodeCpu(s.id, 500);
  t.equal(sqlite.reports.encodeCpuMs(s.id), 500);
  t.same(await store.migrate(), { version: sqlite.migrate().version, applied: [] });
});

t.test('a database opened read-only before its migrations (doctor) still opens', async (t) => {
  const file = join(testdir(t), 'old.db');
  openDb(file, { migrate: false }).close();
  const store = openStore(file, { readonly: true, migrate: false });
  t.teardown(() => store.close());
  t.throws(() => store.read.channel('x'), /read_versions/, 'the read model is only touched when read');
});
