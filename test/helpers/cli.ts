// Runs the real bin/kmk-live in a child process, in a given working directory, with a clean KMK_* environment.

import { execFile, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'kmk-live');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('KMK_') && !k.startsWith('MUX_') && !k.startsWith('NODE_') && !k.startsWith('TAP')) env[k] = v;
  }
  return { ...env, ...extra };
}

export function cli(cwd: string, args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, env: cleanEnv(env), encoding: 'utf8', timeout: 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a command that must succeed and print JSON; returns the parsed value. */
export function cliJson<T = unknown>(cwd: string, args: string[], env: Record<string, string> = {}): T {
  const r = cli(cwd, [...args, '--json'], env);
  if (r.code !== 0) throw new Error(`kmk-live ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Like cli(), but without blocking this process (needed when the CLI talks to a server living in the test). */
export function cliAsync(cwd: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env: cleanEnv(env), encoding: 'utf8', timeout: 120000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

/** cliJson() without blocking this process. */
export async function cliJsonAsync<T = unknown>(cwd: string, args: string[], env: Record<string, string> = {}): Promise<T> {
  const r = await cliAsync(cwd, [...args, '--json'], env);
  if (r.code !== 0) throw new Error(`kmk-live ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
