// The pids of the ffmpeg children this server runs, kept in a small file in the media folder, so that a server
// killed with SIGKILL (no chance to stop its children) reaps the survivors at its next start, before it
// recovers their recordings. Only processes whose command line is still ffmpeg are signalled.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';

export const PID_FILE = '.ffmpeg-pids';

export class PidFile {
  private readonly pids = new Set<number>();
  readonly path: string;

  constructor(mediaDir: string, private readonly log: Logger) {
    this.path = join(mediaDir, PID_FILE);
  }

  add(pid: number): void {
    this.pids.add(pid);
    this.save();
  }

  remove(pid: number): void {
    if (this.pids.delete(pid)) this.save();
  }

  private save(): void {
    try {
      writeFileSync(`${this.path}.tmp`, [...this.pids].join('\n'));
      renameSync(`${this.path}.tmp`, this.path);
    } catch (err) {
      this.log.warn('could not write the ffmpeg pid file', { path: this.path, err });
    }
  }

  /** Kills ffmpeg processes a previous run of this server left behind; returns how many there were. */
  async reap(waitMs = 3000): Promise<number> {
    let text = '';
    try {
      text = readFileSync(this.path, 'utf8');
    } catch {
      return 0;
    }
    const alive: number[] = [];
    for (const pid of parsePids(text)) {
      if (pid === process.pid || !(await isFfmpeg(pid))) continue;
      try {
        process.kill(pid, 'SIGTERM');
        alive.push(pid);
      } catch {
        // gone between the check and the signal
      }
    }
    const deadline = Date.now() + waitMs;
    for (const pid of alive) {
      while (Date.now() < deadline && (await isFfmpeg(pid))) await new Promise((r) => setTimeout(r, 50));
      if (await isFfmpeg(pid)) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      }
    }
    if (alive.length) this.log.warn('stopped ffmpeg processes left by a previous run', { count: alive.length });
    this.pids.clear();
    this.save();
    return alive.length;
  }
}

/** The pids in a pid file's text; anything else in it is ignored. Pure. */
export function parsePids(text: string): number[] {
  return text.split(/\s+/).filter((s) => /^\d{1,9}$/.test(s)).map(Number).filter((n) => n > 1);
}

async function isFfmpeg(pid: number): Promise<boolean> {
  try {
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // A zombie (state Z) is already dead; only its parent can reap it.
    if (/\) Z /.test(stat)) return false;
    return /(^|\/)ffmpeg\0/.test(cmd);
  } catch {
    return false;
  }
}
