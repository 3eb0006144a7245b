// One-line structured logging to stderr. Fields named like secrets are never printed.

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const SECRET = /key|token|secret|password/i;

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

function render(v: unknown): string {
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === 'string') return /^[\w.:/@-]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

export function createLogger(level: Level, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const at = (lvl: Level) => (msg: string, fields: Record<string, unknown> = {}): void => {
    if (ORDER[lvl] < ORDER[level]) return;
    const parts = Object.entries(fields).map(([k, v]) => `${k}=${SECRET.test(k) ? '<redacted>' : render(v)}`);
    write(`${new Date().toISOString()} ${lvl.padEnd(5)} ${msg}${parts.length ? ' ' + parts.join(' ') : ''}\n`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** The same logger with `fields` added to every line (a worker process's number, say). */
export function withFields(log: Logger, fields: Record<string, unknown>): Logger {
  const add = (f: (msg: string, x?: Record<string, unknown>) => void) => (msg: string, x: Record<string, unknown> = {}): void => f(msg, { ...fields, ...x });
  return { debug: add(log.debug), info: add(log.info), warn: add(log.warn), error: add(log.error) };
}
