// The order components run in: each is started after the ones it needs and stopped before them, so there is one
// shutdown order, the reverse of the start, for a normal stop and for a start that failed halfway.

import type { Logger } from './log.js';

export interface Component {
  start?(): Promise<void> | void;
  stop?(): Promise<void> | void;
}

export class Lifecycle {
  private readonly running: { name: string; c: Component }[] = [];

  constructor(private readonly log: Logger) {}

  /** Starts `c`; from now on it is stopped by stop(), before everything started earlier. */
  async start(name: string, c: Component): Promise<void> {
    await c.start?.();
    this.running.push({ name, c });
  }

  /** Stops every started component, newest first; one that fails to stop is logged and the rest still stop. */
  async stop(): Promise<void> {
    for (const { name, c } of this.running.splice(0).reverse()) {
      try {
        await c.stop?.();
      } catch (err) {
        this.log.error('could not stop a component', { component: name, err });
      }
    }
  }
}
