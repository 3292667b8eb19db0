import { createHook } from 'node:async_hooks';

/** Count of active resources (timers, sockets, servers, …) by type. */
export type ResourceSnapshot = ReadonlyMap<string, number>;

const POLL_MS = 50;
/** Only refs to user code are useful in a leak report. */
const INTERNAL_FRAME = /\(node:|^\s*at (?:node:|new Promise|Promise\.|process\.processTicksAndRejections)|node_modules[\\/]tsx/;

export function resourcesAvailable(): boolean {
  return typeof process !== 'undefined' && typeof process.getActiveResourcesInfo === 'function';
}

export function snapshotResources(): ResourceSnapshot {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** Types with more active resources now than in `baseline`, e.g. "Timeout 2 (baseline 1)". */
export function excessOver(baseline: ResourceSnapshot, current: ResourceSnapshot): string[] {
  const excess: string[] = [];
  for (const [type, count] of current) {
    const before = baseline.get(type) ?? 0;
    if (count > before) excess.push(`${type} ${count} (baseline ${before})`);
  }
  return excess;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls until no resource type is above `baseline` (sockets take a few event-loop turns to
 * finish closing) or `settleMs` has passed; returns what was still above it, if anything.
 */
export async function settleResources(baseline: ResourceSnapshot, settleMs: number): Promise<string[]> {
  const deadline = Date.now() + settleMs;
  for (;;) {
    const excess = excessOver(baseline, snapshotResources());
    if (excess.length === 0 || Date.now() >= deadline) return excess;
    await sleep(POLL_MS);
  }
}

/**
 * Tracks every timer created while enabled, unref'd ones included (those never show in
 * `getActiveResourcesInfo` but still run: a heartbeat left ticking after close is a leak).
 */
export class TimerTracker {
  private readonly pending = new Map<number, string>();
  /** True while the tracker makes its own poll timer (init runs synchronously inside setTimeout). */
  private ownTimer = false;
  private readonly hook = createHook({
    init: (asyncId, type) => {
      if (type === 'Timeout' && !this.ownTimer) this.pending.set(asyncId, creationSite());
    },
    destroy: (asyncId) => {
      this.pending.delete(asyncId);
    },
  });

  start(): void {
    this.hook.enable();
  }

  stop(): void {
    this.hook.disable();
  }

  /** Polls like `settleResources`; returns where each still-pending timer was created. */
  async settle(settleMs: number): Promise<string[]> {
    const deadline = Date.now() + settleMs;
    while (this.pending.size > 0 && Date.now() < deadline) await this.pause();
    return [...this.pending.values()];
  }

  private pause(): Promise<void> {
    this.ownTimer = true;
    try {
      return sleep(POLL_MS);
    } finally {
      this.ownTimer = false;
    }
  }
}

/** Where the timer was made: the first frames after Node's timer internals. */
function creationSite(): string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 20;
  const lines = (new Error().stack ?? '').split('\n');
  Error.stackTraceLimit = limit;
  let start = 0;
  lines.forEach((line, index) => {
    if (/node:(?:internal\/)?timers/.test(line)) start = index + 1;
  });
  const frames = lines.slice(start).filter((line) => !INTERNAL_FRAME.test(line));
  return frames.slice(0, 3).map((line) => line.trim()).join(' ← ') || 'unknown site';
}
