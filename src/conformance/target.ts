import { P2PError, P2PErrorCode } from '../errors.js';
import { resourcesAvailable } from './resources.js';
import type { ConformanceCapabilities, ConformanceTarget, ResolvedCapabilities } from './types.js';

/** Generous on purpose: real WebRTC over loopback connects in 10–1000 ms, a crash may only be seen by a ~15 s heartbeat. */
export const CAPABILITY_DEFAULTS = Object.freeze({
  timeoutMs: 15_000,
  disconnectTimeoutMs: 30_000,
  maxPayloadBytes: 16 * 1024 * 1024,
  meshSize: 3,
  loadMessages: 500,
  resourceSettleMs: 5_000,
});

const MIN_PAYLOAD_BYTES = 1024;
const KNOWN: ReadonlySet<string> = new Set([
  'crash',
  'provokeError',
  'timeoutMs',
  'disconnectTimeoutMs',
  'maxPayloadBytes',
  'meshSize',
  'loadMessages',
  'resourceSettleMs',
  'checkResources',
  'caseTimeoutMs',
]);

function invalid(message: string): P2PError {
  return new P2PError(P2PErrorCode.INVALID_OPTION, `conformance target: ${message}`);
}

function number(caps: ConformanceCapabilities, key: keyof typeof CAPABILITY_DEFAULTS | 'caseTimeoutMs', min: number, integer: boolean): number | undefined {
  const value = caps[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw invalid(`capabilities.${key} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${String(value)}`);
  }
  return value;
}

export function assertLevel(level: unknown, name: string): void {
  if (level !== undefined && level !== 'contract' && level !== 'strict') throw invalid(`${name} must be 'contract' or 'strict', got ${String(level)}`);
}

/** Throws ERR_INVALID_OPTION naming the first thing wrong with `target`. */
export function validateTarget(target: unknown): asserts target is ConformanceTarget<unknown> {
  if (typeof target !== 'object' || target === null) throw invalid('expected an object { name, creator, … }');
  const { name, creator, setup, teardown, capabilities, level } = target as Record<string, unknown>;
  assertLevel(level, 'level');
  if (typeof name !== 'string' || name.trim().length === 0) throw invalid('name must be a non-empty string');
  if (typeof creator !== 'function') throw invalid('creator must be a function (env) => creator');
  if (setup !== undefined && typeof setup !== 'function') throw invalid('setup must be a function');
  if (teardown !== undefined && typeof teardown !== 'function') throw invalid('teardown must be a function');
  if (capabilities !== undefined && (typeof capabilities !== 'object' || capabilities === null)) {
    throw invalid('capabilities must be an object');
  }
  for (const key of Object.keys(capabilities ?? {})) {
    // A typo (timeoutMS) would otherwise silently fall back to a default.
    if (!KNOWN.has(key)) throw invalid(`unknown capability "${key}"; known: ${[...KNOWN].join(', ')}`);
  }
  resolveCapabilities((capabilities ?? {}) as ConformanceCapabilities);
}

export function resolveCapabilities(caps: ConformanceCapabilities): ResolvedCapabilities {
  for (const key of ['crash', 'provokeError'] as const) {
    if (caps[key] !== undefined && typeof caps[key] !== 'function') throw invalid(`capabilities.${key} must be a function`);
  }
  if (caps.checkResources !== undefined && typeof caps.checkResources !== 'boolean') {
    throw invalid('capabilities.checkResources must be a boolean');
  }
  const timeoutMs = number(caps, 'timeoutMs', 1, false) ?? CAPABILITY_DEFAULTS.timeoutMs;
  const disconnectTimeoutMs = number(caps, 'disconnectTimeoutMs', 1, false) ?? CAPABILITY_DEFAULTS.disconnectTimeoutMs;
  const checkResources = caps.checkResources ?? resourcesAvailable();
  if (checkResources && !resourcesAvailable()) {
    throw invalid('capabilities.checkResources needs process.getActiveResourcesInfo (Node >= 17)');
  }
  return {
    crash: caps.crash as ResolvedCapabilities['crash'],
    provokeError: caps.provokeError as ResolvedCapabilities['provokeError'],
    timeoutMs,
    disconnectTimeoutMs,
    maxPayloadBytes: number(caps, 'maxPayloadBytes', MIN_PAYLOAD_BYTES, true) ?? CAPABILITY_DEFAULTS.maxPayloadBytes,
    meshSize: number(caps, 'meshSize', 3, true) ?? CAPABILITY_DEFAULTS.meshSize,
    loadMessages: number(caps, 'loadMessages', 1, true) ?? CAPABILITY_DEFAULTS.loadMessages,
    resourceSettleMs: number(caps, 'resourceSettleMs', 0, false) ?? CAPABILITY_DEFAULTS.resourceSettleMs,
    checkResources,
    caseTimeoutMs: number(caps, 'caseTimeoutMs', 1, false) ?? 10 * timeoutMs + 3 * disconnectTimeoutMs,
  };
}
