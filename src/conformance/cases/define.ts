import type { CaseGroup, ConformanceCase } from '../types.js';

/** Groups are shared by every run in the process: frozen, so no run can alter another's cases. */
export function defineGroup(name: string, cases: ConformanceCase[]): CaseGroup {
  return Object.freeze({ name, cases: Object.freeze(cases.map((definition) => Object.freeze(definition))) as ConformanceCase[] });
}
