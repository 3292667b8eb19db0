import { existsSync, statSync, writeFileSync } from 'node:fs';
import { extname, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadOptional } from '../optional.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliCommand, type CliIO } from './command.js';
import { REPORTERS, junitReport, tapReport, type ReportedRun, type ReporterName } from '../conformance/reporters.js';
import type { ConformanceLevel, ConformanceTarget } from '../conformance/types.js';

const TS_EXTENSIONS: ReadonlySet<string> = new Set(['.ts', '.mts', '.cts', '.tsx']);
const MESSAGE_LINES = 12;

const usage = `Usage: p2p-handlers conformance <file> [options]

Runs the shared conformance suite against the handler target that <file> exports.

  <file>              a .ts, .mts, .js or .mjs module whose default export is a
                      ConformanceTarget: { name, creator(env), setup?(), teardown?(env), capabilities?, level? }
  --grep <text>       run only the cases whose "group › name" contains <text>
  --level <level>     contract: what RxDB 14 and 17 rely on; strict: this project's
                      guarantees on top (error codes, destroy(), no leaks). Default: the
                      target's level, else strict
  --bail              stop at the first failing case (the rest are reported as skipped)
  --reporter <name>   default, junit (JUnit XML) or tap (TAP 13)
  --output <file>     write the junit or tap report to <file> instead of stdout
  -h, --help          show this help

Prints every failing case with the target's name and ends with "N passed, N failed".
Exit code: 0 all passed, 1 a case failed or the target could not be loaded, 2 bad usage.`;

interface Parsed {
  file?: string;
  grep?: string;
  level?: ConformanceLevel;
  bail?: boolean;
  reporter: ReporterName;
  output?: string;
  help?: boolean;
  problem?: string;
}

const VALUED = ['--grep', '--level', '--reporter', '--output'] as const;

function parse(args: string[]): Parsed {
  const parsed: Parsed = { reporter: 'default' };
  const values: Partial<Record<(typeof VALUED)[number], string>> = {};
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    const option = VALUED.find((name) => arg === name || arg.startsWith(`${name}=`));
    if (arg === '--help' || arg === '-h') parsed.help = true;
    else if (arg === '--bail') parsed.bail = true;
    else if (option !== undefined) {
      const value = arg === option ? args[(i += 1)] : arg.slice(option.length + 1);
      if (value === undefined) return { ...parsed, problem: `${option} needs a value` };
      values[option] = value;
    } else if (arg.startsWith('-')) return { ...parsed, problem: `unknown option ${arg}` };
    else if (parsed.file === undefined) parsed.file = arg;
    else return { ...parsed, problem: `unexpected argument ${arg} (one file at a time)` };
  }
  const { '--grep': grep, '--level': level, '--reporter': reporter, '--output': output } = values;
  if (level !== undefined && level !== 'contract' && level !== 'strict') return { ...parsed, problem: `--level must be contract or strict, not ${level}` };
  if (reporter !== undefined && !REPORTERS.includes(reporter as ReporterName)) return { ...parsed, problem: `--reporter must be one of ${REPORTERS.join(', ')}` };
  if (output !== undefined && (reporter ?? 'default') === 'default') return { ...parsed, problem: '--output goes with --reporter junit or tap' };
  return { ...parsed, grep, level: level as ConformanceLevel | undefined, reporter: (reporter ?? 'default') as ReporterName, output };
}

/** Bun and Deno import TypeScript themselves; Node needs tsx for it. */
function runtimeRunsTypeScript(): boolean {
  return typeof (process.versions as { bun?: string }).bun === 'string' || typeof (globalThis as { Deno?: unknown }).Deno === 'object';
}

/** .ts through tsx's API on Node (an optional package, needed only then), anything else through plain import(). */
async function loadModule(path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(path).href;
  if (TS_EXTENSIONS.has(extname(path)) && !runtimeRunsTypeScript()) {
    const { tsImport } = await loadOptional('a TypeScript target', ['tsx'], () => import('tsx/esm/api'));
    return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
  }
  return (await import(url)) as Record<string, unknown>;
}

