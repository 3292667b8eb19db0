/**
 * Everything that reaches one handler from the network, in order: link events and payloads
 * share one FIFO queue with a constant delay, so a payload sent after a connect can never
 * overtake it, and a goodbye never overtakes the payloads sent before it. Owned by the
 * receiver, so closing the receiver clears every pending timer it could still fire.
 */
export class Inbox {
  private readonly queue: Array<{ dueAt: number; run: () => void }> = [];
  private head = 0;
  private drainTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private cleared = false;

  constructor(private readonly latencyMs: number) {}

  /** Runs `run` after the network latency, after everything pushed before it. */
  push(run: () => void): void {
    if (this.cleared) return;
    this.queue.push({ dueAt: performance.now() + this.latencyMs, run });
    if (this.drainTimer === undefined) this.schedule();
  }

  /** Runs `run` after `delayMs`, outside the FIFO (e.g. a crash noticed by a heartbeat). */
  later(delayMs: number, run: () => void): void {
    if (this.cleared) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, delayMs);
    this.timers.add(timer);
  }

  /** Drops everything pending; later pushes are ignored (the receiver is gone). */
  clear(): void {
    this.cleared = true;
    this.cancelDrain();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.queue.length = 0;
    this.head = 0;
  }

  private schedule(): void {
    const next = this.queue[this.head];
    if (next === undefined) return;
    const wait = next.dueAt - performance.now();
    // Never deliver synchronously: the sender's send() must return before the receiver reacts.
    this.drainTimer =
      this.latencyMs === 0 || wait <= 0
        ? setImmediate(() => this.drain())
        : setTimeout(() => this.drain(), Math.ceil(wait));
  }

  private cancelDrain(): void {
    if (this.drainTimer === undefined) return;
    clearTimeout(this.drainTimer as NodeJS.Timeout);
    clearImmediate(this.drainTimer as NodeJS.Immediate);
    this.drainTimer = undefined;
  }

  private drain(): void {
    this.drainTimer = undefined;
    // Only what was due when the drain started: a ping-pong between two handlers must
    // yield to I/O between rounds instead of running in one macrotask.
    const now = performance.now();
    const end = this.queue.length;
    while (this.head < end && !this.cleared) {
      const item = this.queue[this.head];
      if (item === undefined || item.dueAt > now) break;
      this.queue[this.head] = undefined as never;
      this.head += 1;
      try {
        item.run();
      } catch (error) {
        // A throwing subscriber must not stall delivery of everything queued behind it.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    if (this.cleared) return;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
      return;
    }
    this.schedule();
  }
}
