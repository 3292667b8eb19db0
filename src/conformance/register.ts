import { suite } from 'uvu';
import { ConformanceFailure, within } from './checks.js';
import { CaseHarness } from './harness.js';
import { snapshotResources, type ResourceSnapshot } from './resources.js';
import type {
  CaseGroup,
  ConformanceCase,
  ConformanceCaseResult,
  ConformanceLevel,
  ConformanceOptions,
  ConformanceRun,
  ConformanceTarget,
  ResolvedCapabilities,
} from './types.js';

/** State of one `runConformanceSuite` call: nothing lives at module level. */
interface RunState {
  readonly target: ConformanceTarget<unknown>;
  readonly caps: ResolvedCapabilities;
  readonly cases: string[];
  readonly results: ConformanceCaseResult[];
  readonly level: ConformanceLevel;
  readonly bail: boolean;
  /** A case failed: under `bail`, the rest are skipped. */
  failed: boolean;
  runBaseline: ResourceSnapshot | undefined;
}

function matches(grep: ConformanceOptions['grep'], fullName: string): boolean {
  if (grep === undefined) return true;
  return typeof grep === 'string' ? fullName.includes(grep) : grep.test(fullName);
}

/** Adds the rule violations the probes saw to a failure, which often explain it. */
function withViolations(error: unknown, harness: CaseHarness): unknown {
  const report = harness.violations();
  if (!report) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (message.includes(report)) return error;
  return new ConformanceFailure(`${message}\n${report}`, { cause: error });
}

function runCase(state: RunState, group: CaseGroup, definition: ConformanceCase, slot: Slot): () => Promise<void> {
  const fullName = `${group.name} › ${definition.name}`;
  return async () => {
    const started = performance.now();
    const result: ConformanceCaseResult = { group: group.name, name: definition.name, fullName, passed: false, durationMs: 0 };
    state.results.push(result);
    // uvu has no run-time skip: the case returns at once and only our results say skipped.
    if (state.bail && state.failed) {
      result.skipped = true;
      return;
    }
    slot.result = result;
    const body = async (): Promise<void> => {
      // Taken under the same case timer as the final check, so the two compare like for like.
      if (state.caps.checkResources) state.runBaseline ??= snapshotResources();
      const harness = new CaseHarness(state.target, state.caps, !definition.withoutEnv, state.runBaseline, state.level);
      slot.harness = harness;
      try {
        await harness.setup();
        await definition.run(harness);
      } catch (error) {
        throw withViolations(error, harness);
      }
      harness.assertNoViolations();
    };
    try {
      await within(
        Promise.resolve().then(body),
        state.caps.caseTimeoutMs,
        'the case did not finish (capabilities.caseTimeoutMs; a handler call that never settles?)',
      );
      result.passed = true;
    } catch (error) {
      result.error = error;
      state.failed = true;
      throw error;
    } finally {
      result.durationMs = Math.round(performance.now() - started);
    }
  };
}

interface Slot {
  harness?: CaseHarness;
  result?: ConformanceCaseResult;
}

/**
 * One uvu suite per group. Cleanup lives in after.each and never throws: uvu runs that hook
 * again when it throws after a passing case, and stops the suite when it throws after a
 * failing one.
 */
function registerGroup(state: RunState, group: CaseGroup, options: ConformanceOptions) {
  const selected = group.cases.filter(
    (definition) =>
      (definition.level !== 'strict' || state.level === 'strict') &&
      (definition.requires?.(state.caps) ?? true) &&
      matches(options.grep, `${group.name} › ${definition.name}`),
  );
  if (selected.length === 0) return undefined;
  const test = suite(`${state.target.name} › ${group.name}`);
  const slot: Slot = {};
  for (const definition of selected) {
    state.cases.push(`${group.name} › ${definition.name}`);
    test(definition.name, runCase(state, group, definition, slot));
  }
  test.after.each(async () => {
    const { harness, result } = slot;
    slot.harness = undefined;
    slot.result = undefined;
    if (harness === undefined) return;
    const problem = await harness.cleanup().catch((error: unknown) => error);
    if (problem !== undefined && result !== undefined) result.cleanupError = problem;
  });
  return test;
}

export function registerSuites(
  target: ConformanceTarget<unknown>,
  caps: ResolvedCapabilities,
  groups: readonly CaseGroup[],
  options: ConformanceOptions,
): ConformanceRun {
  const level = options.level ?? target.level ?? 'strict';
  const state: RunState = { target, caps, cases: [], results: [], level, bail: options.bail ?? false, failed: false, runBaseline: undefined };
  const suites = groups.flatMap((group) => registerGroup(state, group, options) ?? []);
  let finish!: (results: readonly ConformanceCaseResult[]) => void;
  const done = new Promise<readonly ConformanceCaseResult[]>((resolve) => {
    finish = resolve;
  });
  const last = suites[suites.length - 1];
  if (last === undefined) finish(state.results);
  else last.after(() => finish(state.results));
  // Hooks must be attached before run(): uvu snapshots a suite when run() is called.
  for (const registered of suites) registered.run();
  return { target: target.name, level, cases: state.cases, results: state.results, done };
}
