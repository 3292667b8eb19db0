import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { P2PError, P2PErrorCode } from '../../src/errors.js';
import { invalidOption } from '../../src/mesh/options.js';
import { normalizePath } from './endpoint.js';

export interface StartPeerServerOptions {
  /** TCP port. Default: 0 (a free port, chosen by the system). */
  port?: number;
  /** Interface to bind; exposing the server is a choice. Default: '127.0.0.1'. */
  host?: string;
  /** Mount path; clients pass the same `path`. Default: '/'. */
  path?: string;
  /** API key clients must present. Default: 'peerjs'. */
  key?: string;
  /** Answer `GET {path}{key}/peers` with every id (the PeerJS cloud does not). Default: false. */
  allowDiscovery?: boolean;
  /** How long a message to an offline id is held before its sender gets EXPIRE. Default: 5000 ms (PeerServer's). */
  expireTimeoutMs?: number;
  /** A socket with no HEARTBEAT for this long is dropped. Default: 60000 ms (the peerjs CLI's). */
  aliveTimeoutMs?: number;
  /** Most ids held at once. Default: 5000 (PeerServer's). */
  concurrentLimit?: number;
  /** How long the server may take to listen. Default: 10000 ms. */
  startTimeoutMs?: number;
  /**
   * Largest WebSocket message a client may send; a larger one closes its socket (1009).
   * PeerServer alone accepts 100 MiB per message. Default: 262144 (256 KiB; signals are a few KiB).
   */
  maxMessageBytes?: number;
}

export interface RunningPeerServer {
  /** `http://host:port/path`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly key: string;
  /**
   * What `getConnectionHandlerPeerJS` needs to reach this server: `{ host, port, path, key,
   * secure: false, discovery }`, `discovery` as the server allows it (so clients never ask
   * `/peers` of a server that answers 401).
   */
  readonly clientOptions: { host: string; port: number; path: string; key: string; secure: false; discovery: boolean };
  /** Heap in use and resident set of the server process, in bytes, after a full garbage collection (for monitoring and leak checks). Rejects once the process has exited. */
  memoryUsage(): Promise<{ heapUsed: number; rss: number }>;
  /** Stops the server process and waits for it to exit. Idempotent. */
  close(): Promise<void>;
}

/**
 * Runs in the child: PeerServer keeps timers running after it is closed, so it lives in its
 * own process, which exits when its stdin closes (also when the parent dies). PeerServer
 * re-emits a client's malformed JSON (and a failed listen) as an 'error' event nobody listens
 * to, which would kill it: `report` keeps it up once listening, as the peerjs CLI does with
 * its uncaughtException hook, and ends it before, so a port in use is reported. A line
 * \`memory\` on its stdin is answered on stdout with its heap after a full collection.
 */
const CHILD_SCRIPT = `
const [modulePath, json, wsPath] = process.argv.slice(1);
require('v8').setFlagsFromString('--expose-gc');
const gc = require('vm').runInNewContext('gc');
let listening = false;
const report = (error) => {
  process.stderr.write(String((error && error.stack) || error) + '\\n');
  if (!listening) process.exit(1);
};
process.on('uncaughtException', report);
const { PeerServer } = require(modulePath);
const { WebSocketServer } = require(wsPath);
const options = JSON.parse(json);
options.createWebSocketServer = (wsOptions) => new WebSocketServer({ ...wsOptions, maxPayload: options.maxMessageBytes });
const app = PeerServer(options, (server) => {
  listening = true;
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\\n');
});
app.on('error', report);
process.stdin.on('end', () => process.exit(0));
let input = '';
process.stdin.on('data', (chunk) => {
  input += chunk;
  for (let end = input.indexOf('\\n'); end >= 0; end = input.indexOf('\\n')) {
    const line = input.slice(0, end);
    input = input.slice(end + 1);
    if (line !== 'memory') continue;
    gc();
    const { heapUsed, rss } = process.memoryUsage();
    process.stdout.write(JSON.stringify({ memory: { heapUsed, rss } }) + '\\n');
  }
});
`;

function positive(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw invalidOption(`\`${name}\` must be a positive number`);
  return value;
}

