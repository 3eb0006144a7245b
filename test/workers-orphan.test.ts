// A worker of `serve --workers 2` never outlives its main process: killed by SIGKILL alone, or by SIGTERM and a
// SIGKILL half a second later (as a supervisor does when a stop takes too long), the worker is gone within 2 s, and
// a new serve on the same folder shares its port with no orphan. Real processes, a real redis-server.

import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, cleanEnv, cliJson } from './helpers/cli.js';
import { freePort, waitFor } from './helpers/server.js';
import { startRedis } from './helpers/redis.js';
import { childrenOf } from './helpers/procs.js';
import { testdir } from './helpers/testdir.js';

/** Running (a zombie waiting for its new parent to reap it is not). */
const alive = (pid: number): boolean => {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

t.test('a worker exits within 2 s of its main process dying, by any signal', async (t) => {
  const dir = testdir(t);
  const redis = await startRedis(join(dir, 'redis'));
  t.teardown(() => redis.stop());
  const http = await freePort();
  const env = { KMK_BIND_ADDRESS: '127.0.0.1', KMK_HTTP_PORT: String(http), KMK_RTMP_PORT: String(await freePort()), KMK_HUB_REDIS_URL: redis.url };
  cliJson(dir, ['channel', 'create', 'lecture'], env);
  const started: ChildProcess[] = [];
  t.teardown(() => { for (const p of started) p.kill('SIGKILL'); });
  const serve = async (): Promise<{ main: ChildProcess; worker: number }> => {
    const main = spawn(process.execPath, [BIN, 'serve', '--workers', '2'], { cwd: dir, env: cleanEnv(env), stdio: ['ignore', 'ignore', 'ignore'] });
    started.push(main);
    await waitFor('healthz', async () => (await fetch(`http://127.0.0.1:${http}/healthz`).catch(() => undefined))?.status === 200, 30000);
    const worker = await waitFor('the worker', () => childrenOf(main.pid!)[0], 20000);
    return { main, worker };
  };

  for (const how of ['SIGKILL', 'SIGTERM then SIGKILL after 0.5 s'] as const) {
    const { main, worker } = await serve();
    const gone = new Promise((r) => main.once('exit', r));
    if (how === 'SIGKILL') {
      main.kill('SIGKILL');
    } else {
      main.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 500));
      main.kill('SIGKILL');
    }
    await gone;
    const t0 = Date.now();
    await waitFor(`worker ${worker} to exit`, () => !alive(worker) || undefined, 5000);
    const ms = Date.now() - t0;
    t.ok(ms <= 2000, `${how}: the worker was gone ${ms} ms after its main process`);
  }

  // A worker the main could not stop (frozen): the next serve on the folder stops it before it listens.
  const { main, worker } = await serve();
  process.kill(worker, 'SIGSTOP'); // cannot notice anything while stopped
  main.kill('SIGKILL');
  await new Promise((r) => main.once('exit', r));
  t.ok(alive(worker), 'the frozen worker is still there (adopted by init)');
  const next = await serve();
  t.notOk(alive(worker), 'the next serve stopped the orphan before sharing the port with it');
  t.not(next.worker, worker);
  next.main.kill('SIGTERM');
  await new Promise((r) => next.main.once('exit', r));
});
