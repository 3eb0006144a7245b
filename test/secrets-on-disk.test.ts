import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { cliJson } from './helpers/cli.js';
import { openStore } from '../src/store/index.js';

// Reads every file of the SQLite database, including the WAL and shared-memory files the server keeps open.
function dbBytes(dir: string): Buffer {
  const base = join(dir, 'data', 'kmk.db');
  return Buffer.concat(['', '-wal', '-shm', '-journal'].map((s) => base + s).filter(existsSync).map((f) => readFileSync(f)));
}

t.test('the plaintext of stream keys and API tokens never reaches the database files', async (t) => {
  const dir = t.testdir();
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
