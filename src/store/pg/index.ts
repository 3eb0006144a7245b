// The shared store on PostgreSQL (store.url = postgres://…): the repositories of ../sql/ run over the network, the
// read model kept current by notices, and the live path's commands written in order by one writer so that admitting
// a publish never waits on the network. Several boxes open the same database; migrations run under an advisory lock.

import { UserError } from '../../domain/errors.js';
import { face, type Promised, type Work } from '../sql/query.js';
import { makeRepos } from '../sql/repos.js';
import { startedRecord } from '../sql/sessions.js';
import type { Store } from '../ports.js';
import { PG_MIGRATIONS } from './migrations.js';
import { PgReadModel } from './read-model.js';
import { PgRunner } from './run.js';

export const PG_LATEST_VERSION = PG_MIGRATIONS[PG_MIGRATIONS.length - 1]!.version;
const MIGRATION_LOCK = 72430015;
/** Most commands waiting for the writer; past it a beacon is dropped (counted), a session's record never. */
const MAX_COMMANDS = 10000;
/** How long a box's claim of a live channel lasts without renewal (its heartbeat renews it). */
export const CLAIM_MS = 10_000;

export interface PgOptions {
  /** Connections per process (default 8). */
  poolMax?: number;
  /** The store was unreachable or refused a write; the server logs it. */
  onError?: (err: Error, what: string) => void;
  /** Apply pending migrations when opened (default true). */
  migrate?: boolean;
  /** This box's name (node.name). */
  node?: string;
}

/** Applies pending migrations under a lock (boxes starting together take turns). */
export async function migratePg(runner: PgRunner): Promise<{ version: number; applied: number[] }> {
  const c = await runner.pool.connect();
  try {
    await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const done = new Set((await c.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => Number(r.version)));
    const newest = Math.max(0, ...done);
    if (newest > PG_LATEST_VERSION) {
      throw new UserError(`the store's schema is version ${newest}, newer than this kmk-live knows (${PG_LATEST_VERSION}): upgrade this box`);
    }
    const applied: number[] = [];
    for (const m of PG_MIGRATIONS) {
      if (done.has(m.version)) continue;
      await c.query('BEGIN');
      try {
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, new Date().toISOString()]);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
      applied.push(m.version);
    }
    return { version: PG_LATEST_VERSION, applied };
  } finally {
    await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    c.release();
  }
}

/** A refusal by the database itself (bad data, a constraint, bad SQL): trying again changes nothing. Anything
 * else (a refused or dropped connection, a server shutting down) is worth another try. */
export function isPermanent(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23|42)/.test(code);
}

/** How long the writer keeps trying one command while the store is out of reach. */
const RETRY_FOR_MS = 10 * 60 * 1000;

/** The live path's writes, in the order given, one at a time; one the store could not take is tried again (with
 * the ones after it waiting) until it is taken or RETRY_FOR_MS passes. */
class Writer {
  private chain: Promise<void> = Promise.resolve();
  pending = 0;
  dropped = 0;
  /** Since when the head command has been failing (0: not failing). */
  failingSince = 0;

  constructor(private readonly onError: (err: Error, what: string) => void) {}

  add(what: string, run: () => Promise<unknown>, droppable = false): void {
    if (droppable && this.pending >= MAX_COMMANDS) {
      this.dropped += 1;
      return;
    }
    this.pending += 1;
    this.chain = this.chain.then(() => this.attempt(what, run)).finally(() => { this.pending -= 1; });
  }

