/**
 * Runs every `test/**\/*.test.ts` file in its own Node process (so one file's leaked handle
 * or crash cannot hide behind another's), streams its output, and ends with the plain line
 * `N passed, N failed` that CI reads. A file whose process does not exit on its own after
 * its tests finish has leaked a handle: that counts as a failure, never hidden with exit().
 * Then the Playwright e2e tests (e2e/), whose counts join the same total.
 *
 *   node --import tsx test/run.ts [filter...]
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const FILE_TIMEOUT_MS = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 15 * 60_000);
const EXIT_GRACE_MS = 20_000;
const root = new URL('..', import.meta.url).pathname;
/** See that file: collects WebRTC natives before exit so their finalizers cannot crash it. */
const nativeGc = new URL('./helpers/native-gc.ts', import.meta.url).href;
/** See that file: the library's trace, printed only next to a failure. */
const traceOnFailure = new URL('./helpers/trace-on-failure.ts', import.meta.url).href;

function findTests(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return findTests(path);
      return name.endsWith('.test.ts') ? [path] : [];
    })
    .sort();
}

interface FileResult {
  file: string;
  passed: number;
  failed: number;
  problem?: string;
}

const stripAnsi = (text: string): string => text.replace(/\x1b\[[0-9;]*m/g, '');

function runFile(file: string): Promise<FileResult> {
  const name = relative(root, file);
  return new Promise((resolve) => {
    process.stdout.write(`\n# ${name}\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', nativeGc, '--import', traceOnFailure, file], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let summarySeenAt: number | undefined;
    let exitTimer: NodeJS.Timeout | undefined;
    const onChunk = (chunk: Buffer, sink: NodeJS.WriteStream) => {
      sink.write(chunk);
      output += chunk.toString();
      if (summarySeenAt === undefined && /Duration:/.test(stripAnsi(output))) {
        summarySeenAt = Date.now();
        exitTimer = setTimeout(() => child.kill('SIGKILL'), EXIT_GRACE_MS);
      }
    };
    child.stdout.on('data', (chunk: Buffer) => onChunk(chunk, process.stdout));
    child.stderr.on('data', (chunk: Buffer) => onChunk(chunk, process.stderr));
    const fileTimer = setTimeout(() => child.kill('SIGKILL'), FILE_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(fileTimer);
      clearTimeout(exitTimer);
      const text = stripAnsi(output);
      const total = Number(/Total:\s+(\d+)/.exec(text)?.[1] ?? NaN);
      const passed = Number(/Passed:\s+(\d+)/.exec(text)?.[1] ?? NaN);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(text)?.[1] ?? 0);
      if (Number.isNaN(total) || Number.isNaN(passed)) {
        resolve({ file: name, passed: 0, failed: 1, problem: `no uvu summary (exit ${code ?? signal})` });
        return;
      }
      const result: FileResult = { file: name, passed, failed: total - passed };
      if (skipped > 0) {
        result.failed += skipped;
        result.problem = `${skipped} skipped test(s): skipping is not allowed here`;
      }
      if (signal === 'SIGKILL' && summarySeenAt !== undefined) {
        result.failed += 1;
        result.problem = `process did not exit within ${EXIT_GRACE_MS} ms after its tests: leaked handle`;
      } else if (signal) {
        result.failed += 1;
        result.problem = `killed by ${signal}`;
      } else if (code !== 0 && result.failed === 0) {
        result.failed += 1;
        result.problem = `exit code ${code} with no failing test`;
      }
      resolve(result);
    });
  });
}

/**
 * The browser tests (e2e/: Playwright driving Debian's Chromium, puppeteer-core its Firefox ESR), counted like the rest.
 * Their numbers come from Playwright's JSON report; a run that leaves none counts as a failure.
 */
function runE2e(grep: string | undefined): Promise<FileResult> {
  const report = join(root, 'test-results/e2e/results.json');
  rmSync(report, { force: true });
  const name = 'e2e (Chromium and Firefox)';
  process.stdout.write(`\n# ${name}\n`);
  const cli = join(root, 'node_modules/@playwright/test/cli.js');
  const args = [cli, 'test', '-c', 'e2e/playwright.config.ts', ...(grep ? ['--grep', grep] : [])];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'inherit', 'inherit'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), FILE_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (!existsSync(report)) {
        resolve({ file: name, passed: 0, failed: 1, problem: `no Playwright report (exit ${code ?? signal})` });
        return;
      }
      const { stats } = JSON.parse(readFileSync(report, 'utf8')) as { stats: Record<string, number> };
      const passed = stats.expected ?? 0;
      const failed = (stats.unexpected ?? 0) + (stats.flaky ?? 0) + (stats.skipped ?? 0);
      const result: FileResult = { file: name, passed, failed };
      if (stats.skipped) result.problem = `${stats.skipped} skipped test(s): skipping is not allowed here`;
      else if (code !== 0 && failed === 0) Object.assign(result, { failed: 1, problem: `exit ${code ?? signal} with no failing test` });
      resolve(result);
    });
  });
}

// `npm test -- <text>` runs the test files whose path contains <text>; `e2e` selects the
// browser tests and `e2e:<pattern>` only those whose title matches <pattern>.
const filters = process.argv.slice(2);
const e2eFilters = filters.filter((filter) => filter === 'e2e' || filter.startsWith('e2e:'));
const fileFilters = filters.filter((filter) => !e2eFilters.includes(filter));
const files =
  filters.length > 0 && fileFilters.length === 0
    ? []
    : findTests(join(root, 'test')).filter((file) => fileFilters.length === 0 || fileFilters.some((filter) => file.includes(filter)));
const results: FileResult[] = [];
for (const file of files) results.push(await runFile(file));
if (filters.length === 0 || e2eFilters.length > 0) {
  const grep = e2eFilters.map((filter) => filter.slice('e2e:'.length)).filter(Boolean).join('|');
  results.push(await runE2e(grep || undefined));
}

process.stdout.write('\n');
for (const result of results) {
  const note = result.problem ? ` (${result.problem})` : '';
  process.stdout.write(`${result.failed ? 'FAIL' : 'ok  '} ${result.file}: ${result.passed} passed, ${result.failed} failed${note}\n`);
}
const passed = results.reduce((sum, r) => sum + r.passed, 0);
const failed = results.reduce((sum, r) => sum + r.failed, 0) + (results.length === 0 ? 1 : 0);
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exitCode = failed > 0 ? 1 : 0;
