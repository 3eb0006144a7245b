// Printing for the CLI: aligned tables for people, JSON for scripts. Writes to stdout only.

export type Cell = string | number | boolean | null | undefined;

export function table(headers: string[], rows: Cell[][]): string {
  const text = (c: Cell): string => (c === null || c === undefined || c === '' ? '-' : String(c));
  const cells = rows.map((r) => r.map(text));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...cells.map(line)].join('\n');
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** "key: value" lines with the keys aligned. */
export function fields(pairs: [string, Cell][]): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${(k + ':').padEnd(w + 1)}  ${v === null || v === undefined || v === '' ? '-' : String(v)}`).join('\n');
}
