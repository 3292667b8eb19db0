import { P2PError, P2PErrorCode } from '../errors.js';

/** A broken contract rule; the message says which stream, peer and value. */
export class ConformanceFailure extends Error {
  override readonly name = 'ConformanceFailure';
}

export function fail(message: string): never {
  throw new ConformanceFailure(message);
}

export function check(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) fail(typeof message === 'string' ? message : message());
}

/**
 * Races `promise` against its own timer; the error names what stayed silent (a function is
 * called only on timeout, so it can describe the state at that moment).
 */
export function within<T>(promise: Promise<T>, ms: number, whatDidNotHappen: string | (() => string)): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const what = typeof whatDidNotHappen === 'string' ? whatDidNotHappen : whatDidNotHappen();
      reject(new P2PError(P2PErrorCode.TIMEOUT, `${what} within ${ms} ms`));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

export function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Expects `promise` to reject with `code` (or with any string code when `code` is 'any'; with
 * anything at all when `anyError`). Codes are compared, never classes: a bundle may hold two
 * copies of the error class.
 */
export async function expectRejection(
  promise: Promise<unknown>,
  code: string | 'any',
  what: string,
  timeoutMs: number,
  anyError = false,
): Promise<unknown> {
  const outcome = await within(
    promise.then(
      () => ({ resolved: true as const }),
      (error: unknown) => ({ resolved: false as const, error }),
    ),
    timeoutMs,
    `${what} did not settle`,
  );
  const expected = anyError ? 'an error' : code === 'any' ? 'an error with a string code' : `code ${code}`;
  if (outcome.resolved) fail(`${what} resolved; it must reject with ${expected}`);
  if (anyError) return outcome.error;
  const actual = codeOf(outcome.error);
  if (actual === undefined) fail(`${what} rejected without a string code: ${preview(outcome.error)}`);
  if (code !== 'any' && actual !== code) fail(`${what} rejected with code ${actual}; expected ${code}`);
  return outcome.error;
}

/** Short, single-line description of any value (long strings are cut, errors show code and message). */
export function preview(value: unknown, max = 120): string {
  if (value instanceof Error || (typeof value === 'object' && value !== null && 'message' in value)) {
    const error = value as { name?: unknown; code?: unknown; message?: unknown };
    return `${String(error.name ?? 'Error')}${error.code === undefined ? '' : `[${String(error.code)}]`}: ${String(error.message)}`;
  }
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

/** JSON round trip: what the receiver should see for `value`. */
export function asJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * First place where `actual` differs from the JSON value `expected` (key order ignored), or
 * undefined. Describes big strings by length and first differing index, never by content.
 */
export function firstDifference(actual: unknown, expected: unknown, path = 'payload'): string | undefined {
  if (typeof expected === 'string') {
    if (typeof actual !== 'string') return `${path}: expected a string, got ${preview(actual)}`;
    if (actual === expected) return undefined;
    let index = 0;
    while (index < actual.length && index < expected.length && actual[index] === expected[index]) index += 1;
    return (
      `${path}: string differs (length ${actual.length}, expected ${expected.length}); first difference at ` +
      `index ${index}: got ${preview(actual.slice(index, index + 24))}, expected ${preview(expected.slice(index, index + 24))}`
    );
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${path}: expected an array, got ${preview(actual)}`;
    if (actual.length !== expected.length) return `${path}: array length ${actual.length}, expected ${expected.length}`;
    for (let i = 0; i < expected.length; i += 1) {
      const difference = firstDifference(actual[i], expected[i], `${path}[${i}]`);
      if (difference) return difference;
    }
    return undefined;
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) {
      return `${path}: expected an object, got ${preview(actual)}`;
    }
    const actualKeys = Object.keys(actual).sort();
    const expectedKeys = Object.keys(expected).sort();
    if (actualKeys.join('\u0000') !== expectedKeys.join('\u0000')) {
      return `${path}: keys ${preview(actualKeys)}, expected ${preview(expectedKeys)}`;
    }
    for (const key of expectedKeys) {
      const difference = firstDifference(
        (actual as Record<string, unknown>)[key],
        (expected as Record<string, unknown>)[key],
        `${path}.${key}`,
      );
      if (difference) return difference;
    }
    return undefined;
  }
  return actual === expected ? undefined : `${path}: expected ${preview(expected)}, got ${preview(actual)}`;
}

export function expectSamePayload(actual: unknown, expected: unknown, what: string): void {
  const difference = firstDifference(actual, asJson(expected));
  if (difference) fail(`${what}: ${difference}`);
}
