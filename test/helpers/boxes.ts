// `kmk-live serve` boxes for the several-box tests: each in its own folder with its own environment; its log kept
// and printed when the test fails; killed when the test ends.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { BIN, cleanEnv } from './cli.js';

export interface BoxSpec {
  name: string;
  dir: string;
  env: Record<string, string>;
}

interface TestLike {
  teardown(fn: () => unknown): void;
  passing(): boolean;
  comment(...args: unknown[]): void;
}

export function boxRunner(t: TestLike, tail = 6000): { serve(x: BoxSpec): ChildProcess; logs: Map<string, string> } {
  const logs = new Map<string, string>();
  t.teardown(() => { if (!t.passing()) for (const [n, l] of logs) t.comment(`${n} log:\n${l.slice(-tail)}`); });
  return {
    logs,
    serve(x: BoxSpec): ChildProcess {
      mkdirSync(x.dir, { recursive: true });
      const p = spawn(process.execPath, [BIN, 'serve'], { cwd: x.dir, env: cleanEnv(x.env), stdio: ['ignore', 'ignore', 'pipe'] });
      logs.set(x.name, logs.get(x.name) ?? '');
      p.stderr!.setEncoding('utf8').on('data', (c: string) => logs.set(x.name, logs.get(x.name) + c));
      t.teardown(() => p.kill('SIGKILL'));
      return p;
    },
  };
}
