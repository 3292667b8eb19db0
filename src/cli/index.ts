#!/usr/bin/env node
/**
 * The `p2p-handlers` command. Each subcommand is one entry of COMMANDS, so `serve <transport>`
 * can be added without touching the dispatch. Exit codes: 0 success, 1 a failure (a case
 * failed, a target could not be loaded), 2 bad usage. Sets process.exitCode and lets the
 * process end on its own: exit() would hide a handle a target leaked.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliCommand, type CliIO } from './command.js';
import { conformanceCommand } from './conformance.js';
import { serveCommand } from './serve.js';

export type { CliCommand, CliIO } from './command.js';

const COMMANDS: readonly CliCommand[] = Object.freeze([conformanceCommand, serveCommand]);

function overview(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return [
    'Usage: p2p-handlers <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'Run `p2p-handlers <command> --help` for the options of one command.',
    '',
  ].join('\n');
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(overview());
    return EXIT_USAGE;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = COMMANDS.find((command) => command.name === rest[0]);
    io.out(topic ? `${topic.usage}\n` : overview());
    return EXIT_OK;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (command === undefined) {
    io.err(`p2p-handlers: unknown command "${name}"\n\n${overview()}`);
    return EXIT_USAGE;
  }
  return command.run(rest, io);
}

/** True when this file is the process entry, also through npm's bin symlink. */
function isEntry(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return pathToFileURL(realpathSync(entry)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isEntry()) {
  const io: CliIO = {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      io.err(`p2p-handlers: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = EXIT_FAILURE;
    },
  );
}
