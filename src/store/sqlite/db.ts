// Owns the SQLite connection: opening with the right pragmas, migrations, online backup.
// The only module that imports better-sqlite3; nothing outside src/store/ writes SQL.

import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { LATEST_VERSION, MIGRATIONS } from './migrations.js';

export type Db = Database.Database;
export type Statement = Database.Statement;

export interface OpenOptions {
  busyTimeoutMs?: number;
  /** Apply pending migrations on open (default true). */
  migrate?: boolean;
  readonly?: boolean;
}

/** The database holds LTI private keys, rosters and e-mail addresses: it, its WAL and shared-memory files, and its
 * backups are the owner's only (0600), whatever the umask. SQLite gives the -wal and -shm files the database's mode. */
export const DB_FILE_MODE = 0o600;

function ownerOnly(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) {
    try {
      chmodSync(f, DB_FILE_MODE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/** Creates the file empty with mode 0600 if it does not exist (before SQLite would create it with the umask's). */
function createOwnerOnly(file: string): void {
  try {
    closeSync(openSync(file, 'wx', DB_FILE_MODE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

export function openDb(file: string, opts: OpenOptions = {}): Db {
  if (!opts.readonly) {
    mkdirSync(dirname(file), { recursive: true });
    createOwnerOnly(file);
  }
  const db = new Database(file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  db.pragma(`busy_timeout = ${Math.trunc(opts.busyTimeoutMs ?? 5000)}`);
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    ownerOnly(file); // also files made by an older version under a looser umask
  }
  db.pragma('foreign_keys = ON');
  if (opts.migrate ?? !opts.readonly) migrate(db);
  return db;
}

function ensureMigrationTable(db: Db): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
}

export function appliedVersion(db: Db): number {
  const exists = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).get();
  if (!exists) return 0;
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  return row.v ?? 0;
}

/** Applies pending migrations, each in its own transaction; returns the versions applied (empty when up to date). */
export function migrate(db: Db): number[] {
  ensureMigrationTable(db);
  const done = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  const applied: number[] = [];
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
    // A table rebuild (SQLite's way to change a CHECK) runs with foreign keys off, so dropping the old table
    // does not cascade into its children; the keys are checked before the transaction commits.
    if (m.rebuild) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        db.exec(m.sql);
        if (m.rebuild && (db.pragma('foreign_key_check') as unknown[]).length > 0) throw new Error(`migration ${m.version} broke a foreign key`);
        record.run(m.version, m.name, new Date().toISOString());
      }).immediate();
    } finally {
      if (m.rebuild) db.pragma('foreign_keys = ON');
    }
    applied.push(m.version);
  }
  return applied;
}

export interface MigrationStatus {
  exists: boolean;
  current: number;
  latest: number;
}

/** Reads the schema version without changing anything (for `doctor`). */
export function migrationStatus(file: string): MigrationStatus {
  if (!existsSync(file)) return { exists: false, current: 0, latest: LATEST_VERSION };
  const db = openDb(file, { readonly: true, migrate: false });
  try {
    return { exists: true, current: appliedVersion(db), latest: LATEST_VERSION };
  } finally {
    db.close();
  }
}

/** Online, consistent copy of the live database (SQLite backup API); safe while the server writes. */
export async function backupDb(db: Db, target: string): Promise<void> {
  mkdirSync(dirname(target), { recursive: true });
  createOwnerOnly(target);
  await db.backup(target);
  ownerOnly(target);
}
