// The store: its contract (ports.ts) and the two implementations an installation can open — the embedded SQLite
// file (the default, nothing to install) and a PostgreSQL several boxes share (store.url). Both run the same
// repositories (sql/).

import { asStore, openSqliteStore, type OpenOptions } from './sqlite/index.js';
import { openPgStore, type PgOptions } from './pg/index.js';
import { hostname } from 'node:os';
import type { Store } from './ports.js';

export type * from './ports.js';
export { asStore, type SqliteStore, type OpenOptions } from './sqlite/index.js';
export { migrationStatus } from './sqlite/db.js';
export { openPgStore, pgMigrationStatus, safeUrl, type PgStore } from './pg/index.js';

/** The embedded store with its synchronous repositories (the store's tests and the server's test harness). */
export const openStore = openSqliteStore;

export interface StoreSettings {
  /** store.url: empty for the embedded file. */
  url: string;
  /** paths.db */
  file: string;
  busyTimeoutMs?: number;
  /** node.name, or the host name. */
  node?: string;
}

/** Is this store shared by several boxes? */
export const isShared = (s: Pick<StoreSettings, 'url'>): boolean => s.url !== '';

/** Opens (and migrates) the store the server and the commands run on; `await store.ready()` before reading
 * `store.read` (on PostgreSQL the read model loads over the network). */
export function connectStore(s: StoreSettings, opts: Omit<OpenOptions, 'busyTimeoutMs'> & Pick<PgOptions, 'onError' | 'poolMax'> = {}): Store {
  if (isShared(s)) return openPgStore(s.url, { migrate: opts.migrate, onError: opts.onError, poolMax: opts.poolMax, node: s.node });
  return asStore(openSqliteStore(s.file, { ...opts, busyTimeoutMs: s.busyTimeoutMs }));
}

/** The store settings of a loaded configuration. */
export const storeSettings = (config: { 'store.url': string; 'paths.db': string; 'store.busyTimeoutMs': number; 'node.name': string }): StoreSettings =>
  ({ url: config['store.url'], file: config['paths.db'], busyTimeoutMs: config['store.busyTimeoutMs'], node: config['node.name'] || hostname() });
