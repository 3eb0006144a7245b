// Deletions that keep the store from growing without end: old player beacons, deep-linked classes the LMS never
// confirmed. Run at start and hourly; each task says what it deleted. Owns only its timer.

import type { Logger } from '../log.js';
import type { BeaconRepository, ClassRepository } from '../store/ports.js';

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

/**
 * The store's retention tasks. `mayRun(name, now)` answers whether this box holds (or takes) the task's lease: on a
 * shared store one box runs each task in a half-hour (a box that dies holding it is replaced once it lapses).
 */
export function retentionTasks(d: {
  beacons: Pick<BeaconRepository, 'prune'>;
  classes: Pick<ClassRepository, 'dropUnconfirmed'>;
  beaconRetentionDays: number;
  mayRun(name: string, now: number): Promise<boolean>;
}): HousekeepingTask[] {
  return [
    {
      // Beacons are kept reports.beaconRetentionDays.
      run: async (now) => (await d.mayRun('retention:beacons', now)) ? d.beacons.prune(now - d.beaconRetentionDays * 86400000) : 0,
      done: 'deleted old player beacons', failed: 'could not delete old player beacons',
      fields: { retentionDays: d.beaconRetentionDays },
    },
    // Deep-linked classes the LMS never confirmed go once their time is over.
    {
      run: async (now) => (await d.mayRun('retention:classes', now)) ? d.classes.dropUnconfirmed(now) : 0,
      done: 'deleted deep-linked classes the LMS never confirmed', failed: 'could not delete unconfirmed classes',
    },
  ];
}
