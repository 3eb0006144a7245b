// Loads the configuration: package defaults, then a file (--config or KMK_CONFIG), then KMK_* variables.
// Validates every layer against the schema and returns one frozen Config; never exits the process itself.

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../domain/errors.js';
import { SCHEMA, checkValue, envName, type Config, type ConfigKey, type KeySpec } from './schema.js';

export const DEFAULTS_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'config', 'default.json');

export interface LoadOptions {
  /** Override file; falls back to env.KMK_CONFIG. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  defaultsFile?: string;
}

type Flat = Map<string, unknown>;
type Source = { label: string; values: Flat };

const KEYS = Object.keys(SCHEMA) as ConfigKey[];
const spec = (k: string): KeySpec | undefined => (SCHEMA as Record<string, KeySpec>)[k];

/** Flattens nested JSON objects into dotted keys; arrays and scalars are leaves. */
export function flatten(obj: unknown, prefix = '', out: Flat = new Map()): Flat {
  if (obj !== null && typeof obj === 'object' && !Array.isArray(obj)) {
    for (const [k, v] of Object.entries(obj)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.set(prefix, obj);
  }
  return out;
}

function readJsonFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`config: cannot read ${what} ${file}: ${code === 'ENOENT' ? 'no such file' : code ?? 'read error'}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new ConfigError(`config: ${what} ${file} must hold a JSON object`);
    }
    return parsed;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`config: ${what} ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

function parseEnvValue(s: KeySpec, raw: string): unknown {
  switch (s.type) {
    case 'integer':
    case 'number':
      return /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    case 'boolean':
      return raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw;
    default:
      return raw;
  }
}

function fromEnv(env: NodeJS.ProcessEnv, problems: string[]): Flat {
  const byEnv = new Map(KEYS.map((k) => [envName(k), k]));
  const out: Flat = new Map();
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('KMK_') || name === 'KMK_CONFIG' || name === 'KMK_HUB_REDIS_URL' || raw === undefined) continue;
    const key = byEnv.get(name);
    if (!key) {
      problems.push(`config: unknown environment variable ${name} (no such key; see docs/configuration.md)`);
      continue;
    }
    out.set(key, parseEnvValue(SCHEMA[key], raw));
  }
  if (!out.has('hub.backplane') && env.KMK_HUB_REDIS_URL) out.set('hub.backplane', env.KMK_HUB_REDIS_URL);
  // Mux's own variable names, when ours are not set.
  if (!out.has('mux.tokenId') && env.MUX_TOKEN_ID) out.set('mux.tokenId', env.MUX_TOKEN_ID);
  if (!out.has('mux.tokenSecret') && env.MUX_TOKEN_SECRET) out.set('mux.tokenSecret', env.MUX_TOKEN_SECRET);
  if (!out.has('mux.webhookSecret') && env.MUX_WEBHOOK_SECRET) out.set('mux.webhookSecret', env.MUX_WEBHOOK_SECRET);
  if (!out.has('mux.signingKeyId') && env.MUX_SIGNING_KEY) out.set('mux.signingKeyId', env.MUX_SIGNING_KEY);
  if (!out.has('mux.signingKeyPrivate') && env.MUX_PRIVATE_KEY) out.set('mux.signingKeyPrivate', env.MUX_PRIVATE_KEY);
  return out;
}

function show(key: string, v: unknown): string {
  if (spec(key)?.secret) return '"<redacted>"';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? s.slice(0, 77) + '...' : s;
}

/** Loads and validates; throws ConfigError listing every problem, one per line. */
export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const problems: string[] = [];
  const sources: Source[] = [];

  const defaultsFile = opts.defaultsFile ?? DEFAULTS_FILE;
  sources.push({ label: `defaults ${defaultsFile}`, values: flatten(readJsonFile(defaultsFile, 'defaults file')) });
  const file = opts.file ?? (env.KMK_CONFIG || undefined);
  if (file) {
    const path = resolve(cwd, file);
    sources.push({ label: `file ${path}`, values: flatten(readJsonFile(path, 'config file')) });
  }
  sources.push({ label: 'environment', values: fromEnv(env, problems) });

  const merged = new Map<string, unknown>();
  for (const { label, values } of sources) {
    for (const [key, value] of values) {
      const s = spec(key);
      const where = label === 'environment' ? `environment ${envName(key)}` : label;
      if (!s) {
        problems.push(`config: unknown key "${key}" in ${where}`);
        continue;
      }
      const expected = checkValue(s, value);
      if (expected) {
        problems.push(`config: ${key} = ${show(key, value)} (from ${where}): expected ${expected}`);
        continue;
      }
      merged.set(key, value);
    }
  }
  for (const key of KEYS) {
    if (!merged.has(key) && !problems.some((p) => p.includes(` ${key} = `))) {
      problems.push(`config: ${key} has no value: the defaults file ${defaultsFile} lacks it`);
    }
  }
  if (merged.get('mux.playbackPolicy') === 'signed' && merged.get('mux.tokenId') && !(merged.get('mux.signingKeyId') && merged.get('mux.signingKeyPrivate'))) {
    problems.push('config: mux.playbackPolicy = "signed" needs mux.signingKeyId and mux.signingKeyPrivate (a URL signing key from Mux\'s dashboard), or learners could not play Mux streams');
  }
  if (problems.length) throw new ConfigError(problems.join('\n'));

  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(cwd, p));
  const data = abs(merged.get('paths.data') as string);
  merged.set('paths.data', data);
  merged.set('paths.media', abs(merged.get('paths.media') as string));
  const db = merged.get('paths.db') as string;
  merged.set('paths.db', db ? abs(db) : join(data, 'kmk.db'));
  for (const k of ['rtmp.tlsCert', 'rtmp.tlsKey', 'transcode.ffmpegPath', 'transcode.ffprobePath'] as const) {
    const v = merged.get(k) as string;
    if (v && (v.includes('/') || v.startsWith('.'))) merged.set(k, abs(v));
  }
  return Object.freeze(Object.fromEntries(merged)) as Config;
}

/** The effective config with secrets replaced, as nested JSON for printing. */
export function redacted(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of KEYS) {
    const v = config[key];
    const value = spec(key)?.secret && v !== '' ? '<redacted>' : v;
    const parts = key.split('.');
    let node = out;
    for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]!] = value;
  }
  return out;
}
