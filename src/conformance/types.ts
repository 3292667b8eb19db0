import type { P2PConnectionHandler, P2PConnectionHandlerCreator } from '../types.js';
import type { HandlerProbe } from './probe.js';
import type { ResourceSnapshot } from './resources.js';

/**
 * Optional features and time scales, declared up front: uvu decides which cases exist when
 * they are registered (it has no run-time skip), so nothing here may change during a run.
 */
export interface ConformanceCapabilities<Env = unknown> {
  /**
   * Kills `handler` abruptly, as a crashed process would: no goodbye reaches its peers.
   * The crash cases are registered only when this is given. Default: none.
   */
  crash?(handler: P2PConnectionHandler, env: Env): Promise<void>;
  /**
   * Makes `handler` emit on error$ without closing it (e.g. feeds it a malformed frame).
   * The error$ resilience case is registered only when this is given. Default: none.
   */
  provokeError?(handler: P2PConnectionHandler, env: Env): Promise<void>;
  /** Longest wait for any one event: a connect$, a payload, close() settling. Default: 15000 ms. */
  timeoutMs?: number;
  /**
   * Longest wait for disconnect$ after a remote close() or a crash (a crash may only be
   * noticed by a heartbeat). Default: 30000 ms.
   */
  disconnectTimeoutMs?: number;
  /** UTF-8 size of the whole encoded payload in the largest-payload case. Default: 16 MiB. */
  maxPayloadBytes?: number;
  /** Handlers in the full-mesh cases (at least 3). Default: 3. */
  meshSize?: number;
  /** Payloads each side sends in the ordering-under-load case. Default: 500. */
  loadMessages?: number;
  /** How long to poll for timers and sockets to go away after close() before calling it a leak. Default: 5000 ms. */
  resourceSettleMs?: number;
  /**
   * Compare active timers and sockets with the start (needs `process.getActiveResourcesInfo`).
   * Turn off only where the process is shared with things the suite cannot see.
   * Default: true when the runtime offers it.
   */
  checkResources?: boolean;
  /** Backstop for one whole case, so a hung handler cannot hang the run. Default: 10 × timeoutMs + 3 × disconnectTimeoutMs. */
  caseTimeoutMs?: number;
}

/**
 * How much the suite asks. `contract`: exactly what RxDB 14 and 17 rely on (peer identity by
 * reference, routing by `method`, streams that complete on close, sends that reject once the
 * peer is gone, with any error; `close()` for RxDB 17's handlers, `destroy()` for RxDB 14's).
 * `strict`: this project's guarantees on top (`ERR_*` codes, both `close()` and `destroy()`,
 * nothing emitted after close, no leaked timers or sockets, …).
 */
export type ConformanceLevel = 'contract' | 'strict';

/** What the suite runs against. `creator(env)` is called once per simulated peer (app instance). */
export interface ConformanceTarget<Env = undefined> {
  /** Shown in every suite and failure name. */
  name: string;
  /** Called before every case (e.g. starts a signaling server). Default: env is undefined. */
  setup?(): Promise<Env>;
  /** Called after every case, once all of its handlers are closed. */
  teardown?(env: Env): Promise<void>;
  /** A creator for one simulated peer; the suite calls it with `{ topic }` (more than once when the peer comes back). */
  creator(env: Env): P2PConnectionHandlerCreator;
  capabilities?: ConformanceCapabilities<Env>;
  /** What the handler is held to (see ConformanceLevel). Default: `'strict'`. */
  level?: ConformanceLevel;
}

export interface ConformanceOptions {
  /** Only cases whose "group › name" matches. Default: every case. */
  grep?: string | RegExp;
  /** Overrides the target's `level`. Default: the target's. */
  level?: ConformanceLevel;
  /** After the first failing case, the rest are not run (reported as skipped). Default: false. */
  bail?: boolean;
}

export type ResolvedCapabilities = Required<
  Omit<ConformanceCapabilities<unknown>, 'crash' | 'provokeError'>
> &
  Pick<ConformanceCapabilities<unknown>, 'crash' | 'provokeError'>;

export interface ConformanceCaseResult {
  group: string;
  name: string;
  /** "group › name" */
  fullName: string;
  passed: boolean;
  /** Not run: an earlier case failed under `bail`. */
  skipped?: boolean;
  /** Why it failed. */
  error?: unknown;
  /** A problem while closing the case's handlers or tearing its env down (never fails the case in uvu, reported here). */
  cleanupError?: unknown;
  durationMs: number;
}

/** What `runConformanceSuite` returns: filled in while uvu runs the cases. */
export interface ConformanceRun {
  readonly target: string;
  readonly level: ConformanceLevel;
  /** Full names of the registered cases, in run order. */
  readonly cases: readonly string[];
  /** One entry per finished case, in run order. */
  readonly results: readonly ConformanceCaseResult[];
  /** Resolves once the last case and its cleanup have run. */
  readonly done: Promise<readonly ConformanceCaseResult[]>;
}

/** What a case works with; runner-agnostic, so the cases can be adapted to mocha or vitest. */
export interface CaseContext {
  readonly level: ConformanceLevel;
  /**
   * Expects `promise` to reject. At `strict` level with the string `code` (any string code for
   * 'any'); at `contract` level any rejection will do (RxDB only needs the send to fail).
   */
  rejects(promise: Promise<unknown>, code: string | 'any', what: string): Promise<unknown>;
  /** Fresh random topic (6–99 chars) owned by this case. */
  readonly topic: string;
  readonly caps: ResolvedCapabilities;
  /** Active resources just before the case created its first handler (undefined when not checked). */
  readonly baseline: ResourceSnapshot | undefined;
  /** Active resources when the first case of the run started (undefined when not checked). */
  readonly runBaseline: ResourceSnapshot | undefined;
  /** Creates a new simulated peer (a new `creator(env)`) on `topic` (default: the case topic). */
  open(options?: { topic?: string }): Promise<HandlerProbe>;
  /** The same simulated peer comes back: its creator is called again with its topic. */
  reopen(probe: HandlerProbe): Promise<HandlerProbe>;
  /** The same simulated peer opens another topic: its creator is called with `topic` (as RxDB does per collection). */
  alsoOpen(probe: HandlerProbe, topic: string): Promise<HandlerProbe>;
  /** Crashes the handler through `capabilities.crash`. */
  crash(probe: HandlerProbe): Promise<void>;
  /** Makes the handler emit on error$ through `capabilities.provokeError`. */
  provokeError(probe: HandlerProbe): Promise<void>;
  /** A fresh random topic of `length` chars (default: random within 6–99). */
  randomTopic(length?: number): string;
  /** A payload id unique within the case. */
  nextId(prefix?: string): string;
}

export interface ConformanceCase {
  name: string;
  /** `strict`: a guarantee beyond RxDB's contract, run only at strict level. Default: `contract`. */
  level?: ConformanceLevel;
  /** Registered only when this holds for the declared capabilities. */
  requires?(caps: ResolvedCapabilities): boolean;
  /** Runs without calling target.setup() (for whole-run checks). */
  withoutEnv?: boolean;
  run(ctx: CaseContext): Promise<void>;
}

export interface CaseGroup {
  readonly name: string;
  readonly cases: readonly ConformanceCase[];
}
