/**
 * Several relays at once: one that dies, one that was never there, one that accepts TCP and
 * never answers, and one that comes back later. None may stop or slow the others, and none
 * may print anything: what goes wrong goes to error$.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getConnectionHandlerNostr, type NostrHandlerOptions } from '../handlers/nostr/client.js';
import { startNostrRelay, type NostrRelayServer } from '../handlers/nostr/relay/index.js';
import { P2PErrorCode, type P2PError } from '../src/errors.js';
import type { WebRTCMeshHandler } from '../src/mesh/mesh.js';
import type { P2PPeer } from '../src/types.js';
import { next, until } from './helpers/wait.js';

const consoleCalls: string[] = [];
for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
  const original = console[method].bind(console);
  console[method] = (...args: unknown[]) => {
    consoleCalls.push(`console.${method}: ${args.map(String).join(' ').slice(0, 200)}`);
    original(...args);
  };
}

const relays: NostrRelayServer[] = [];
const servers: { close(): Promise<void> }[] = [];
const opened: WebRTCMeshHandler[] = [];
const base = { config: { iceServers: [] }, reconnectMinDelayMs: 50, reconnectMaxDelayMs: 500 } satisfies Partial<NostrHandlerOptions>;

async function relay(port = 0): Promise<NostrRelayServer> {
  const started = await startNostrRelay({ port });
  relays.push(started);
  return started;
}

async function open(urls: string[], topic: string): Promise<WebRTCMeshHandler & { errors: P2PError[]; peers: P2PPeer[] }> {
  const handler = await getConnectionHandlerNostr({ ...base, relays: urls })({ topic });
  const tracked = Object.assign(handler, { errors: [] as P2PError[], peers: [] as P2PPeer[] });
  handler.error$.subscribe((error) => tracked.errors.push(error));
  handler.connect$.subscribe((peer) => tracked.peers.push(peer));
  opened.push(handler);
  return tracked;
}

/** A port nothing listens on (was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Accepts TCP connections and never says a word: the WebSocket handshake hangs. */
async function blackHole(): Promise<{ url: string; accepted: Set<Socket> }> {
  const accepted = new Set<Socket>();
  const server: Server = createServer((socket) => {
    accepted.add(socket);
    socket.on('close', () => accepted.delete(socket));
    socket.on('error', () => {});
    // Read (and ignore) the handshake: a paused socket would never notice the client hanging up.
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  servers.push({
    close: async () => {
      for (const socket of accepted) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, accepted };
}

test.after.each(async () => {
  await Promise.allSettled(opened.splice(0).map((handler) => handler.close()));
  await Promise.allSettled([...relays.splice(0), ...servers.splice(0)].map((server) => server.close()));
});

test('a relay stopped while peers are connected: links survive and a newcomer joins through the other two', async () => {
  const three = await Promise.all([relay(), relay(), relay()]);
  const urls = three.map((started) => started.url);
  const a = await open(urls, 'three-relays-topic');
  const b = await open(urls, 'three-relays-topic');
  await Promise.all([next(a.connect$, 'A connect$'), next(b.connect$, 'B connect$')]);
  const lost = next(a.error$, 'A hears its relay is gone', 5_000, (error) => error.message.includes(urls[1]!));
  await three[1]!.close();
  await lost;
  const c = await open(urls, 'three-relays-topic');
  await until(() => c.peers.length === 2, 'the newcomer connecting to both', 15_000);
  assert.equal(new Set(c.peers.map((peer) => peer.id)), new Set([a.peerId, b.peerId]));
  assert.equal(a.peers.map((peer) => peer.id).sort(), [b.peerId, c.peerId].sort());
  assert.ok(
    a.errors.every((error) => error.code === P2PErrorCode.SIGNALING || error.code === P2PErrorCode.TIMEOUT),
    'only signaling errors',
  );
});

test('a relay down from the start neither delays the join nor the pairing', async () => {
  const dead = `ws://127.0.0.1:${await closedPort()}`;
  const live = await relay();
  const started = Date.now();
  const a = await open([dead, live.url], 'dead-relay-topic');
  const b = await open([dead, live.url], 'dead-relay-topic');
  assert.ok(Date.now() - started < 2_000, `two joins took ${Date.now() - started} ms`);
  await Promise.all([next(a.connect$, 'A connect$'), next(b.connect$, 'B connect$')]);
  // Reported on its own schedule (a loaded machine may pair first): waited for, not assumed.
  await until(() => a.errors.some((error) => error.code === P2PErrorCode.SIGNALING && error.message.includes(dead)), 'the dead relay being reported', 10_000);
});

test('a relay that accepts TCP and never answers does not hold up the join, and close() still releases it', async () => {
  const hole = await blackHole();
  const live = await relay();
  const started = Date.now();
  const a = await open([hole.url, live.url], 'black-hole-topic');
  const b = await open([hole.url, live.url], 'black-hole-topic');
  assert.ok(Date.now() - started < 2_000, `two joins took ${Date.now() - started} ms`);
  await Promise.all([next(a.connect$, 'A connect$'), next(b.connect$, 'B connect$')]);
  assert.ok(hole.accepted.size > 0, 'the black hole was tried');
  await Promise.all([a.close(), b.close()]);
  await until(() => hole.accepted.size === 0, 'the hanging handshakes being abandoned', 2_000);
});

test('a relay that comes up later is joined, and peers meet through it', async () => {
  const port = await closedPort();
  const url = `ws://127.0.0.1:${port}`;
  const a = await open([url], 'late-relay-topic');
  await until(() => a.errors.length > 0, 'A reporting the missing relay', 5_000);
  await relay(port);
  const b = await open([url], 'late-relay-topic');
  await Promise.all([next(a.connect$, 'A connect$'), next(b.connect$, 'B connect$')]);
});

test('nothing was printed to the console', () => {
  assert.equal(consoleCalls, []);
});

test.run();
