// The embedded store: one SQLite file, a repository per aggregate, the read model, and the asynchronous face
// (`Store` of ../ports.ts) the server runs on. The repositories themselves are synchronous (better-sqlite3): the
// store's own tests and the server's test harness use them directly through `SqliteStore`.

import { ApiTokenRepo } from './api-tokens.js';
import { ChannelRepo } from './channels.js';
import { backupDb, migrate, openDb, type Db, type OpenOptions } from './db.js';
import { LATEST_VERSION } from './migrations.js';
import { BeaconRepo } from './beacons.js';
import { EngagementRepo } from './engagement.js';
import { MuxRepo } from './mux.js';
import { SessionRepo } from './sessions.js';
import { StreamKeyRepo } from './stream-keys.js';
import { LtiRepo } from './lti.js';
import { ClassRepo } from './classes.js';
import { ReportRepo } from './reports.js';
import { SqliteReadModel } from './read-model.js';
import type { Channel } from '../../domain/channel.js';
import type { NewChannel, StreamKeyInfo } from '../../domain/records.js';
import type { Store } from '../ports.js';

export type { OpenOptions } from './db.js';

export interface SqliteStore {
  /** The SQLite handle, for the store's own tests; nothing outside src/store/ uses it. */
  db: Db;
  read: SqliteReadModel;
  /** Runs `fn` in one write transaction: all of its writes or none. */
  transaction<T>(fn: () => T): T;
  migrate(): { version: number; applied: number[] };
  backup(target: string): Promise<void>;
  /** With createWithKey: a channel and its first stream key, both or neither. */
  channels: ChannelRepo & { createWithKey(c: NewChannel): { channel: Channel; key: string; info: StreamKeyInfo } };
  streamKeys: StreamKeyRepo;
  apiTokens: ApiTokenRepo;
  sessions: SessionRepo;
  engagement: EngagementRepo;
  beacons: BeaconRepo;
  mux: MuxRepo;
  lti: LtiRepo;
  classes: ClassRepo;
  reports: ReportRepo;
  close(): void;
}

export function openSqliteStore(file: string, opts: OpenOptions = {}): SqliteStore {
  const db = openDb(file, opts);
  const channels = new ChannelRepo(db);
  const streamKeys = new StreamKeyRepo(db);
  const classes = new ClassRepo(db);
  const lti = new LtiRepo(db);
  const transaction = <T>(fn: () => T): T => db.transaction(fn).immediate();
  const createWithKey = (c: NewChannel): { channel: Channel; key: string; info: StreamKeyInfo } => transaction(() => {
    const channel = channels.create(c);
    return { channel, ...streamKeys.rotate(channel.id) };
  });
  return {
    db,
    read: new SqliteReadModel(db, { channels, classes, lti }),
    transaction,
    migrate: () => ({ version: LATEST_VERSION, applied: migrate(db) }),
    backup: (target) => backupDb(db, target),
    channels: Object.assign(channels, { createWithKey }),
    streamKeys,
    apiTokens: new ApiTokenRepo(db),
    sessions: new SessionRepo(db),
    engagement: new EngagementRepo(db),
    beacons: new BeaconRepo(db),
    mux: new MuxRepo(db),
    lti,
    classes,
    reports: new ReportRepo(db),
    close: () => {
      if (db.open) db.close();
    },
  };
}

/** The same value, promised: a thrown error becomes a rejection. The call itself runs now, as before. */
type Promised<T> = { [K in keyof T]: T[K] extends (...a: infer A) => infer R ? (...a: A) => Promise<Awaited<R>> : T[K] };

function promised<T extends object>(repo: T): Promised<T> {
  return promisedBut(repo, []);
}

/** As promised(), but the `commands` stay as they are (taken at once, see ../ports.ts). */
function promisedBut<T extends object, K extends keyof T>(repo: T, commands: readonly K[]): Promised<Omit<T, K>> & Pick<T, K> {
  const out: Record<string, unknown> = {};
  let proto: object | null = repo;
  const names = new Set<string>();
  while (proto && proto !== Object.prototype) {
    for (const n of Object.getOwnPropertyNames(proto)) names.add(n);
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  for (const n of names) {
    const f = (repo as Record<string, unknown>)[n];
    if (n === 'constructor' || typeof f !== 'function') continue;
    const fn = f.bind(repo) as (...a: unknown[]) => unknown;
    out[n] = (commands as readonly string[]).includes(n) ? fn : async (...a: unknown[]) => fn(...a);
  }
  return out as Promised<Omit<T, K>> & Pick<T, K>;
}

/** The `Store` the server runs on, over the synchronous repositories of `s`. */
export function asStore(s: SqliteStore): Store {
  return {
    read: s.read,
    channels: promised(s.channels),
    streamKeys: promisedBut(s.streamKeys, ['markUsed']),
    apiTokens: promised(s.apiTokens),
    sessions: promisedBut(s.sessions, ['start', 'setSource', 'update', 'end']),
    engagement: promisedBut(s.engagement, ['loadRoom']),
    beacons: promisedBut(s.beacons, ['add']),
    mux: promised(s.mux),
    lti: promised(s.lti),
    classes: promised(s.classes),
    reports: promisedBut(s.reports, ['addEncodeCpu']),
    migrate: async () => s.migrate(),
    backup: (target) => s.backup(target),
    close: async () => s.close(),
  };
}
