// A queue that runs async steps one at a time, in the order they were given: a class run's transitions never
// interleave, so no step has to re-check the state after an await of another step. A failed step does not stop
// the queue; its caller sees the error.

export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  run<T>(step: () => T | Promise<T>): Promise<T> {
    this.pending += 1;
    const next = this.tail.then(step).finally(() => {
      this.pending -= 1;
    });
    this.tail = next.catch(() => {});
    return next;
  }

  /** Steps queued or running. */
  get size(): number {
    return this.pending;
  }

  /** Resolves once every step queued so far has finished. */
  idle(): Promise<void> {
    return this.tail.then(() => {});
  }
}
