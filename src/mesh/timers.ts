/** The clock the core schedules with; inject a fake one in tests. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Every timer a handler starts goes through one TimerSet, so close() can clear them all
 * and no callback fires into a closed handler.
 */
export class TimerSet {
  private readonly handles = new Set<unknown>();
  private disposed = false;

  constructor(readonly clock: Clock = systemClock) {}

  /** Runs `callback` once after `ms`; returns a cancel function. A no-op after dispose(). */
  after(ms: number, callback: () => void): () => void {
    if (this.disposed) return () => {};
    const handle = this.clock.setTimeout(() => {
      this.handles.delete(handle);
      callback();
    }, ms);
    this.handles.add(handle);
    return () => {
      if (this.handles.delete(handle)) this.clock.clearTimeout(handle);
    };
  }

  get size(): number {
    return this.handles.size;
  }

  dispose(): void {
    this.disposed = true;
    for (const handle of this.handles) this.clock.clearTimeout(handle);
    this.handles.clear();
  }
}

/** Exponential backoff with full jitter: attempt n waits a random time in [min, min·2ⁿ] capped at max. */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(minMs + random() * (ceiling - minMs));
}
