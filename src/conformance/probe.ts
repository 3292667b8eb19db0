import type { Subscription } from 'rxjs';
import type { P2PConnectionHandler, P2PPeer } from '../types.js';
import { ConformanceFailure, preview, within } from './checks.js';
import type { ConformanceLevel } from './types.js';

export type StreamName = 'connect$' | 'disconnect$' | 'message$' | 'response$' | 'error$';
export const STREAMS: readonly StreamName[] = ['connect$', 'disconnect$', 'message$', 'response$', 'error$'];

export interface Recorded {
  stream: StreamName;
  value: any;
}

interface Waiter {
  /** True once satisfied (it has resolved itself). */
  check(): boolean;
  abandon(reason: Error): void;
}

const MAX_VIOLATIONS = 10;

/**
 * Subscribes to every stream of one handler the moment it exists and records every emission
 * in arrival order, so no waiter can miss an event of a hot subject: a case takes a mark
 * before acting and waits for what arrives after it. It also enforces, for every case, the
 * rules no single case should have to repeat: identity, finality and routing always (RxDB
 * relies on them), coded errors and nothing after close at `strict` level.
 */
export class HandlerProbe {
  readonly events: Recorded[] = [];
  readonly completed = new Set<StreamName>();
  /** Broken rules seen, each with how often (the same break tends to repeat per payload). */
  readonly violations = new Map<string, number>();
  /** 'closing' from the moment close()/destroy() is called through the probe. */
  closeState: 'open' | 'closing' | 'closed' = 'open';
  /** Set before a crash, so the crashed handler may complete on its own. */
  crashed = false;
  /** Live links left when disconnect$ completed: close() must end each with a disconnect$ first. */
  liveWhenDisconnectCompleted: number | undefined;
  private readonly live = new Set<P2PPeer>();
  private readonly ended = new WeakSet<object>();
  private readonly waiters = new Set<Waiter>();
  private readonly subscriptions: Subscription[] = [];
  private droppedViolations = 0;

  constructor(
    /** "peer A", "peer B"… as used in every failure message. */
    readonly name: string,
    readonly topic: string,
    readonly handler: P2PConnectionHandler,
    /** Default wait for `next`, `until` and `completion`. */
    readonly timeoutMs: number,
    readonly level: ConformanceLevel = 'strict',
  ) {
    for (const stream of STREAMS) {
      this.subscriptions.push(
        handler[stream].subscribe({
          next: (value: unknown) => this.record(stream, value),
          error: (error: unknown) => this.violate(`${stream} signalled an error notification (streams must never error): ${preview(error)}`),
          complete: () => this.onComplete(stream),
        }),
      );
    }
  }

  /** Position to wait from: take it before the action that triggers the event. */
  mark(): number {
    return this.events.length;
  }

  get livePeers(): P2PPeer[] {
    return [...this.live];
  }

  values(stream: StreamName, after = 0): any[] {
    return this.events.slice(after).filter((event) => event.stream === stream).map((event) => event.value);
  }

  /** The first emission on `stream` at or after `after` matching `where`, waiting for it if needed. */
  next<T = any>(
    stream: StreamName,
    options: { after?: number; where?: (value: any) => boolean; what?: string; timeoutMs?: number } = {},
  ): Promise<T> {
    const { after = 0, where = () => true, what, timeoutMs = this.timeoutMs } = options;
    let scanned = after;
    let found: T | undefined;
    const scan = (): boolean => {
      for (; scanned < this.events.length; scanned += 1) {
        const event = this.events[scanned]!;
        if (event.stream === stream && where(event.value)) {
          found = event.value as T;
          return true;
        }
      }
      return false;
    };
    return this.wait(scan, () => found as T, timeoutMs, () => `${stream} did not emit${what ? ` ${what}` : ''}`);
  }

  /** Waits until `condition()` holds (re-checked on every event); `describe` names what never happened. */
  until(condition: () => boolean, describe: () => string, timeoutMs = this.timeoutMs): Promise<void> {
    return this.wait(condition, () => undefined, timeoutMs, describe);
  }

  /** Waits for `streams` (default: all five) to complete. */
  completion(streams: readonly StreamName[] = STREAMS, timeoutMs = this.timeoutMs): Promise<void> {
    const open = () => streams.filter((stream) => !this.completed.has(stream));
    return this.until(() => open().length === 0, () => `${open().join(', ')} did not complete`, timeoutMs);
  }

  /** `close()`, or RxDB 14's `destroy()` on a handler of that generation. */
  close(): Promise<void> {
    const handler = this.handler as Partial<P2PConnectionHandler>;
    return this.track(() => (typeof handler.close === 'function' ? handler.close() : handler.destroy!()));
  }

