// CPU time used so far by a running process, read from /proc/<pid>/stat (Linux). utime and stime are in clock ticks;
// Linux reports them at USER_HZ = 100 on every architecture we run on. undefined when the process is gone.

import { readFile } from 'node:fs/promises';

export const USER_HZ = 100;

/** Parses a /proc/<pid>/stat line into user+system milliseconds (the name field may hold spaces and parentheses). */
export function parseProcStat(text: string): number | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const f = text.slice(close + 2).split(' ');
  // After "pid (comm) ": state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? ((utime + stime) * 1000) / USER_HZ : undefined;
}

export async function cpuMsOf(pid: number): Promise<number | undefined> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}
