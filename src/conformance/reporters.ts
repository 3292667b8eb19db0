import type { ConformanceCaseResult } from './types.js';

/** One line per case for machine readers: what ran, what failed and why, what was skipped. */
export interface ReportedRun {
  target: string;
  level: string;
  /** Every registered case, in run order; those without a result did not run (uvu stopped early). */
  cases: readonly string[];
  results: readonly ConformanceCaseResult[];
}

export type ReporterName = 'default' | 'junit' | 'tap';
export const REPORTERS: readonly ReporterName[] = ['default', 'junit', 'tap'];

interface Row {
  group: string;
  name: string;
  fullName: string;
  seconds: number;
  outcome: 'passed' | 'failed' | 'skipped';
  message?: string;
}

function rows(run: ReportedRun, describe: (error: unknown) => string): Row[] {
  const byName = new Map(run.results.map((result) => [result.fullName, result]));
  return run.cases.map((fullName) => {
    const result = byName.get(fullName);
    const [group = '', name = fullName] = fullName.split(' › ');
    if (!result) return { group, name, fullName, seconds: 0, outcome: 'failed', message: 'did not run (uvu stopped the suite early)' };
    const outcome = result.skipped ? 'skipped' : result.passed ? 'passed' : 'failed';
    return { group, name, fullName, seconds: result.durationMs / 1000, outcome, ...(outcome === 'failed' ? { message: describe(result.error) } : {}) };
  });
}

const xml = (text: string): string =>
  text.replace(/[&<>"]/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[char]!)
    // XML 1.0 allows no control characters but tab, newline and carriage return.
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '');

/** JUnit XML as Jenkins, GitLab and GitHub test reporters read it: one testsuite per group. */
export function junitReport(run: ReportedRun, describe: (error: unknown) => string): string {
  const all = rows(run, describe);
  const count = (list: Row[], outcome: Row['outcome']) => list.filter((row) => row.outcome === outcome).length;
  const seconds = (list: Row[]) => list.reduce((sum, row) => sum + row.seconds, 0).toFixed(3);
  const groups = [...new Set(all.map((row) => row.group))];
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xml(`conformance: ${run.target} (${run.level})`)}" tests="${all.length}" failures="${count(all, 'failed')}" skipped="${count(all, 'skipped')}" time="${seconds(all)}">`,
  ];
  for (const group of groups) {
    const list = all.filter((row) => row.group === group);
    lines.push(`  <testsuite name="${xml(`${run.target} › ${group}`)}" tests="${list.length}" failures="${count(list, 'failed')}" skipped="${count(list, 'skipped')}" time="${seconds(list)}">`);
    for (const row of list) {
      const open = `    <testcase classname="${xml(`${run.target}.${group}`)}" name="${xml(row.name)}" time="${row.seconds.toFixed(3)}"`;
      if (row.outcome === 'passed') lines.push(`${open}/>`);
      else if (row.outcome === 'skipped') lines.push(`${open}><skipped message="not run after an earlier failure (bail)"/></testcase>`);
      else {
        const message = row.message ?? '';
        lines.push(`${open}><failure message="${xml(message.split('\n')[0]!)}">${xml(message)}</failure></testcase>`);
      }
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}

/** TAP version 13, with the failure message in a YAML block. */
export function tapReport(run: ReportedRun, describe: (error: unknown) => string): string {
  const all = rows(run, describe);
  const lines = ['TAP version 13', `# conformance: ${run.target} (${run.level})`, `1..${all.length}`];
  all.forEach((row, index) => {
    const title = `${index + 1} - ${row.fullName.replace(/#/g, '\\#')}`;
    if (row.outcome === 'passed') lines.push(`ok ${title} # time=${Math.round(row.seconds * 1000)}ms`);
    else if (row.outcome === 'skipped') lines.push(`ok ${title} # SKIP not run after an earlier failure (bail)`);
    else {
      lines.push(`not ok ${title}`, '  ---', '  message: |');
      for (const line of (row.message ?? '').split('\n')) lines.push(`    ${line}`);
      lines.push('  ...');
    }
  });
  return `${lines.join('\n')}\n`;
}
