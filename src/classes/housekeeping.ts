// Deletions that keep the store from growing without end: old player beacons, deep-linked classes the LMS never
// confirmed. Run at start and hourly; each task says what it deleted. Owns only its timer.

import type { Logger } from '../log.js';

export interface HousekeepingTask {
  /** Deletes what is due at `now`; answers how many rows went. */
  run(now: number): number | Promise<number>;
  /** Logged with the count when something went. */
  done: string;
  /** Logged when the task failed (the next run tries again). */
  failed: string;
  fields?: Record<string, unknown>;
}

export class Housekeeping {
  private timer?: NodeJS.Timeout;

  constructor(private readonly o: { everyMs: number; tasks: HousekeepingTask[]; log: Logger; now?: () => number }) {}

  async start(): Promise<void> {
    await this.runAll();
    this.timer = setInterval(() => void this.runAll(), this.o.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
  }

  private async runAll(): Promise<void> {
    const now = (this.o.now ?? Date.now)();
    for (const task of this.o.tasks) {
      try {
        const count = await task.run(now);
        if (count) this.o.log.info(task.done, { count, ...task.fields });
      } catch (err) {
        this.o.log.warn(task.failed, { err });
      }
    }
  }
}