  /** `destroy()`, or `close()` on a handler of RxDB 17's generation, which has no `destroy()`. */
  destroy(): Promise<void> {
    const handler = this.handler as Partial<P2PConnectionHandler>;
    return this.track(() => (typeof handler.destroy === 'function' ? handler.destroy() : handler.close!()));
  }

  /** Ends recording; pending waits fail so a timed-out case body stops promptly. */
  stop(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    const reason = new ConformanceFailure(`${this.name}: the case ended while still waiting`);
    for (const waiter of this.waiters) waiter.abandon(reason);
    this.waiters.clear();
  }

  violationReport(): string | undefined {
    if (this.violations.size === 0) return undefined;
    const more = this.droppedViolations > 0 ? `\n  ${this.name}: … and ${this.droppedViolations} more of other kinds` : '';
    const lines = [...this.violations].map(([text, count]) => `  ${this.name}: ${text}${count > 1 ? ` (×${count})` : ''}`);
    return lines.join('\n') + more;
  }

  private track(call: () => Promise<void>): Promise<void> {
    if (this.closeState === 'open') this.closeState = 'closing';
    let result: Promise<void>;
    try {
      result = Promise.resolve(call());
    } catch (error) {
      result = Promise.reject(error);
    }
    return result.then(() => {
      this.closeState = 'closed';
    });
  }

  private wait<T>(condition: () => boolean, result: () => T, timeoutMs: number, describe: () => string): Promise<T> {
    if (condition()) return Promise.resolve(result());
    let waiter!: Waiter;
    const pending = new Promise<T>((resolve, reject) => {
      waiter = {
        check: () => {
          if (!condition()) return false;
          resolve(result());
          return true;
        },
        abandon: reject,
      };
    });
    this.waiters.add(waiter);
    return within(pending, timeoutMs, () => `${this.name}: ${describe()}`).finally(() => this.waiters.delete(waiter));
  }

  private violate(text: string): void {
    const seen = this.violations.get(text);
    if (seen !== undefined) this.violations.set(text, seen + 1);
    else if (this.violations.size < MAX_VIOLATIONS) this.violations.set(text, 1);
    else this.droppedViolations += 1;
  }

  private onComplete(stream: StreamName): void {
    if (this.closeState === 'open' && !this.crashed) this.violate(`${stream} completed before close() was called`);
    if (stream === 'disconnect$') this.liveWhenDisconnectCompleted = this.live.size;
    this.completed.add(stream);
    this.notify();
  }

  private record(stream: StreamName, value: unknown): void {
    if (this.closeState === 'closed' && this.level === 'strict') this.violate(`${stream} emitted after close() resolved: ${preview(value)}`);
    this.checkRules(stream, value);
    this.events.push({ stream, value });
    this.notify();
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) if (waiter.check()) this.waiters.delete(waiter);
  }

  private checkRules(stream: StreamName, value: any): void {
    if (stream === 'error$') {
      if (typeof value?.code !== 'string' && this.level === 'strict') this.violate(`error$ emitted a value without a string code: ${preview(value)}`);
      return;
    }
    const peer: unknown = stream === 'connect$' || stream === 'disconnect$' ? value : value?.peer;
    if (typeof peer !== 'object' || peer === null) {
      this.violate(`${stream} emitted no peer object: ${preview(value)}`);
      return;
    }
    const id = (peer as { id?: unknown }).id;
    const known = peer as P2PPeer;
    if (typeof id !== 'string' || id.length === 0) this.violate(`${stream} emitted a peer without a string id: ${preview(peer)}`);
    if (stream === 'connect$') {
      if (this.live.has(known)) this.violate(`connect$ emitted peer ${String(id)} again without a disconnect$ between`);
      else if (this.ended.has(known)) {
        this.violate(`connect$ re-emitted peer ${String(id)} after its disconnect$ (disconnect$ is final; a reconnect needs a new object)`);
      }
      this.live.add(known);
    } else if (stream === 'disconnect$') {
      if (!this.live.has(known)) {
        this.violate(`disconnect$ emitted peer ${String(id)}, which was not connected${this.ended.has(known) ? ' (a second disconnect$)' : ''}`);
      }
      this.live.delete(known);
      this.ended.add(known);
    } else {
      if (!this.live.has(known)) {
        this.violate(
          `${stream} emitted a peer object (id ${String(id)}) that is not a connected peer: identity must be the connect$ object, and nothing may arrive after disconnect$`,
        );
      }
      const payload = stream === 'message$' ? value.message : value.response;
      const isRequest = typeof payload?.method === 'string';
      if (typeof payload !== 'object' || payload === null) this.violate(`${stream} emitted no payload object: ${preview(value)}`);
      else if (stream === 'message$' && !isRequest) this.violate(`message$ emitted a payload without a string method: ${preview(payload)}`);
      else if (stream === 'response$' && isRequest) this.violate(`response$ emitted a request (string method): ${preview(payload)}`);
    }
  }
}
