import type { Clock } from '../../src/mesh/timers.js';

/** A clock the test moves by hand; due timers run in order, with a pause for their async work. */
export class ManualClock implements Clock {
  private time = Date.now();
  private readonly timers = new Map<number, { at: number; run: () => void }>();
  private ids = 0;

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = ++this.ids;
    this.timers.set(id, { at: this.time + ms, run: callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, timer]) => timer.at <= end).sort((x, y) => x[1].at - y[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = due[1].at;
      due[1].run();
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.time = end;
  }
}
