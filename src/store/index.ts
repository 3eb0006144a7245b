// The store: one open database and a repository per aggregate. Components receive the repositories they need.

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

export interface Store {
  /** The SQLite handle, for the store's own tests; nothing outside src/store/ uses it. */
  db: Db;
  /** Runs `fn` in one write transaction: all of its writes or none. */
  transaction<T>(fn: () => T): T;
  /** Applies pending schema migrations; the schema version after, and the ones applied now. */
  migrate(): { version: number; applied: number[] };
  /** Writes an online, consistent copy of the database to `target`. */
  backup(target: string): Promise<void>;
  channels: ChannelRepo;
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

export function openStore(file: string, opts: OpenOptions = {}): Store {
  const db = openDb(file, opts);
  return {
    db,
    transaction: (fn) => db.transaction(fn).immediate(),
    migrate: () => ({ version: LATEST_VERSION, applied: migrate(db) }),
    backup: (target) => backupDb(db, target),
    channels: new ChannelRepo(db),
    streamKeys: new StreamKeyRepo(db),
    apiTokens: new ApiTokenRepo(db),
    sessions: new SessionRepo(db),
    engagement: new EngagementRepo(db),
    beacons: new BeaconRepo(db),
    mux: new MuxRepo(db),
    lti: new LtiRepo(db),
    classes: new ClassRepo(db),
    reports: new ReportRepo(db),
    close: () => {
      if (db.open) db.close();
    },
  };
}

/** Where a database file stands against the migrations, without opening it for writing (for `doctor`). */
export { migrationStatus } from './db.js';
