/**
 * `p2p-handlers serve <kind>`: each service starts from the built bin, two real peers connect
 * through it (WebRTC on loopback) with the matching handler, and Ctrl-C stops it with exit 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getConnectionHandlerMqtt } from '../handlers/mqtt/client.js';
import { getConnectionHandlerNostr } from '../handlers/nostr/client.js';
import { getConnectionHandlerPeerJS } from '../handlers/peerjs/client.js';
import { getConnectionHandlerSocketIo } from '../handlers/socket-io/client.js';
import type { P2PConnectionHandlerCreator } from '../src/types.js';
import { CLI, ROOT, runCli } from './fixtures/run-cli.js';
import { startRedis } from './fixtures/socket-io-redis-cluster.js';
import { next } from './helpers/wait.js';

interface Served {
  child: ChildProcess;
  stdout: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function serve(args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve ${args.join(' ')} not ready within 30 s: ${stdout}${stderr}`)), 30_000);
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!stdout.includes('ready')) return;
      clearTimeout(timer);
      resolve({ child, stdout: () => stdout, exit });
    });
    void exit.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`serve ${args.join(' ')} exited (${code}) before ready: ${stderr}`));
    });
  });
}

const address = (stdout: string, scheme: string): string => {
  const found = new RegExp(`${scheme}://[^\\s]+`).exec(stdout)?.[0];
  if (!found) throw new Error(`no ${scheme}:// address in: ${stdout}`);
  return found;
};

async function pairThrough(creator: () => P2PConnectionHandlerCreator): Promise<void> {
  const topic = `serve-${Math.random().toString(36).slice(2)}`;
  const a = await creator()({ topic } as never);
  const aConnected = next(a.connect$, 'a connect$', 30_000);
  const b = await creator()({ topic } as never);
  const bConnected = next(b.connect$, 'b connect$', 30_000);
  try {
    const [peerOfA] = await Promise.all([aConnected, bConnected]);
    const received = next(b.message$, 'message at b', 30_000);
    await a.send(peerOfA, { id: '1', method: 'ping', params: ['through the served service'] } as never);
    assert.equal(((await received).message as { params: string[] }).params[0], 'through the served service');
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

async function stopWithCtrlC(served: Served): Promise<void> {
  served.child.kill('SIGINT');
  const { code, signal } = await served.exit;
  assert.equal(signal, null, 'ended by itself, not killed');
  assert.equal(code, 0, served.stdout());
  assert.match(served.stdout(), /SIGINT: stopping/);
  assert.match(served.stdout(), /stopped/);
}

const ice = { config: { iceServers: [] } };

test('serve socket.io: two peers connect through it, Ctrl-C stops it cleanly', async () => {
  const served = await serve(['socket.io', '--port', '0']);
  const url = address(served.stdout(), 'http');
  assert.match(served.stdout(), /RxDB signaling \(ws\)\s+ws:\/\//);
  await pairThrough(() => getConnectionHandlerSocketIo({ url, ...ice }));
  await stopWithCtrlC(served);
});

test('serve socket.io --redis: two server processes act as one room', async () => {
  const redis = await startRedis();
  const servers: Served[] = [];
  try {
    for (let i = 0; i < 2; i += 1) servers.push(await serve(['socket.io', '--port', '0', '--redis', redis.url]));
    const urls = servers.map((served) => address(served.stdout(), 'http'));
    let next = 0;
    // Each creator call takes the next process: the pair can only meet through Redis.
    await pairThrough(() => getConnectionHandlerSocketIo({ url: urls[next++ % urls.length]!, ...ice }));
    for (const served of servers) await stopWithCtrlC(served);
  } finally {
    for (const served of servers) if (served.child.exitCode === null) served.child.kill('SIGKILL');
    await redis.stop();
  }
});

test('serve mqtt: TCP and WebSocket listeners, peers connect over either', async () => {
  const served = await serve(['mqtt', '--port', '0', '--ws-port', '0']);
  await pairThrough(() => getConnectionHandlerMqtt({ url: address(served.stdout(), 'mqtt'), ...ice }));
  await pairThrough(() => getConnectionHandlerMqtt({ url: address(served.stdout(), 'ws'), ...ice }));
  await stopWithCtrlC(served);
});

test('serve nostr: peers connect through the relay', async () => {
  const served = await serve(['nostr', '--port', '0']);
  await pairThrough(() => getConnectionHandlerNostr({ relays: [address(served.stdout(), 'ws')], ...ice }));
  await stopWithCtrlC(served);
});

test('serve peerjs: peers connect through the PeerServer', async () => {
  const served = await serve(['peerjs', '--port', '0', '--host', '127.0.0.1']);
  const url = new URL(address(served.stdout(), 'http'));
  await pairThrough(() => getConnectionHandlerPeerJS({ host: url.hostname, port: Number(url.port), path: url.pathname, secure: false, ...ice }));
  await stopWithCtrlC(served);
});

test('serve --help names every service and option', async () => {
  const { code, stdout } = await runCli(['serve', '--help']);
  assert.equal(code, 0);
  for (const word of ['socket.io', 'mqtt', 'nostr', 'peerjs', '--port', '--host', '--ws-port', '--redis']) assert.ok(stdout.includes(word), word);
  const overview = await runCli(['--help']);
  assert.match(overview.stdout, /serve\s+run one signaling service/);
});

test('serve: bad usage exits 2 with the reason', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['serve'], /which service\?/],
    [['serve', 'ftp'], /unknown service "ftp"/],
    [['serve', 'mqtt', '--port', 'eighty'], /--port must be a port number/],
    [['serve', 'mqtt', '--port', '70000'], /--port must be a port number/],
    [['serve', 'nostr', '--ws-port', '1'], /--ws-port applies to mqtt only/],
    [['serve', 'mqtt', '--redis', 'redis://127.0.0.1:1'], /--redis applies to socket.io only/],
    [['serve', 'socket.io', '--redis', 'http://x'], /--redis must be a redis:\/\//],
    [['serve', 'socket.io', '--port'], /--port needs a value/],
    [['serve', 'socket.io', '--verbose'], /unknown option --verbose/],
    [['serve', 'socket.io', 'mqtt'], /one service per process/],
  ];
  for (const [args, reason] of cases) {
    const { code, stderr } = await runCli(args);
    assert.equal(code, 2, args.join(' '));
    assert.match(stderr, reason, args.join(' '));
  }
});

test('serve: a port in use is reported and exits 1', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
  const { port } = blocker.address() as { port: number };
  try {
    for (const kind of ['socket.io', 'nostr', 'mqtt', 'peerjs']) {
      const { code, stderr } = await runCli(['serve', kind, '--port', String(port)]);
      assert.equal(code, 1, `${kind}: ${stderr}`);
      assert.match(stderr, new RegExp(`${kind.replace('.', '\\.')} did not start`), kind);
    }
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
});

test.run();