/** Starts a PeerServer (`peer` 1.x) in a child process and resolves once it accepts connections. */
export async function startPeerServer(options: StartPeerServerOptions = {}): Promise<RunningPeerServer> {
  const {
    port = 0,
    host = '127.0.0.1',
    path = '/',
    key = 'peerjs',
    allowDiscovery = false,
    expireTimeoutMs = 5_000,
    aliveTimeoutMs = 60_000,
    concurrentLimit = 5_000,
    startTimeoutMs = 10_000,
    maxMessageBytes = 256 * 1024,
  } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw invalidOption('`port` must be an integer from 0 to 65535');
  if (typeof host !== 'string' || host.length === 0) throw invalidOption('`host` must be a non-empty string');
  if (typeof path !== 'string' || /[?#\s]/.test(path)) throw invalidOption('`path` must be a URL path');
  if (typeof key !== 'string' || key.length === 0) throw invalidOption('`key` must be a non-empty string');
  if (typeof allowDiscovery !== 'boolean') throw invalidOption('`allowDiscovery` must be a boolean');
  for (const [name, value] of Object.entries({ expireTimeoutMs, aliveTimeoutMs, concurrentLimit, startTimeoutMs, maxMessageBytes })) positive(value, name);
  const mountPath = normalizePath(path);
  const serverOptions = {
    port,
    host,
    path: mountPath,
    key,
    allow_discovery: allowDiscovery,
    expire_timeout: expireTimeoutMs,
    alive_timeout: aliveTimeoutMs,
    concurrent_limit: concurrentLimit,
    maxMessageBytes,
  };
  let modulePath: string;
  let wsPath: string;
  try {
    modulePath = createRequire(import.meta.url).resolve('peer');
    // The ws that PeerServer itself uses, to give its server a message size limit.
    wsPath = createRequire(modulePath).resolve('ws');
  } catch (cause) {
    const message = 'p2p-handlers/peerjs/server needs the package "peer" (PeerServer), which is not installed: npm install peer';
    throw new P2PError(P2PErrorCode.MISSING_DEPENDENCY, message, { cause });
  }
  const child = spawn(process.execPath, ['-e', CHILD_SCRIPT, modulePath, JSON.stringify(serverOptions), wsPath], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin?.end();
        child.kill('SIGTERM');
      }
      await exited;
    })();
    return closing;
  };
  let actualPort: number;
  try {
    actualPort = await waitForPort(child, startTimeoutMs);
  } catch (error) {
    await close();
    throw error;
  }
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const memoryUsage = memoryReader(child, exited);
  return {
    url: `http://${urlHost}:${actualPort}${mountPath}`,
    host,
    port: actualPort,
    path: mountPath,
    key,
    clientOptions: { host, port: actualPort, path: mountPath, key, secure: false, discovery: allowDiscovery },
    memoryUsage,
    close,
  };
}

type MemoryFigures = { heapUsed: number; rss: number };

/** Asks the child for its memory figures; answers come back in order, one line each. */
function memoryReader(child: ChildProcess, exited: Promise<void>): () => Promise<MemoryFigures> {
  const waiting: Array<{ resolve(figures: MemoryFigures): void; reject(error: P2PError): void }> = [];
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      let memory: MemoryFigures | undefined;
      try {
        memory = (JSON.parse(line) as { memory?: MemoryFigures }).memory;
      } catch {
        memory = undefined;
      }
      if (memory) waiting.shift()?.resolve(memory);
    }
  });
  const gone = () => new P2PError(P2PErrorCode.SIGNALING, 'the PeerServer process has exited');
  void exited.then(() => waiting.splice(0).forEach(({ reject }) => reject(gone())));
  return () =>
    new Promise<MemoryFigures>((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null || !child.stdin?.writable) return reject(gone());
      waiting.push({ resolve, reject });
      child.stdin.write('memory\n');
    });
}

/** The port the child reports once listening; fails with what it printed if it dies first. */
function waitForPort(child: ChildProcess, timeoutMs: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const finish = (error: P2PError | undefined, port?: number) => {
      clearTimeout(timer);
      child.stdout?.removeAllListeners('data');
      child.removeListener('exit', onExit);
      if (error) reject(error);
      else resolve(port!);
    };
    const timer = setTimeout(() => finish(new P2PError(P2PErrorCode.TIMEOUT, `PeerServer did not start within ${timeoutMs} ms`)), timeoutMs);
    const onExit = (code: number | null) =>
      finish(new P2PError(P2PErrorCode.SIGNALING, `PeerServer exited (${code}) before listening: ${stderr.trim().split('\n')[0] ?? 'no output'}`));
    child.once('exit', onExit);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4096);
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n')[0];
      if (!stdout.includes('\n') || line === undefined) return;
      let port: unknown;
      try {
        port = (JSON.parse(line) as { port?: unknown }).port;
      } catch {
        port = undefined;
      }
      if (typeof port === 'number') finish(undefined, port);
      else finish(new P2PError(P2PErrorCode.SIGNALING, `PeerServer reported no port: ${line.slice(0, 200)}`));
    });
  });
}
