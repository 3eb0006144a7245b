import t from 'tap';
import { join } from 'node:path';
import { appliedVersion, backupDb, migrate, migrationStatus, openDb } from '../src/store/sqlite/db.js';
import { LATEST_VERSION } from '../src/store/sqlite/migrations.js';
import { openStore } from '../src/store/index.js';
import { ConflictError, NotFoundError } from '../src/domain/errors.js';
import { testdir } from './helpers/testdir.js';

const newChannel = (slug: string) => ({
  slug, title: slug, ladder: ['720p', '480p'] as ('720p' | '480p')[], latency: 'standard' as const,
  record: true, archive: false, overflow: 'degrade' as const,
});

t.test('opening a database sets WAL, foreign keys and a busy timeout', async (t) => {
  const db = openDb(join(testdir(t), 'kmk.db'), { busyTimeoutMs: 1234 });
  t.teardown(() => db.close());
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(db.pragma('foreign_keys', { simple: true }), 1);
  t.equal(db.pragma('busy_timeout', { simple: true }), 1234);
});

t.test('migrations run twice without error and apply nothing the second time', async (t) => {
  const file = join(testdir(t), 'kmk.db');
  t.same(migrationStatus(file), { exists: false, current: 0, latest: LATEST_VERSION });
  const db = openDb(file, { migrate: false });
  t.equal(appliedVersion(db), 0);
  t.same(migrate(db), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
  t.same(migrate(db), []);
  t.equal(appliedVersion(db), LATEST_VERSION);
  db.close();
  const again = openDb(file);
  t.same(migrate(again), []);
  again.close();
  t.same(migrationStatus(file), { exists: true, current: LATEST_VERSION, latest: LATEST_VERSION });
});

t.test('a backup taken while the database is open holds the same channels', async (t) => {
  const dir = testdir(t);
  const store = openStore(join(dir, 'kmk.db'));
  t.teardown(() => store.close());
  for (const s of ['math-101', 'bio-200', 'art-3']) store.channels.create(newChannel(s));
  await backupDb(store.db, join(dir, 'backup', 'copy.db'));
  store.channels.create(newChannel('after-backup'));
  const copy = openStore(join(dir, 'backup', 'copy.db'));
  t.teardown(() => copy.close());
  t.same(copy.channels.list().map((c) => c.slug), ['art-3', 'bio-200', 'math-101']);
  t.same(copy.channels.get('math-101'), store.channels.get('math-101'));
});

t.test('the store interface: a transaction keeps all or nothing; migrate and backup without the handle', async (t) => {
  const dir = testdir(t);
  const store = openStore(join(dir, 'kmk.db'));
  t.teardown(() => store.close());
  const made = store.transaction(() => {
    const c = store.channels.create(newChannel('math-101'));
    return { c, ...store.streamKeys.rotate(c.id) };
  });
  t.equal(made.c.slug, 'math-101');
  t.throws(() => store.transaction(() => {
    store.channels.create(newChannel('bio-200'));
    throw new Error('half way');
  }), /half way/);
  t.same(store.channels.list().map((c) => c.slug), ['math-101'], 'the failed transaction left nothing');
  t.same(store.migrate(), { version: LATEST_VERSION, applied: [] });
  await store.backup(join(dir, 'copy.db'));
  const copy = openStore(join(dir, 'copy.db'));
  t.teardown(() => copy.close());
  t.same(copy.channels.list().map((c) => c.slug), ['math-101']);
});

t.test('a slug is unique', async (t) => {
  const store = openStore(join(testdir(t), 'kmk.db'));
  t.teardown(() => store.close());
  store.channels.create(newChannel('math-101'));
  t.throws(() => store.channels.create(newChannel('math-101')), ConflictError);
});

t.test('a rotated key replaces the old one at once', async (t) => {
  const store = openStore(join(testdir(t), 'kmk.db'));
  t.teardown(() => store.close());
  const c = store.channels.create(newChannel('math-101'));
  const first = store.streamKeys.rotate(c.id);
  t.match(first.key, /^[A-Za-z0-9_-]{43}$/, '32 random bytes in base64url');
  t.equal(store.streamKeys.channelForKey(first.key), c.id);
  const second = store.streamKeys.rotate(c.id);
  t.equal(store.streamKeys.channelForKey(first.key), undefined, 'old key refused');
  t.equal(store.streamKeys.channelForKey(second.key), c.id);
  const list = store.streamKeys.list(c.id);
  t.equal(list.filter((k) => k.active).length, 1, 'one active key per channel');
  t.ok(list[0]?.lastUsedAt, 'last used time recorded');
});

t.test('a revoked key cannot publish until a new key is issued', async (t) => {
  const store = openStore(join(testdir(t), 'kmk.db'));
  t.teardown(() => store.close());
  const c = store.channels.create(newChannel('math-101'));
  const { key } = store.streamKeys.rotate(c.id);
  t.equal(store.streamKeys.revoke(c.id), true);
  t.equal(store.streamKeys.channelForKey(key), undefined);
  t.equal(store.streamKeys.revoke(c.id), false, 'nothing left to revoke');
  t.equal(store.streamKeys.channelForKey('not a key'), undefined, 'malformed input is simply unknown');
  t.equal(store.streamKeys.channelForKey('x'.repeat(100000)), undefined);
});

t.test('deleting a channel deletes its keys', async (t) => {
  const store = openStore(join(testdir(t), 'kmk.db'));
  t.teardown(() => store.close());
  const c = store.channels.create(newChannel('math-101'));
  const { key } = store.streamKeys.rotate(c.id);
  store.channels.delete('math-101');
  t.equal(store.streamKeys.channelForKey(key), undefined);
  t.throws(() => store.channels.delete('math-101'), NotFoundError);
});

t.test('API tokens verify, record use and stop working when revoked', async (t) => {
  const store = openStore(join(testdir(t), 'kmk.db'));
  t.teardown(() => store.close());
  const { token, info } = store.apiTokens.create('lms', ['channels:read', 'tokens:join']);
  t.match(token, /^kmk_/);
  t.same(store.apiTokens.verify(token)?.scopes, ['channels:read', 'tokens:join']);
  t.ok(store.apiTokens.list()[0]?.lastUsedAt);
  t.throws(() => store.apiTokens.create('lms', ['admin']), ConflictError, 'active names are unique');
  store.apiTokens.revoke(info.fingerprint);
  t.equal(store.apiTokens.verify(token), undefined);
  t.equal(store.apiTokens.list().length, 0);
  t.equal(store.apiTokens.list(true).length, 1);
  t.ok(store.apiTokens.create('lms', ['admin']), 'a revoked name can be reused');
});

t.test("migration 11 widens channels.latency to 'ultra' without losing a channel's keys, sessions or classes", async (t) => {
  const dir = testdir(t);
  const file = join(dir, 'kmk.db');
  const { MIGRATIONS } = await import('../src/store/sqlite/migrations.js');
  const Database = (await import('better-sqlite3')).default;
  const old = new Database(file);
  old.pragma('foreign_keys = ON');
  old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  for (const m of MIGRATIONS.filter((x) => x.version <= 10)) {
    old.exec(m.sql);
    old.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, 'then');
  }
  old.close();
  const v10 = openDb(file, { migrate: false });
  t.equal(appliedVersion(v10), 10);
  v10.close();
  // A channel with a key and a session, written by the v10 code paths (migrate: false keeps the old schema).
  const s10 = openDb(file, { migrate: false });
  s10.prepare(`INSERT INTO channels (id, slug, title, ladder, latency, record, archive, overflow, created_at, updated_at, public)
    VALUES (1, 'math-101', 'Math', '720p', 'low', 1, 0, 'mux', 'x', 'x', 1)`).run();
  t.throws(() => s10.prepare(`UPDATE channels SET latency = 'ultra'`).run(), /CHECK/, 'v10 refuses ultra');
  s10.prepare(`INSERT INTO stream_keys (channel_id, hash, fingerprint, created_at) VALUES (1, 'h', 'f', 'x')`).run();
  s10.close();
  const store = openStore(file);
  t.teardown(() => store.close());
  const c = store.channels.get('math-101');
  t.match(c, { slug: 'math-101', latency: 'low', public: true, record: true });
  t.equal(store.channels.update('math-101', { latency: 'ultra' }).latency, 'ultra');
  const db = openDb(file, { migrate: false });
  t.equal((db.prepare('SELECT COUNT(*) AS n FROM stream_keys').get() as { n: number }).n, 1, 'the stream key survived the rebuild');
  t.same(db.pragma('foreign_key_check'), []);
  t.equal(db.pragma('foreign_keys', { simple: true }), 1, 'foreign keys are on again');
  db.close();
});
