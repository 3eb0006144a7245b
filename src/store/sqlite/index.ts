// The embedded store: one SQLite file, the repositories of ../sql/ run on it synchronously, the read model, and
// the asynchronous face (`Store` of ../ports.ts) the server runs on. The synchronous face (`SqliteStore`) is for the
// store's own tests and the server's test harness.

import type { ApiTokenRepo } from '../sql/api-tokens.js';
import type { ChannelRepo } from '../sql/channels.js';
import type { BeaconRepo } from '../sql/beacons.js';
import type { EngagementRepo } from '../sql/engagement.js';
import type { MuxRepo } from '../sql/mux.js';
import type { SessionRepo } from '../sql/sessions.js';
import type { StreamKeyRepo } from '../sql/stream-keys.js';
import type { LtiRepo } from '../sql/lti.js';
import type { ClassRepo } from '../sql/classes.js';
import type { ReportRepo } from '../sql/reports.js';
import type { NodeRepo } from '../sql/nodes.js';
import { face, methodsOf, type Ran } from '../sql/query.js';
import { makeRepos } from '../sql/repos.js';
import { backupDb, migrate, openDb, type Db, type OpenOptions } from './db.js';
import { LATEST_VERSION } from './migrations.js';
import { SqliteReadModel } from './read-model.js';
import { SqliteRunner } from './run.js';
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
  channels: Ran<ChannelRepo> & { createWithKey(c: NewChannel): { channel: Channel; key: string; info: StreamKeyInfo } };
  streamKeys: Ran<StreamKeyRepo>;
  apiTokens: Ran<ApiTokenRepo>;
  sessions: Ran<SessionRepo>;
  engagement: Ran<EngagementRepo>;
  beacons: Ran<BeaconRepo>;
  mux: Ran<MuxRepo>;
  lti: Ran<LtiRepo>;
  classes: Ran<ClassRepo>;
  reports: Ran<ReportRepo>;
  nodes: Ran<NodeRepo>;
  close(): void;
}

export function openSqliteStore(file: string, opts: OpenOptions = {}): SqliteStore {
  const db = openDb(file, opts);
  const runner = new SqliteRunner(db);
  const r = makeRepos();
  const ran = <T extends object>(repo: T): Ran<T> => face<T, Ran<T>>(repo, (w) => runner.run(w));
  return {
    db,
    read: new SqliteReadModel(runner, r),
    transaction: <T>(fn: () => T): T => db.transaction(fn).immediate(),
    migrate: () => ({ version: LATEST_VERSION, applied: migrate(db) }),
    backup: (target) => backupDb(db, target),
    channels: Object.assign(ran(r.channels), { createWithKey: (c: NewChannel) => runner.run(r.createWithKey(c)) }),
    streamKeys: ran(r.streamKeys),
    apiTokens: ran(r.apiTokens),
    sessions: ran(r.sessions),
    engagement: ran(r.engagement),
    beacons: ran(r.beacons),
    mux: ran(r.mux),
    lti: ran(r.lti),
    classes: ran(r.classes),
    reports: ran(r.reports),
    nodes: ran(r.nodes),
    close: () => {
      if (db.open) db.close();
    },
  };
}

type Promised<T> = { [K in keyof T]: T[K] extends (...a: infer A) => infer R ? (...a: A) => Promise<Awaited<R>> : T[K] };

/** The synchronous face `repo`, promised (a thrown error becomes a rejection; the call itself runs now), but the
 * `commands` stay as they are (taken at once, see ../ports.ts). */
function promisedBut<T extends object, K extends keyof T>(repo: T, commands: readonly K[]): Promised<Omit<T, K>> & Pick<T, K> {
  const out: Record<string, unknown> = {};
  for (const n of methodsOf(repo)) {
    const fn = ((repo as Record<string, unknown>)[n] as (...a: unknown[]) => unknown).bind(repo);
    out[n] = (commands as readonly string[]).includes(n) ? fn : async (...a: unknown[]) => fn(...a);
  }
  return out as Promised<Omit<T, K>> & Pick<T, K>;
}

function promised<T extends object>(repo: T): Promised<T> {
  return promisedBut(repo, [] as never[]) as Promised<T>;
}

/** The `Store` the server runs on, over the synchronous face `s`. */
export function asStore(s: SqliteStore): Store {
  return {
    read: s.read,
    ready: async () => undefined,
    health: () => ({ ok: true }),
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
    nodes: promised(s.nodes),
    migrate: async () => s.migrate(),
    backup: (target) => s.backup(target),
    close: async () => s.close(),
  };
}
