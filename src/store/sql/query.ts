// One repository code for both engines. A repository method is a generator ("work") that yields the queries it
// needs and is handed their results back; a runner executes them: synchronously on the embedded SQLite file
// (../sqlite/run.ts, better-sqlite3) or over the network on PostgreSQL (../pg/run.ts, pg). The SQL is written once,
// in the subset both engines speak: `?` placeholders (the PostgreSQL runner numbers them), ON CONFLICT upserts,
// RETURNING, integers for flags and milliseconds. The one word that differs, `rowid`, PostgreSQL reads as `seq`.

export type Query =
  | { kind: 'all' | 'get' | 'run'; sql: string; args: readonly unknown[] }
  | { kind: 'tx'; body: () => Work<unknown> };

/** A repository method's body: yields queries, returns its result. */
export type Work<T> = Generator<Query, T, unknown>;

/** Every row. */
export function* all<T>(sql: string, ...args: unknown[]): Work<T[]> {
  return (yield { kind: 'all', sql, args }) as T[];
}

/** The first row, or undefined. Also an INSERT … RETURNING. */
export function* get<T>(sql: string, ...args: unknown[]): Work<T | undefined> {
  return (yield { kind: 'get', sql, args }) as T | undefined;
}

/** A write; how many rows it changed. */
export function* run(sql: string, ...args: unknown[]): Work<number> {
  return (yield { kind: 'run', sql, args }) as number;
}

/** `body` in one transaction: all of its writes or none. Nested, it joins the outer one. */
export function* tx<T>(body: () => Work<T>): Work<T> {
  return (yield { kind: 'tx', body }) as T;
}

/** A unique or primary-key constraint refused the write (either engine). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

/** Drives a work to its end, `exec` answering each query; an error of a query is thrown into the work (a
 * repository may catch it, e.g. a unique violation). */
export function drive<T>(work: Work<T>, exec: (q: Query) => unknown): T {
  let step = work.next();
  while (!step.done) {
    let value: unknown;
    try {
      value = exec(step.value);
    } catch (err) {
      step = work.throw(err);
      continue;
    }
    step = work.next(value);
  }
  return step.value;
}

/** As drive(), each answer awaited. */
export async function driveAsync<T>(work: Work<T>, exec: (q: Query) => Promise<unknown>): Promise<T> {
  let step = work.next();
  while (!step.done) {
    let value: unknown;
    try {
      value = await exec(step.value);
    } catch (err) {
      step = work.throw(err);
      continue;
    }
    step = work.next(value);
  }
  return step.value;
}

/** The names of a repository's methods (own and inherited), constructor left out. */
export function methodsOf(repo: object): string[] {
  const names = new Set<string>();
  let proto: object | null = repo;
  while (proto && proto !== Object.prototype) {
    for (const n of Object.getOwnPropertyNames(proto)) names.add(n);
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return [...names].filter((n) => n !== 'constructor' && typeof (repo as Record<string, unknown>)[n] === 'function');
}

/** The repository as its callers see it once a runner runs its works synchronously. */
export type Ran<T> = { [K in keyof T]: T[K] extends (...a: infer A) => Work<infer R> ? (...a: A) => R : T[K] };

/** The repository as its callers see it once a runner runs its works over the network. */
export type Promised<T> = { [K in keyof T]: T[K] extends (...a: infer A) => Work<infer R> ? (...a: A) => Promise<R> : T[K] };

/** `repo` with each work method run by `runWork` and other methods bound as they are. */
export function face<T extends object, F>(repo: T, runWork: (w: Work<unknown>) => unknown): F {
  const out: Record<string, unknown> = {};
  for (const n of methodsOf(repo)) {
    const f = (repo as Record<string, (...a: unknown[]) => unknown>)[n]!;
    const isWork = Object.getPrototypeOf(f) === Object.getPrototypeOf(function* () { /* a generator's prototype */ });
    out[n] = isWork ? (...a: unknown[]) => runWork(f.apply(repo, a) as Work<unknown>) : f.bind(repo);
  }
  return out as F;
}
