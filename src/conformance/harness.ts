import { randomInt } from 'node:crypto';
import type { P2PConnectionHandler, P2PConnectionHandlerCreator } from '../types.js';
import { HandlerProbe, STREAMS } from './probe.js';
import { snapshotResources, type ResourceSnapshot } from './resources.js';
import { check, ConformanceFailure, expectRejection, fail, preview, within } from './checks.js';
import type { CaseContext, ConformanceLevel, ConformanceTarget, ResolvedCapabilities } from './types.js';

const TOPIC_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';
/** Shortest default topic: enough randomness that parallel runs on one server never meet. */
const MIN_DEFAULT_TOPIC = 10;
const MAX_TOPIC = 99;

export function randomTopic(length = randomInt(MIN_DEFAULT_TOPIC, MAX_TOPIC + 1)): string {
  let topic = '';
  for (let i = 0; i < length; i += 1) topic += TOPIC_CHARS[randomInt(TOPIC_CHARS.length)];
  return topic;
}

/**
 * Streams, `send()` and a way to end it: `close()` (RxDB 17's handlers) or `destroy()` (RxDB
 * 14's). That strict level wants both is one case of its own, not a reason to fail every case.
 */
function assertHandler(value: unknown, name: string): asserts value is P2PConnectionHandler {
  if (typeof value !== 'object' || value === null) fail(`${name}: the creator resolved to ${preview(value)}, not a handler`);
  const handler = value as Record<string, unknown>;
  for (const stream of STREAMS) {
    const observable = handler[stream] as { subscribe?: unknown } | undefined;
    check(typeof observable?.subscribe === 'function', `${name}: the handler has no ${stream} observable`);
  }
  check(typeof handler.send === 'function', `${name}: the handler has no send() method`);
  check(typeof handler.close === 'function' || typeof handler.destroy === 'function', `${name}: the handler has neither close() (RxDB 17) nor destroy() (RxDB 14)`);
}

/**
 * One case's world: the env, every handler the case created (closed in cleanup whatever
 * happened, so a failing case never leaks into the next) and the per-case topic.
 */
export class CaseHarness implements CaseContext {
  readonly topic = randomTopic();
  baseline: ResourceSnapshot | undefined;
  private env: unknown;
  /** Kept so cleanup can tear down an env whose setup outlived its wait. */
  private envSetup: Promise<unknown> | undefined;
  /** Set when cleanup starts: a timed-out case body still running must not open more handlers. */
  private ended = false;
  private readonly probes: HandlerProbe[] = [];
  private readonly creators = new WeakMap<HandlerProbe, P2PConnectionHandlerCreator>();
  /** Handlers whose creator resolved after its wait timed out: closed in cleanup too. */
  private readonly stragglers = new Set<Promise<unknown>>();
  private peers = 0;
  private ids = 0;

  constructor(
    private readonly target: ConformanceTarget<unknown>,
    readonly caps: ResolvedCapabilities,
    private readonly withEnv: boolean,
    readonly runBaseline: ResourceSnapshot | undefined,
    readonly level: ConformanceLevel,
  ) {}

  rejects(promise: Promise<unknown>, code: string | 'any', what: string): Promise<unknown> {
    return expectRejection(promise, code, what, this.caps.timeoutMs, this.level === 'contract');
  }

  async setup(): Promise<void> {
    const setup = this.target.setup;
    if (this.withEnv && setup) {
      this.envSetup = Promise.resolve().then(() => setup());
      this.env = await within(this.envSetup, this.caps.timeoutMs, 'target.setup() did not settle');
    }
    // After setup: the env's own sockets (a signaling server) are part of the baseline.
    if (this.caps.checkResources) this.baseline = snapshotResources();
  }

  async open(options: { topic?: string } = {}): Promise<HandlerProbe> {
    const name = `peer ${String.fromCharCode(65 + (this.peers % 26))}${this.peers >= 26 ? Math.floor(this.peers / 26) : ''}`;
    this.peers += 1;
    if (this.ended) fail(`${name}: the case has already ended`);
    const creator = this.target.creator(this.env);
    check(typeof creator === 'function', () => `${name}: target.creator(env) returned ${preview(creator)}, not a function`);
    return this.start(creator, options.topic ?? this.topic, name);
  }

  async reopen(probe: HandlerProbe): Promise<HandlerProbe> {
    const creator = this.creators.get(probe);
    if (creator === undefined) fail(`${probe.name} was not opened by this case`);
    const round = this.probes.filter((other) => other.name.split('#')[0] === probe.name.split('#')[0]).length + 1;
    return this.start(creator, probe.topic, `${probe.name.split('#')[0]!}#${round}`);
  }