  private async attempt(what: string, run: () => Promise<unknown>): Promise<void> {
    const started = Date.now();
    for (let wait = 250; ; wait = Math.min(wait * 2, 5000)) {
      try {
        await run();
        this.failingSince = 0;
        return;
      } catch (err) {
        if (isPermanent(err) || Date.now() - started > RETRY_FOR_MS) {
          this.failingSince = 0;
          this.onError(err as Error, `${what} (given up)`);
          return;
        }
        if (!this.failingSince) {
          this.failingSince = Date.now();
          this.onError(err as Error, `${what} (will retry)`);
        }
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** Resolves when everything added so far is written (or failed). */
  idle(): Promise<void> {
    return this.chain;
  }
}

export interface PgStore extends Store {
  read: PgReadModel;
  runner: PgRunner;
}

export function openPgStore(url: string, opts: PgOptions = {}): PgStore {
  const onError = opts.onError ?? (() => undefined);
  const runner = new PgRunner(url, { max: opts.poolMax, onError: (err) => onError(err, 'idle connection') });
  const r = makeRepos(opts.node ?? null);
  const read = new PgReadModel(runner, r, url, (err) => onError(err, 'change notices'));
  const writer = new Writer(onError);
  /** Counters (beacons, key use, encode CPU): a queue of their own, so a session's start or end never waits behind
   * them; dropped (and counted) past MAX_COMMANDS. */
  const background = new Writer(onError);
  /** Outcomes of the claims the session starts made, until asked for. */
  const claims = new Map<string, Promise<string | null>>();
  const ready = (async () => {
    if (opts.migrate ?? true) await migratePg(runner);
    await read.start();
  })();
  ready.catch(() => undefined); // the first caller sees the error

  /** A query or write a caller waits for: after the store is ready and the commands before it are written; a
   * write is in the read model before it resolves. */
  const call = async <T>(work: Work<T>): Promise<T> => {
    await ready;
    // Read what the live path wrote before; while the store is out of reach, do not wait behind its retries.
    if (!writer.failingSince && !background.failingSince) await Promise.all([writer.idle(), background.idle()]);
    const before = runner.writes;
    const out = await runner.run(work);
    if (runner.writes !== before) await read.sync();
    return out;
  };
  const promised = <T extends object>(repo: T): Promised<T> => face<T, Promised<T>>(repo, (w) => call(w));
  const command = (what: string, work: () => Work<unknown>, opts2: { droppable?: boolean; refresh?: boolean } = {}): void => {
    (opts2.droppable ? background : writer).add(what, async () => {
      await ready;
      await runner.run(work());
      if (opts2.refresh) await read.sync();
    }, opts2.droppable);
  };

  const sessions = promised(r.sessions);
  const streamKeys = promised(r.streamKeys);
  const beacons = promised(r.beacons);
  const reports = promised(r.reports);
  const engagement = promised(r.engagement);
  return {
    read,
    runner,
    ready: () => ready,
    health: () => (read.lastError ? { ok: false, error: read.lastError.message }
      : writer.failingSince || background.failingSince ? { ok: false, error: `writes waiting since ${new Date(writer.failingSince || background.failingSince).toISOString()}` } : { ok: true }),
    channels: Object.assign(promised(r.channels), { createWithKey: (c: Parameters<typeof r.createWithKey>[0]) => call(r.createWithKey(c)) }),
    streamKeys: { ...streamKeys, markUsed: (id) => command('stream key use', () => r.streamKeys.markUsed(id), { droppable: true }) },
    apiTokens: promised(r.apiTokens),
    sessions: {
      ...sessions,
      start: (channelId, recorded) => {
        const made = r.sessions.newStart();
        const slug = read.channelById(channelId)?.slug ?? '';
        const box = opts.node;
        if (box) {
          // One class, one box: the session is written only if this box can claim the channel (a transaction).
          let settle!: (holder: string | null) => void;
          claims.set(made.id, new Promise((res) => (settle = res)));
          writer.add('session start', async () => {
            await ready;
            const holder = await runner.run(r.startClaimed(channelId, recorded, made, box, Date.now(), CLAIM_MS));
            settle(holder);
            if (holder !== null) read.noteSession(made.id, slug, false);
            await read.sync();
          });
        } else {
          command('session start', () => r.sessions.start(channelId, recorded, made), { refresh: true });
        }
        read.noteSession(made.id, slug, true);
        return startedRecord(made.id, slug, made.at, recorded);
      },
      claimed: async (id) => {
        const outcome = claims.get(id);
        claims.delete(id);
        return outcome ?? null;
      },
      setSource: (id, s, ladder, topRung) => command('session source', () => r.sessions.setSource(id, s, ladder, topRung ?? null)),
      update: (id, p) => command('session progress', () => r.sessions.update(id, p)),
      end: (id, reason) => {
        const slug = read.sessionChannel(id);
        if (slug !== undefined) read.noteSession(id, slug, false);
        command('session end', () => r.sessions.end(id, reason), { refresh: true });
      },
    },
    engagement: { ...engagement, loadRoom: (channelId, sessionId, historySize) => call(r.engagement.loadRoom(channelId, sessionId, historySize)) },
    beacons: { ...beacons, add: (b) => command('beacon', () => r.beacons.add(b), { droppable: true }) },
    mux: promised(r.mux),
    lti: promised(r.lti),
    classes: promised(r.classes),
    reports: { ...reports, addEncodeCpu: (id, ms) => command('encode CPU', () => r.reports.addEncodeCpu(id, ms), { droppable: true }) },
    nodes: promised(r.nodes),
    migrate: () => migratePg(runner),
    backup: async () => {
      throw new UserError('db backup copies the embedded SQLite file; on PostgreSQL (store.url) use pg_dump');
    },
    close: async () => {
      await ready.catch(() => undefined);
      await writer.idle();
      await background.idle();
      await read.stop();
      await runner.close();
    },
  };
}

/** The URL without its password, for messages and logs. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unreadable URL)';
  }
}

/** The schema version of the database at `url` without changing anything (for `doctor`). */
export async function pgMigrationStatus(url: string): Promise<{ current: number; latest: number }> {
  const runner = new PgRunner(url, { max: 1 });
  try {
    const has = await runner.pool.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
    if (!has.rows[0]?.t) return { current: 0, latest: PG_LATEST_VERSION };
    const r = await runner.pool.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
    return { current: Number(r.rows[0]?.v ?? 0), latest: PG_LATEST_VERSION };
  } finally {
    await runner.close();
  }
}
