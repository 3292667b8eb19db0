/**
 * `p2p-handlers serve <kind>`: runs one signaling service in the foreground until SIGINT or
 * SIGTERM, then closes it and lets the process end by itself.
 */
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliCommand, type CliIO } from './command.js';
import { isServiceKind, SERVICE_KINDS, startService, type ServiceOptions } from '../../handlers/services.js';


const usage = `Usage: p2p-handlers serve <${SERVICE_KINDS.join('|')}> [--port N] [--host H] [options]

Runs one signaling service for p2p-handlers peers until Ctrl-C (SIGINT) or SIGTERM.

  socket.io      the hardened socket.io signaling server (also speaks RxDB's own
                 WebSocket signaling protocol at its root path)
  mqtt           an MQTT 3.1.1 broker (aedes) on TCP and WebSocket
  nostr          a Nostr relay (NIP-01, in memory)
  peerjs         a PeerServer

  --port N       TCP port (MQTT: the mqtt:// port). Default: 0, an ephemeral port
  --host H       interface to bind. Default: 127.0.0.1 (loopback only; use 0.0.0.0
                 to accept other machines)
  --ws-port N    mqtt only: the WebSocket port for browsers. Default: 0, ephemeral
  --redis URL    socket.io only: share rooms through Redis so several server
                 processes behind one address act as one (e.g. redis://127.0.0.1:6379)
  -h, --help     show this help

Prints the address of each endpoint, then "ready". Exit code: 0 after a clean stop,
1 when the service cannot start, 2 bad usage.`;

interface Parsed {
  kind?: string;
  options: ServiceOptions;
  help?: boolean;
  problem?: string;
}

const VALUE_FLAGS = new Set(['--port', '--host', '--ws-port', '--redis']);

function parse(args: string[]): Parsed {
  const parsed: Parsed = { options: {} };
  for (let i = 0; i < args.length; i += 1) {
    let arg = args[i]!;
    let value: string | undefined;
    const equals = arg.indexOf('=');
    if (arg.startsWith('--') && equals > 0) [arg, value] = [arg.slice(0, equals), arg.slice(equals + 1)];
    if (arg === '--help' || arg === '-h') {
      parsed.help = true;
      continue;
    }
    if (VALUE_FLAGS.has(arg)) {
      value ??= args[(i += 1)];
      if (value === undefined || value === '') return { ...parsed, problem: `${arg} needs a value` };
      const problem = apply(parsed.options, arg, value);
      if (problem) return { ...parsed, problem };
    } else if (arg.startsWith('-')) return { ...parsed, problem: `unknown option ${arg}` };
    else if (parsed.kind === undefined) parsed.kind = arg;
    else return { ...parsed, problem: `unexpected argument ${arg} (one service per process)` };
  }
  return parsed;
}

function apply(options: ServiceOptions, flag: string, value: string): string | undefined {
  if (flag === '--host') options.host = value;
  else if (flag === '--redis') {
    if (!/^rediss?:\/\//.test(value)) return `--redis must be a redis:// or rediss:// URL, got ${value}`;
    options.redis = value;
  } else {
    const port = Number(value);
    if (!/^\d+$/.test(value) || port > 65_535) return `${flag} must be a port number from 0 to 65535, got ${value}`;
    if (flag === '--port') options.port = port;
    else options.wsPort = port;
  }
  return undefined;
}

function stopRequested(): { promise: Promise<string>; dispose(): void } {
  let onSignal: (signal: NodeJS.Signals) => void = () => {};
  const promise = new Promise<string>((resolve) => {
    onSignal = (signal) => resolve(signal);
  });
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    promise,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

async function run(args: string[], io: CliIO): Promise<number> {
  const { kind, options, help, problem } = parse(args);
  if (help) {
    io.out(`${usage}\n`);
    return EXIT_OK;
  }
  if (problem || kind === undefined || !isServiceKind(kind)) {
    const reason = problem ?? (kind === undefined ? 'which service?' : `unknown service "${kind}"`);
    io.err(`p2p-handlers serve: ${reason}\n\n${usage}\n`);
    return EXIT_USAGE;
  }
  if (options.wsPort !== undefined && kind !== 'mqtt') {
    io.err(`p2p-handlers serve: --ws-port applies to mqtt only\n`);
    return EXIT_USAGE;
  }
  if (options.redis !== undefined && kind !== 'socket.io') {
    io.err(`p2p-handlers serve: --redis applies to socket.io only\n`);
    return EXIT_USAGE;
  }
  // Listen for the signal before starting, so a Ctrl-C during startup still stops cleanly.
  const stop = stopRequested();
  try {
    let service;
    try {
      service = await startService(kind, options);
    } catch (error) {
      io.err(`p2p-handlers serve: ${kind} did not start: ${error instanceof Error ? error.message : String(error)}\n`);
      return EXIT_FAILURE;
    }
    for (const line of service.endpoints) io.out(`${line}\n`);
    io.out('ready (Ctrl-C stops)\n');
    const signal = await stop.promise;
    io.out(`${signal}: stopping ${kind}\n`);
    await service.close();
    io.out('stopped\n');
    return EXIT_OK;
  } finally {
    stop.dispose();
  }
}

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: `run one signaling service (${SERVICE_KINDS.join(', ')}) until Ctrl-C`,
  usage,
  run,
};
