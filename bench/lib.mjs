// What the benchmarks share: waiting, a free loopback port, a percentile, the server's ffmpeg CPU.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP port free on 127.0.0.1 now (the server under test binds it next). */
export const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

/** The p-th percentile of the values (nearest rank); NaN for none. */
export const pct = (v, p) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};

/** CPU seconds so far of the server's ffmpeg children (the ladders, the stage's camera decoders), read from /proc
 * for the pids in the server's pid file (media folder). */
export function ffmpegCpu(mediaDir) {
  let ticks = 0;
  try {
    for (const pid of readFileSync(join(mediaDir, '.ffmpeg-pids'), 'utf8').split('\n').filter(Boolean)) {
      try {
        const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
        ticks += Number(f[11]) + Number(f[12]);
      } catch { /* gone */ }
    }
  } catch { /* no file yet */ }
  return ticks / 100;
}
