// One `kmk-live serve` per data folder: a lock file holding the server's pid. A second server on the same folder
// refuses to start with a message naming the first (two would both write the database, both reap each other's
// ffmpeg processes and both publish the same channels). A lock left by a server that died is taken over.

import { readFileSync, unlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError } from '../domain/errors.js';

export const LOCK_FILE = 'serve.lock';

/** True when a process with this pid runs Node (a kmk-live server), as far as /proc tells. */
function serverAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return /node|kmk-live/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true; // no /proc: trust the signal check
  }
}

export interface DataLock {
  release(): void;
}

export function lockDataFolder(dataDir: string): DataLock {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      let released = false;
      return {
        release: () => {
          if (released) return;
          released = true;
          try {
            if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = NaN;
    try {
      holder = Number(readFileSync(file, 'utf8').trim());
    } catch {
      continue; // removed meanwhile: try again
    }
    if (serverAlive(holder)) {
      throw new ConflictError(`another kmk-live serve (pid ${holder}) already uses the data folder ${dataDir}: stop it first, or give this one its own paths.data (its lock is ${file})`);
    }
    try {
      unlinkSync(file); // left by a server that died: take it over
    } catch {
      // someone else took it over first; the next attempt sees theirs
    }
  }
  throw new ConflictError(`could not take the lock ${file}; another server may be starting on the same data folder`);
}
