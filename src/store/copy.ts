// `kmk-live db copy --to postgres://…`: every row of the embedded SQLite file into a PostgreSQL, in one
// transaction, keys and ids as they are, so a school that began on one box grows onto several without losing
// anything. Safe to run again: rows already copied are left as they are. Refused when the target holds other data
// under the same ids (another installation's channels), since the copy's references would then point at them.

import { openDb } from './sqlite/db.js';
import { LATEST_VERSION } from './sqlite/migrations.js';
import { migratePg } from './pg/index.js';
import { PgRunner } from './pg/run.js';
import { ConflictError, UserError } from '../domain/errors.js';

/** Parents before children (foreign keys). The read model's versions and the migrations list are each store's own. */
export const COPY_ORDER = [
  'channels', 'stream_keys', 'api_tokens', 'lti_platforms', 'lti_deployments', 'lti_keys', 'lti_logins', 'lti_nonces', 'courses',
  'sessions', 'classes', 'lti_links', 'lti_outbox', 'roster', 'archive_jobs', 'mux_events', 'chat_messages', 'questions',
  'question_votes', 'polls', 'poll_votes', 'bans', 'mutes', 'attendance', 'engagement_counts', 'beacons', 'session_traffic', 'captions', 'stage_spells',
] as const;

/** Tables whose id PostgreSQL numbers itself (an identity to move past the copied ids). */
const IDENTITY = ['channels', 'stream_keys', 'api_tokens', 'lti_platforms', 'courses', 'classes', 'lti_outbox', 'beacons'];

export interface CopyReport { table: string; source: number; copied: number; target: number }

const ROWS_PER_INSERT = 200;

export async function copySqliteToPg(file: string, url: string): Promise<CopyReport[]> {
  const db = openDb(file, { readonly: true, migrate: false });
  const runner = new PgRunner(url, { max: 1 });
  try {
    const version = (db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
    if (version !== LATEST_VERSION) throw new UserError(`${file} is at schema ${version} of ${LATEST_VERSION}; run kmk-live db migrate on it first`);
    await migratePg(runner);
    const client = await runner.pool.connect();
    try {
      await client.query('BEGIN');
      // Another installation's channels under the same ids would take this one's sessions and keys.
      const theirs = new Map((await client.query<{ id: number; slug: string }>('SELECT id, slug FROM channels')).rows.map((r) => [Number(r.id), r.slug]));
      const clash = (db.prepare('SELECT id, slug FROM channels').all() as { id: number; slug: string }[])
        .filter((c) => (theirs.has(c.id) && theirs.get(c.id) !== c.slug) || ([...theirs].some(([id, slug]) => slug === c.slug && id !== c.id)));
      if (clash.length) {
        throw new ConflictError(`the target already holds other channels under the same ids or slugs (${clash.map((c) => c.slug).join(', ')}): copy into an empty database`);
      }
      const report: CopyReport[] = [];
      for (const table of COPY_ORDER) {
        const cols = (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
        const rows = db.prepare(`SELECT ${cols.map((c) => `"${c}"`).join(', ')} FROM ${table} ORDER BY rowid`).raw().all() as unknown[][];
        let copied = 0;
        for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
          const chunk = rows.slice(i, i + ROWS_PER_INSERT);
          const values = chunk.map((_, r) => `(${cols.map((__, c) => `$${r * cols.length + c + 1}`).join(', ')})`).join(', ');
          const res = await client.query(`INSERT INTO ${table} (${cols.map((c) => `"${c}"`).join(', ')}) VALUES ${values} ON CONFLICT DO NOTHING`, chunk.flat());
          copied += res.rowCount ?? 0;
        }
        if (IDENTITY.includes(table)) {
          await client.query(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), GREATEST((SELECT COALESCE(MAX(id), 0) FROM ${table}), 1))`);
        }
        const target = Number((await client.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`)).rows[0]!.n);
        if (target < rows.length) throw new UserError(`${table}: ${rows.length} rows in the file but ${target} in the target after the copy`);
        report.push({ table, source: rows.length, copied, target });
      }
      await client.query('COMMIT');
      return report;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  } finally {
    db.close();
    await runner.close();
  }
}
