/**
 * Runs async tasks one after another in the order they were queued: sealing and opening
 * signals are asynchronous, and an offer must still leave (and be read) before its candidates.
 * A failed task rejects its own promise only; the queue goes on.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => T | Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