function indent(text: string): string {
  const lines = text.split('\n');
  const shown = lines.slice(0, MESSAGE_LINES).map((line) => `    ${line}`);
  if (lines.length > MESSAGE_LINES) shown.push(`    … ${lines.length - MESSAGE_LINES} more line(s)`);
  return shown.join('\n');
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

function report(io: CliIO, run: ReportedRun): number {
  const finished = new Set(run.results.map((result) => result.fullName));
  const failures = run.results.filter((result) => !result.passed && !result.skipped);
  const skipped = run.results.filter((result) => result.skipped).length;
  const missing = run.cases.filter((name) => !finished.has(name));
  io.out('\n');
  for (const result of failures) io.out(`FAIL [${run.target}] ${result.fullName}\n${indent(describe(result.error))}\n`);
  for (const name of missing) io.out(`FAIL [${run.target}] ${name}\n    did not run (uvu stopped the suite early)\n`);
  for (const result of run.results) {
    if (result.cleanupError !== undefined) io.out(`WARN [${run.target}] ${result.fullName}\n${indent(describe(result.cleanupError))}\n`);
  }
  if (skipped > 0) io.out(`${skipped} skipped after the first failure (--bail)\n`);
  const failed = failures.length + missing.length;
  io.out(`${run.results.length - failures.length - skipped} passed, ${failed} failed\n`);
  return failed === 0 ? EXIT_OK : EXIT_FAILURE;
}

async function run(args: string[], io: CliIO): Promise<number> {
  const parsed = parse(args);
  if (parsed.help) {
    io.out(`${usage}\n`);
    return EXIT_OK;
  }
  if (parsed.problem !== undefined || parsed.file === undefined) {
    io.err(`p2p-handlers conformance: ${parsed.problem ?? 'missing <file>'}\n\n${usage}\n`);
    return EXIT_USAGE;
  }
  const path = resolve(parsed.file);
  if (!existsSync(path) || !statSync(path).isFile()) {
    io.err(`p2p-handlers conformance: no such file: ${parsed.file}\n`);
    return EXIT_USAGE;
  }
  // uvu reads this once, when first imported: from here on it queues suites instead of
  // running them on a timer, and exec() below runs them. Set before the target loads,
  // in case the target file itself pulls uvu in.
  (globalThis as { UVU_DEFER?: number }).UVU_DEFER = 1;
  let target: unknown;
  try {
    target = (await loadModule(path)).default;
  } catch (error) {
    io.err(`p2p-handlers conformance: could not load ${parsed.file}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT_FAILURE;
  }
  const conformance: typeof import('../conformance/index.js') = await import('../conformance/index.js');
  if (target === undefined) {
    io.err(`p2p-handlers conformance: ${parsed.file} has no default export; export default a ConformanceTarget { name, creator, … }\n`);
    return EXIT_FAILURE;
  }
  try {
    conformance.validateTarget(target);
  } catch (error) {
    io.err(`p2p-handlers conformance: the default export of ${parsed.file} is not a valid target: ${describe(error)}\n`);
    return EXIT_FAILURE;
  }
  const { exec } = await import('uvu');
  const queue = ((globalThis as { UVU_QUEUE?: unknown[][] }).UVU_QUEUE ??= []);
  (globalThis as { UVU_INDEX?: number }).UVU_INDEX = queue.push([relative(process.cwd(), path)]) - 1;
  const options = { ...(parsed.grep === undefined ? {} : { grep: parsed.grep }), ...(parsed.level ? { level: parsed.level } : {}), bail: parsed.bail ?? false };
  const suiteRun = conformance.runConformanceSuite(target as ConformanceTarget<unknown>, options);
  if (suiteRun.cases.length === 0) {
    io.err(`p2p-handlers conformance: no case matches --grep ${parsed.grep ?? ''}\n`);
    return EXIT_USAGE;
  }
  const machine = parsed.reporter !== 'default';
  // A report on stdout must be the only thing there: uvu's progress goes nowhere meanwhile.
  const write = process.stdout.write;
  if (machine && parsed.output === undefined) process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    await exec();
  } finally {
    process.stdout.write = write;
  }
  const run: ReportedRun = { target: suiteRun.target, level: suiteRun.level, cases: suiteRun.cases, results: suiteRun.results };
  if (!machine) return report(io, run);
  const text = (parsed.reporter === 'junit' ? junitReport : tapReport)(run, describe);
  if (parsed.output === undefined) {
    io.out(text);
    return run.results.every((result) => result.passed || result.skipped) && run.results.length === run.cases.length ? EXIT_OK : EXIT_FAILURE;
  }
  writeFileSync(parsed.output, text);
  return report(io, run);
}

export const conformanceCommand: CliCommand = {
  name: 'conformance',
  summary: 'run the conformance suite against the handler target a file exports',
  usage,
  run,
};
