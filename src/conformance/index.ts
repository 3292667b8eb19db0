/**
 * `p2p-handlers/conformance`: the shared suite every connection handler must pass.
 *
 *   import { runConformanceSuite } from 'p2p-handlers/conformance';
 *   runConformanceSuite({ name: 'my handler', creator: () => myCreator, capabilities: { timeoutMs: 20_000 } });
 *
 * Registers one uvu suite per group of cases and calls `.run()` on each; run the file with
 * uvu, `node --import tsx`, or `p2p-handlers conformance <file>`.
 */
import { disconnect } from './cases/disconnect.js';
import { errors } from './cases/errors.js';
import { identity } from './cases/identity.js';
import { isolation } from './cases/isolation.js';
import { lifecycle } from './cases/lifecycle.js';
import { pairing } from './cases/pairing.js';
import { payloads } from './cases/payloads.js';
import { resources } from './cases/resources.js';
import { routing } from './cases/routing.js';
import { registerSuites } from './register.js';
import { assertLevel, resolveCapabilities, validateTarget } from './target.js';
import type { CaseGroup, ConformanceOptions, ConformanceRun, ConformanceTarget } from './types.js';

/** Every group in run order; `resources` last, as it checks what the others left behind. */
export const CASE_GROUPS: readonly CaseGroup[] = Object.freeze([
  lifecycle,
  pairing,
  identity,
  isolation,
  routing,
  payloads,
  disconnect,
  errors,
  resources,
]);

/**
 * Registers the suite for `target` with uvu and runs it. Throws ERR_INVALID_OPTION at once
 * when the target is malformed. The returned object fills in as cases finish.
 */
export function runConformanceSuite<Env>(target: ConformanceTarget<Env>, options: ConformanceOptions = {}): ConformanceRun {
  validateTarget(target);
  assertLevel(options.level, 'options.level');
  const caps = resolveCapabilities(target.capabilities ?? {});
  return registerSuites(target as ConformanceTarget<unknown>, caps, CASE_GROUPS, options);
}

export { CAPABILITY_DEFAULTS, validateTarget } from './target.js';
export { ConformanceFailure } from './checks.js';
export { HandlerProbe, STREAMS } from './probe.js';
export type { Recorded, StreamName } from './probe.js';
export type { ResourceSnapshot } from './resources.js';
export type {
  CaseContext,
  CaseGroup,
  ConformanceCapabilities,
  ConformanceCase,
  ConformanceCaseResult,
  ConformanceLevel,
  ConformanceOptions,
  ConformanceRun,
  ConformanceTarget,
  ResolvedCapabilities,
} from './types.js';
