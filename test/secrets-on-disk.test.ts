import t from 'tap';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { cli, cliJson } from './helpers/cli.js';
import { openStore } from '../src/store/index.js';
import { testdir } from './helpers/testdir.js';

// Reads every file of the SQLite database, including the WAL and shared-memory files the server keeps open.
function dbBytes(dir: string): Buffer {
  const base = join(dir, 'data', 'kmk.db');
  return Buffer.concat(['', '-wal', '-shm', '-journal'].map((s) => base + s).filter(existsSync).map((f) => readFileSync(f)));
}

t.test('the plaintext of stream keys and API tokens never reaches the database files', async (t) => {
  const dir = testdir(t);
  // Hold a connection open, as a running server does, so the CLI's writes stay in the WAL file.
  const held = openStore(join(dir, 'data', 'kmk.db'));
  t.teardown(() => held.close());
  const created = cliJson<{ streamKey: string }>(dir, ['channel', 'create', 'math-101']);
  const rotated = cliJson<{ streamKey: string }>(dir, ['key', 'rotate', 'math-101']);
  const token = cliJson<{ token: string }>(dir, ['token', 'create', 'lms', '--scopes', 'admin']);
  const bytes = dbBytes(dir);
  t.ok(existsSync(join(dir, 'data', 'kmk.db-wal')), 'the WAL file is part of the scan');
  for (const [what, secret] of [['first stream key', created.streamKey], ['rotated stream key', rotated.streamKey], ['API token', token.token]] as const) {
    const hash = createHash('sha256').update(secret).digest('hex');
    t.ok(bytes.includes(Buffer.from(hash)), `the ${what}'s hash is stored (the scan sees the data)`);
    t.notOk(bytes.includes(Buffer.from(secret)), `the ${what}'s plaintext is absent`);
    t.notOk(bytes.includes(Buffer.from(secret, 'base64url')), `the ${what}'s raw bytes are absent`);
  }
  held.close();
  const afterCheckpoint = dbBytes(dir);
  for (const secret of [created.streamKey, rotated.streamKey, token.token]) {
    t.notOk(afterCheckpoint.includes(Buffer.from(secret)), 'absent after the WAL is checkpointed into the main file');
  }
});

t.test('the database, its WAL and shared-memory files and its backups are the owner\'s only, whatever the umask', async (t) => {
  const dir = testdir(t);
  const old = process.umask(0o000); // the CLI below inherits it
  t.teardown(() => process.umask(old));
  const held = openStore(join(dir, 'data', 'kmk.db'));
  t.teardown(() => held.close());
  cliJson(dir, ['channel', 'create', 'math-101']);
  const mode = (f: string): string => (statSync(f).mode & 0o777).toString(8);
  for (const f of ['kmk.db', 'kmk.db-wal', 'kmk.db-shm']) t.equal(mode(join(dir, 'data', f)), '600', `${f} is 0600`);
  const backup = join(dir, 'backups', 'kmk-copy.db');
  t.equal(cli(dir, ['db', 'backup', backup]).code, 0);
  t.equal(mode(backup), '600', 'a backup is 0600');
  held.close();
  chmodSync(join(dir, 'data', 'kmk.db'), 0o644); // a file left by an older version
  openStore(join(dir, 'data', 'kmk.db')).close();
  t.equal(mode(join(dir, 'data', 'kmk.db')), '600', 'an existing database is tightened when opened');
});

t.test('config print redacts the Redis URL (it may hold a password)', async (t) => {
  const dir = testdir(t);
  const out = cliJson<{ hub: { backplane: string } }>(dir, ['config', 'print'], { KMK_HUB_REDIS_URL: 'redis://:hunter2@127.0.0.1:6379/0' });
  t.equal(out.hub.backplane, '<redacted>');
  t.notMatch(cli(dir, ['config', 'print'], { KMK_HUB_REDIS_URL: 'redis://:hunter2@127.0.0.1:6379/0' }).stdout, 'hunter2');
});