  async alsoOpen(probe: HandlerProbe, topic: string): Promise<HandlerProbe> {
    const creator = this.creators.get(probe);
    if (creator === undefined) fail(`${probe.name} was not opened by this case`);
    const siblings = this.probes.filter((other) => other.name.startsWith(`${probe.name}/`)).length;
    return this.start(creator, topic, `${probe.name}/${siblings + 2}`);
  }

  async crash(probe: HandlerProbe): Promise<void> {
    const crash = this.caps.crash;
    if (crash === undefined) fail('this case needs capabilities.crash');
    probe.crashed = true;
    await within(Promise.resolve(crash(probe.handler, this.env)), this.caps.timeoutMs, `${probe.name}: capabilities.crash() did not settle`);
  }

  async provokeError(probe: HandlerProbe): Promise<void> {
    const provoke = this.caps.provokeError;
    if (provoke === undefined) fail('this case needs capabilities.provokeError');
    await within(
      Promise.resolve(provoke(probe.handler, this.env)),
      this.caps.timeoutMs,
      `${probe.name}: capabilities.provokeError() did not settle`,
    );
  }

  randomTopic(length?: number): string {
    return randomTopic(length);
  }

  nextId(prefix = 'm'): string {
    this.ids += 1;
    return `${prefix}-${this.ids}`;
  }

  /** Every rule a probe saw broken during the case, or undefined. */
  violations(): string | undefined {
    const reports = this.probes.map((probe) => probe.violationReport()).filter(Boolean);
    return reports.length === 0 ? undefined : `contract violations:\n${reports.join('\n')}`;
  }

  assertNoViolations(): void {
    const report = this.violations();
    if (report) throw new ConformanceFailure(report);
  }

  /** Closes every handler, then tears the env down; never throws, returns what went wrong. */
  async cleanup(): Promise<Error | undefined> {
    this.ended = true;
    const problems: string[] = [];
    const late = await Promise.allSettled(
      [...this.stragglers].map((pending) => within(pending, this.caps.timeoutMs, 'a creator never resolved')),
    );
    const extra = late.flatMap((outcome) => {
      const value = outcome.status === 'fulfilled' ? (outcome.value as { close?: unknown; destroy?: unknown } | undefined) : undefined;
      return typeof value?.close === 'function' || typeof value?.destroy === 'function' ? [value as P2PConnectionHandler] : [];
    });
    const closing = [
      ...this.probes.map((probe) => within(probe.close(), this.caps.timeoutMs, `${probe.name}: close() did not settle during cleanup`)),
      ...extra.map((handler) => within(Promise.resolve().then(() => (handler.close ?? handler.destroy).call(handler)), this.caps.timeoutMs, 'a late handler did not close')),
    ];
    for (const outcome of await Promise.allSettled(closing)) {
      if (outcome.status === 'rejected') problems.push(preview(outcome.reason, 300));
    }
    for (const probe of this.probes) probe.stop();
    const teardown = this.target.teardown;
    if (this.envSetup !== undefined && teardown) {
      // A setup that failed has nothing to tear down (its error already failed the case).
      const setup = await within(
        this.envSetup.then((env) => ({ env }), () => undefined),
        this.caps.timeoutMs,
        'target.setup() never settled, so its env could not be torn down',
      ).catch((error: unknown) => {
        problems.push(preview(error, 300));
        return undefined;
      });
      if (setup !== undefined) {
        try {
          await within(Promise.resolve().then(() => teardown(setup.env)), this.caps.timeoutMs, 'target.teardown() did not settle');
        } catch (error) {
          problems.push(preview(error, 300));
        }
      }
    }
    return problems.length === 0 ? undefined : new ConformanceFailure(`cleanup: ${problems.join('; ')}`);
  }

  private async start(creator: P2PConnectionHandlerCreator, topic: string, name: string): Promise<HandlerProbe> {
    const pending = Promise.resolve().then(() => creator({ topic }));
    this.stragglers.add(pending);
    const handler = await within(pending, this.caps.timeoutMs, `${name}: the creator did not resolve to a handler`);
    assertHandler(handler, name);
    this.stragglers.delete(pending);
    if (this.ended) {
      await Promise.resolve().then(() => (handler.close ?? handler.destroy).call(handler)).catch(() => undefined);
      fail(`${name}: opened after the case had already ended`);
    }
    // Subscribed in the same tick the creator resolved: RxDB subscribes just as early.
    const probe = new HandlerProbe(name, topic, handler, this.caps.timeoutMs, this.level);
    this.probes.push(probe);
    this.creators.set(probe, creator);
    return probe;
  }
}
