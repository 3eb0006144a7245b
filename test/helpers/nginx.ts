// Debian's nginx started by a test on a loopback port with a config the test writes (a CDN edge stand-in), and
// stopped by it. Everything nginx writes stays in the test's folder.

import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitFor } from './server.js';

export const NGINX = process.env.KMK_NGINX ?? '/usr/sbin/nginx';

export interface Nginx {
  base: string;
  port: number;
  errors(): string;
  stop(): Promise<void>;
}

/** `http` is the body of the http {} block; `{{PORT}}` and `{{DIR}}` are filled in. */
export async function startNginx(dir: string, http: string, fixedPort?: number): Promise<Nginx> {
  mkdirSync(dir, { recursive: true });
  const port = fixedPort ?? await freePort();
  const body = http.replace(/\{\{PORT\}\}/g, String(port)).replace(/\{\{DIR\}\}/g, dir);
  const conf = `worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${body}
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const proc: ChildProcess = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<void>((r) => proc.once('close', () => r()));
  const base = `http://127.0.0.1:${port}`;
  // Listening is enough (a TLS server does not answer plain HTTP).
  const listening = (): Promise<boolean> => new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
  await waitFor(`nginx on ${port}`, async () => {
    if (proc.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    return listening();
  }, 10000);
  return {
    base, port,
    errors: () => { try { return readFileSync(join(dir, 'error.log'), 'utf8'); } catch { return ''; } },
    stop: async () => {
      proc.kill('SIGQUIT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (proc.exitCode === null) proc.kill('SIGKILL');
    },
  };
}
