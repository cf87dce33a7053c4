/**
 * A mutex as a promise chain: `run(task)` starts `task` once every task queued before
 * it has settled, so tasks never overlap, even across their own `await`s. This is what
 * makes the memory store's operations atomic (CONC-1), update's read-modify-write
 * included (UPDATE-1).
 */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => T | Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined); // a failed task releases the lock too
    return result;
  }
}
