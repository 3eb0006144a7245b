// CSV a teacher can open in a spreadsheet: RFC 4180 quoting, a header row, CRLF line ends, and cells that a
// spreadsheet would run as a formula (= + - @, tab, CR at the start) defused with a leading apostrophe.

export type CsvCell = string | number | boolean | null | undefined;

export function csvCell(v: CsvCell): string {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v);
  // Negative numbers are data, not formulas; any other leading = + - @ TAB CR is.
  if (/^[=+\-@\t\r]/.test(s) && !(typeof v === 'number')) s = `'${s}`;
  return /[",\r\n']/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(headers: readonly string[], rows: readonly CsvCell[][]): string {
  return [headers, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}
