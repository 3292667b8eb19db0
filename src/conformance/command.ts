import { existsSync, statSync } from 'node:fs';
import { extname, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CliCommand, CliIO } from '../cli.js';
import type { ConformanceCaseResult, ConformanceTarget } from './types.js';

/** Same meaning as in src/cli.ts (kept local: a value import would be circular). */
const OK = 0;
const FAILURE = 1;
const USAGE = 2;
const TS_EXTENSIONS: ReadonlySet<string> = new Set(['.ts', '.mts', '.cts', '.tsx']);
const MESSAGE_LINES = 12;

const usage = `Usage: p2p-handlers conformance <file> [--grep <text>]

Runs the shared conformance suite against the handler target that <file> exports.

  <file>          a .ts, .mts, .js or .mjs module whose default export is a
                  ConformanceTarget: { name, creator(env), setup?(), teardown?(env), capabilities? }
  --grep <text>   run only the cases whose "group › name" contains <text>
  -h, --help      show this help

Prints every failing case with the target's name and ends with "N passed, N failed".
Exit code: 0 all passed, 1 a case failed or the target could not be loaded, 2 bad usage.`;

interface Parsed {
  file?: string;
  grep?: string;
  help?: boolean;
  problem?: string;
}

function parse(args: string[]): Parsed {
  const parsed: Parsed = {};
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    if (arg === '--help' || arg === '-h') parsed.help = true;
    else if (arg === '--grep') {
      const value = args[(i += 1)];
      if (value === undefined) return { problem: '--grep needs a value' };
      parsed.grep = value;
    } else if (arg.startsWith('--grep=')) parsed.grep = arg.slice('--grep='.length);
    else if (arg.startsWith('-')) return { problem: `unknown option ${arg}` };
    else if (parsed.file === undefined) parsed.file = arg;
    else return { problem: `unexpected argument ${arg} (one file at a time)` };
  }
  return parsed;
}

/** .ts through tsx's API (tsx is a runtime dependency), anything else through plain import(). */
async function loadModule(path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(path).href;
  if (TS_EXTENSIONS.has(extname(path))) {
    const { tsImport } = await import('tsx/esm/api');
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

function report(io: CliIO, target: string, cases: readonly string[], results: readonly ConformanceCaseResult[]): number {
  const finished = new Set(results.map((result) => result.fullName));
  const failures = results.filter((result) => !result.passed);
  const missing = cases.filter((name) => !finished.has(name));
  io.out('\n');
  for (const result of failures) io.out(`FAIL [${target}] ${result.fullName}\n${indent(describe(result.error))}\n`);
  for (const name of missing) io.out(`FAIL [${target}] ${name}\n    did not run (uvu stopped the suite early)\n`);
  for (const result of results) {
    if (result.cleanupError !== undefined) io.out(`WARN [${target}] ${result.fullName}\n${indent(describe(result.cleanupError))}\n`);
  }
  const failed = failures.length + missing.length;
  io.out(`${results.length - failures.length} passed, ${failed} failed\n`);
  return failed === 0 ? OK : FAILURE;
}

async function run(args: string[], io: CliIO): Promise<number> {
  const parsed = parse(args);
  if (parsed.help) {
    io.out(`${usage}\n`);
    return OK;
  }
  if (parsed.problem !== undefined || parsed.file === undefined) {
    io.err(`p2p-handlers conformance: ${parsed.problem ?? 'missing <file>'}\n\n${usage}\n`);
    return USAGE;
  }
  const path = resolve(parsed.file);
  if (!existsSync(path) || !statSync(path).isFile()) {
    io.err(`p2p-handlers conformance: no such file: ${parsed.file}\n`);
    return USAGE;
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
    return FAILURE;
  }
  const conformance: typeof import('./index.js') = await import('./index.js');
  if (target === undefined) {
    io.err(`p2p-handlers conformance: ${parsed.file} has no default export; export default a ConformanceTarget { name, creator, … }\n`);
    return FAILURE;
  }
  try {
    conformance.validateTarget(target);
  } catch (error) {
    io.err(`p2p-handlers conformance: the default export of ${parsed.file} is not a valid target: ${describe(error)}\n`);
    return FAILURE;
  }
  const { exec } = await import('uvu');
  const queue = ((globalThis as { UVU_QUEUE?: unknown[][] }).UVU_QUEUE ??= []);
  (globalThis as { UVU_INDEX?: number }).UVU_INDEX = queue.push([relative(process.cwd(), path)]) - 1;
  const suiteRun = conformance.runConformanceSuite(target as ConformanceTarget<unknown>, parsed.grep === undefined ? {} : { grep: parsed.grep });
  if (suiteRun.cases.length === 0) {
    io.err(`p2p-handlers conformance: no case matches --grep ${parsed.grep ?? ''}\n`);
    return USAGE;
  }
  await exec();
  return report(io, suiteRun.target, suiteRun.cases, suiteRun.results);
}

export const conformanceCommand: CliCommand = {
  name: 'conformance',
  summary: 'run the conformance suite against the handler target a file exports',
  usage,
  run,
};
