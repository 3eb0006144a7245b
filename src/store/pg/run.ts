// Runs the repositories' works (../sql/query.ts) on PostgreSQL through a pool of connections (npm pg). Each query's
// `?` placeholders become $1, $2, …; `rowid` becomes `seq` (see ./migrations.ts). A transaction holds one connection
// from BEGIN to COMMIT (ROLLBACK on any error); a work outside one takes a pooled connection per query.
// 64-bit integers and numerics come back as JavaScript numbers (milliseconds and counts fit).

import pg from 'pg';
import { driveAsync, type Query, type Work } from '../sql/query.js';

const NUMBER_TYPES = new Set([20, 1700]); // int8, numeric

const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    NUMBER_TYPES.has(oid) ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** `?` → `$n` and `rowid` → `seq`, outside quoted text. */
export function toPg(sql: string): string {
  let n = 0;
  let out = '';
  let quote: string | null = null;
  for (let i = 0; i < sql.length; i += 1) {
    const c = sql[i]!;
    if (quote) {
      if (c === quote) quote = null;
      out += c;
    } else if (c === '\'' || c === '"') {
      quote = c;
      out += c;
    } else if (c === '?') {
      out += `$${(n += 1)}`;
    } else {
      out += c;
    }
  }
  return out.replace(/\browid\b/g, 'seq');
}

type Client = Pick<pg.PoolClient, 'query'>;

export class PgRunner {
  readonly pool: pg.Pool;
  private readonly texts = new Map<string, string>();
  /** Write statements run so far (a caller compares before and after). */
  writes = 0;

  constructor(url: string, opts: { max?: number; onError?: (err: Error) => void } = {}) {
    this.pool = new pg.Pool({ connectionString: url, max: opts.max ?? 8, types, connectionTimeoutMillis: 5000 });
    // An idle connection the server dropped (a restart): the pool makes a new one next time.
    this.pool.on('error', (err) => opts.onError?.(err));
  }

  run<T>(work: Work<T>): Promise<T> {
    return driveAsync(work, (q) => this.exec(this.pool, q));
  }

  private async exec(client: Client, q: Query): Promise<unknown> {
    if (q.kind === 'tx') return client === this.pool ? this.transaction(q.body) : driveAsync(q.body(), (inner) => this.exec(client, inner));
    let text = this.texts.get(q.sql);
    if (text === undefined) this.texts.set(q.sql, (text = toPg(q.sql)));
    if (q.kind === 'run' || /^\s*(INSERT|UPDATE|DELETE)/i.test(q.sql)) this.writes += 1;
    const res = await client.query(text, q.args as unknown[]);
    if (q.kind === 'all') return res.rows;
    if (q.kind === 'get') return res.rows[0];
    return res.rowCount ?? 0;
  }

  private async transaction(body: () => Work<unknown>): Promise<unknown> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const out = await driveAsync(body(), (q) => this.exec(client, q));
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => { broken = e; });
      throw err;
    } finally {
      client.release(broken);
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
