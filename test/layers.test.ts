// The module order of docs/architecture.md, checked against the code's own imports: a module imports only modules
// of its own layer or of layers below it, and no two files import each other, directly or round a circle.

import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

/** Top to bottom, as in docs/architecture.md. A layer is a folder of src/ or one file at its top. */
export const LAYERS = [
  'cli', 'server.ts', 'worker.ts', 'http', 'hub', 'lti', 'mux', 'classes', 'reports', 'cluster', 'ingest', 'live', 'hls', 'captions', 'hls/ll',
  'transcode', 'store', 'media', 'auth', 'config', 'metrics.ts', 'domain', 'lifecycle.ts', 'log.ts',
];
/** Upward imports the architecture allows, each for types only: hub/socket.ts binds itself to the HTTP server's /ws. */
const ALLOWED_UP = new Set(['hub/socket.ts -> http/app.ts']);

const SRC = join(import.meta.dirname, '..', 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === 'web' && dir === SRC ? [] : files(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

const layerOf = (rel: string): string => (rel.startsWith('hls/ll/') ? 'hls/ll' : rel.split('/')[0]!);

interface Edge { from: string; to: string; typeOnly: boolean }

function edges(): Edge[] {
  const out: Edge[] = [];
  for (const file of files(SRC)) {
    const text = readFileSync(file, 'utf8');
    const from = relative(SRC, file);
    const found = [
      ...[...text.matchAll(/^(import|export)(\s+type)?\s[^;]*?\sfrom\s+'(\.[^']+)'/gms)].map((m) => ({ spec: m[3]!, typeOnly: Boolean(m[2]) })),
      ...[...text.matchAll(/import\('(\.[^']+)'\)/g)].map((m) => ({ spec: m[1]!, typeOnly: false })),
    ];
    for (const { spec, typeOnly } of found) {
      const to = relative(SRC, normalize(join(dirname(file), spec.replace(/\.js$/, '.ts'))));
      out.push({ from, to, typeOnly });
    }
  }
  return out;
}

t.test('every module of src/ belongs to a documented layer', async (t) => {
  const unknown = files(SRC).map((f) => relative(SRC, f)).filter((r) => !LAYERS.includes(layerOf(r)));
  t.same(unknown, [], 'add a new folder to LAYERS and to the table in docs/architecture.md');
});

t.test('imports run down the documented order', async (t) => {
  const all = edges();
  t.ok(all.length > 200, `${all.length} imports read`);
  const up = all.filter((e) => {
    const [a, b] = [LAYERS.indexOf(layerOf(e.from)), LAYERS.indexOf(layerOf(e.to))];
    return b < a && !(ALLOWED_UP.has(`${e.from} -> ${e.to}`) && e.typeOnly);
  }).map((e) => `${e.from} -> ${e.to}`);
  t.same(up, [], 'no import climbs back up');
});

t.test('no file cycles', async (t) => {
  const graph = new Map<string, string[]>();
  for (const e of edges()) graph.set(e.from, [...(graph.get(e.from) ?? []), e.to]);
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (f: string, path: string[]): void => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') {
      cycles.push([...path.slice(path.indexOf(f)), f].join(' -> '));
      return;
    }
    state.set(f, 'open');
    for (const n of graph.get(f) ?? []) visit(n, [...path, f]);
    state.set(f, 'done');
  };
  for (const f of graph.keys()) visit(f, []);
  t.same(cycles, []);
});

t.test('nothing outside src/store/ touches the database handle', async (t) => {
  const users = files(SRC).filter((f) => !relative(SRC, f).startsWith('store/'))
    .filter((f) => /\bstore(\(\))?\.db\b|from '\.\.?\/(\.\.\/)?store\/db\.js'/.test(readFileSync(f, 'utf8')))
    .map((f) => relative(SRC, f));
  t.same(users, [], 'use the Store interface (transaction, migrate, backup, the repositories)');
});

t.test('the SQLite implementation is reached only through src/store/index.ts', async (t) => {
  const direct = edges().filter((e) => e.to.startsWith('store/sqlite/') && !e.from.startsWith('store/')).map((e) => `${e.from} -> ${e.to}`);
  t.same(direct, [], 'import openStore/connectStore and the repository interfaces from store/index.ts or store/ports.ts');
});
