// The store: its contract (ports.ts) and the implementation an installation opens. Today that is the embedded
// SQLite file; a second implementation implements `Store` and is chosen in connectStore().

import { asStore, openSqliteStore, type OpenOptions } from './sqlite/index.js';
import type { Store } from './ports.js';

export type * from './ports.js';
export { asStore, type SqliteStore, type OpenOptions } from './sqlite/index.js';
export { migrationStatus } from './sqlite/db.js';

/** The embedded store with its synchronous repositories (the store's tests and the server's test harness). */
export const openStore = openSqliteStore;

/** Opens (and migrates) the store the server and the commands run on. */
export function connectStore(file: string, opts: OpenOptions = {}): Store {
  return asStore(openSqliteStore(file, opts));
}
