// Runs the repositories' works (../sql/query.ts) on the SQLite file, synchronously: better-sqlite3 answers each
// query at once. Statements are prepared once per SQL text; a transaction is BEGIN IMMEDIATE (a savepoint inside
// another one).

import { drive, type Query, type Work } from '../sql/query.js';
import type { Db, Statement } from './db.js';

export class SqliteRunner {
  private readonly statements = new Map<string, Statement>();

  constructor(readonly db: Db) {}

  run<T>(work: Work<T>): T {
    return drive(work, (q) => this.exec(q));
  }

  private exec(q: Query): unknown {
    if (q.kind === 'tx') return this.db.transaction(() => this.run(q.body())).immediate();
    let st = this.statements.get(q.sql);
    if (!st) this.statements.set(q.sql, (st = this.db.prepare(q.sql)));
    if (q.kind === 'all') return st.all(...q.args);
    if (q.kind === 'get') return st.get(...q.args);
    return st.run(...q.args).changes;
  }
}
