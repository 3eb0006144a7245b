// Sums a V8 heap snapshot's objects by kind and constructor (self sizes), biggest first.
// Usage: node bench/heap-summary.mjs <file.heapsnapshot> [top=25]   (also used by bench:hub -- --heap)
import { readFileSync } from 'node:fs';

export function heapSummary(file, top = 25) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [T, N, S] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const width = fields.length;
  const nodes = snap.nodes;
  const groups = new Map();
  let total = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + T]];
    // Strings, numbers and code are grouped by kind; objects, closures and arrays by constructor or name.
    const name = type === 'object' || type === 'closure' || type === 'native' ? snap.strings[nodes[i + N]] : '';
    const key = `${type} ${name}`.trim();
    const g = groups.get(key) ?? { count: 0, bytes: 0 };
    g.count += 1;
    g.bytes += nodes[i + S];
    total += nodes[i + S];
    groups.set(key, g);
  }
  const rows = [...groups.entries()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top);
  return { total, rows: rows.map(([key, g]) => ({ key, count: g.count, bytes: g.bytes })) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { total, rows } = heapSummary(process.argv[2], Number(process.argv[3] ?? 25));
  console.log(`heap: ${(total / 1048576).toFixed(1)} MB in objects`);
  console.log('| kind and constructor | count | MB |\n|---|---|---|');
  for (const r of rows) console.log(`| ${r.key.slice(0, 70)} | ${r.count} | ${(r.bytes / 1048576).toFixed(2)} |`);
}
