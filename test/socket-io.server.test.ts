/**
 * The socket.io signaling server against real socket.io-client and ws clients on 127.0.0.1.
 * Every wait names what stayed silent; every server and client a test makes is closed in
 * after.each, so the process exits on its own.
 */
import { createServer, get as httpGet, type Server as HttpServer } from 'node:http';
import { connect as netConnect, type Socket as NetSocket } from 'node:net';
import { inspect } from 'node:util';
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { P2PErrorCode } from '../src/errors.js';
import { within } from './helpers/hostile-checks.js';
import { MAX_ID_LENGTH, type SignalingAck, type SignalingErrorMessage } from '../handlers/socket-io/protocol.js';
import { MessageRateLimiter, DROP_FORGIVE_MS } from '../handlers/socket-io/server/limits.js';
import { RoomRegistry } from '../handlers/socket-io/server/rooms.js';
import {
  startSocketIoSignalingServer,
  type SocketIoSignalingServer,
  type SocketIoSignalingServerOptions,
} from '../handlers/socket-io/server/index.js';

const WAIT_MS = 3000;
/** Long enough for a relayed message to arrive on loopback; used only to assert silence. */
const SILENCE_MS = 150;
const ERROR_CODES = new Set<string>(Object.values(P2PErrorCode));

// ---------------------------------------------------------------------------------------------
// helpers

type Listener = (...args: any[]) => void;
interface Emitter {
  on(event: string, listener: Listener): unknown;
  off(event: string, listener: Listener): unknown;
}

/** Resolves with the arguments of the first `event` that `match` accepts; rejects naming `what`. */
function waitFor(emitter: Emitter, event: string, ms: number, what: string, match?: (...args: any[]) => boolean): Promise<any[]> {
  return handled(new Promise((resolve, reject) => {
    const listener: Listener = (...args) => {
      if (match && !match(...args)) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args);
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out after ${ms} ms: ${what} (no '${event}' event)`));
    }, ms);
    emitter.on(event, listener);
  }));
}

/**
 * Marks a wait as handled: a test that fails before awaiting it must report its own failure,
 * not crash the file with an unhandled rejection. Awaiting it still throws.
 */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/** Resolves once `ms` passed without a matching `event`; rejects at once if one arrives. */
function expectSilence(emitter: Emitter, event: string, ms: number, what: string, match?: (...args: any[]) => boolean): Promise<void> {
  return handled(new Promise((resolve, reject) => {
    const listener: Listener = (...args) => {
      if (match && !match(...args)) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      reject(new Error(`unexpected '${event}' (${what}): ${inspect(args, { depth: 3 })}`));
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      resolve();
    }, ms);
    emitter.on(event, listener);
  }));
}

/** Polls server-side state the clients cannot observe (e.g. after the last member left). */
async function until(condition: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function collect(emitter: Emitter, event: string): any[][] {
  const seen: any[][] = [];
  emitter.on(event, (...args: any[]) => seen.push(args));
  return seen;
}

const servers: SocketIoSignalingServer[] = [];
const clients: ClientSocket[] = [];
const cleanups: Array<() => unknown> = [];

test.after.each(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  const closing = [...servers.splice(0).map((s) => s.close()), ...cleanups.splice(0).map(async (f) => f())];
  const results = await Promise.allSettled(closing);
  for (const result of results) if (result.status === 'rejected') throw result.reason;
});

async function start(options?: SocketIoSignalingServerOptions): Promise<SocketIoSignalingServer> {
  const server = await startSocketIoSignalingServer(options);
  servers.push(server);
  return server;
}

function client(server: { url: string; path: string }, extra: Record<string, unknown> = {}): ClientSocket {
  const socket = ioClient(server.url, { transports: ['websocket'], reconnection: false, forceNew: true, path: server.path, ...extra });
  clients.push(socket);
  return socket;
}

async function connect(server: { url: string; path: string }, extra: Record<string, unknown> = {}): Promise<ClientSocket> {
  const socket = client(server, extra);
  await new Promise<void>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
    };
    const onConnect = () => (done(), resolve());
    const onError = (error: Error) => (done(), reject(new Error(`connect_error from ${server.url}: ${error.message}`)));
    const timer = setTimeout(() => (done(), reject(new Error(`timed out after ${WAIT_MS} ms: connect to ${server.url}`))), WAIT_MS);
    socket.on('connect', onConnect);
    socket.on('connect_error', onError);
  });
  return socket;
}

/** Joins and resolves with the first `joined` list for `room` that names `peerId`. */
async function join(socket: ClientSocket, room: string, peerId: string, token?: string): Promise<string[]> {
  const joined = waitFor(socket, 'joined', WAIT_MS, `joined for ${peerId} in ${room}`, (ids: string[], r: string) => r === room && ids.includes(peerId));
  socket.emit('join', { room, peerId, ...(token === undefined ? {} : { token }) });
  return (await joined)[0];
}

async function ack(socket: ClientSocket, event: string, ...args: unknown[]): Promise<SignalingAck> {
  try {
    return await socket.timeout(WAIT_MS).emitWithAck(event, ...args);
  } catch {
    throw new Error(`timed out after ${WAIT_MS} ms: no ack for '${event}' ${inspect(args, { depth: 1 }).slice(0, 120)}`);
  }
}

function nextError(socket: ClientSocket, what: string, code?: string): Promise<SignalingErrorMessage> {
  return handled(waitFor(socket, 'error', WAIT_MS, what, (e: SignalingErrorMessage) => code === undefined || e?.code === code).then(([e]) => e));
}

function assertError(error: SignalingErrorMessage, expected: Partial<SignalingErrorMessage>): void {
  for (const [key, value] of Object.entries(expected)) {
    assert.equal((error as unknown as Record<string, unknown>)[key], value, `error.${key} of ${inspect(error)}`);
  }
  assert.type(error.message, 'string');
}

/** A socket.io-level open of a raw ws client: engine.io open packet, then namespace connect. */
async function rawConnect(server: SocketIoSignalingServer): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}${server.path}/?EIO=4&transport=websocket`);
  cleanups.push(() => ws.terminate());
  const opened = waitFor(ws, 'message', WAIT_MS, 'engine.io open packet', (data) => String(data).startsWith('0'));
  await opened;
  const connected = waitFor(ws, 'message', WAIT_MS, 'socket.io connect ack', (data) => String(data).startsWith('40'));
  ws.send('40');
  await connected;
  return ws;
}

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = httpGet(url, { agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(body));
    });
    request.setTimeout(WAIT_MS, () => request.destroy(new Error(`timed out after ${WAIT_MS} ms: GET ${url}`)));
    request.on('error', reject);
  });
}

/** Two well-behaved peers prove the server still relays. */
async function assertRelays(server: SocketIoSignalingServer, room: string): Promise<void> {
  const a = await connect(server);
  const b = await connect(server);
  await join(a, room, 'good-a');
  await join(b, room, 'good-b');
  const message = { from: 'good-a', to: 'good-b', room, signal: { type: 'offer', sdp: 'v=0' } };
  const got = waitFor(b, 'signal', WAIT_MS, 'good-b: relayed signal');
  a.emit('signal', message);
  assert.equal((await got)[0], message);
}

// ---------------------------------------------------------------------------------------------
// options and lifecycle

test('options: invalid values are refused with ERR_INVALID_OPTION', async () => {
  const bad: unknown[] = [
    null, 'x', { port: -1 }, { port: 70000 }, { port: 1.5 }, { port: '80' }, { host: '' }, { host: 5 },
    { path: 'socket.io' }, { authenticate: 'yes' }, { maxRoomsPerSocket: 0 }, { maxPeersPerRoom: 1.5 },
    { maxPayloadBytes: -5 }, { messagesPerSecond: 0 }, { messagesPerSecond: Infinity }, { messageBurst: 0 },
    { maxDroppedMessages: 'x' }, { corsOrigin: 5 }, { corsOrigin: [1] }, { httpServer: {} }, { messagePerSecond: 5 },
  ];
  for (const options of bad) {
    try {
      const server = await startSocketIoSignalingServer(options as SocketIoSignalingServerOptions);
      servers.push(server);
      assert.unreachable(`accepted ${inspect(options)}`);
    } catch (error) {
      assert.equal((error as { code?: string }).code, P2PErrorCode.INVALID_OPTION, `code for ${inspect(options)}: ${error}`);
    }
  }
});

test('defaults: ephemeral port on 127.0.0.1, url without path, buffer above the payload bound', async () => {
  const server = await start();
  assert.ok(server.port > 0);
  assert.is(server.url, `http://127.0.0.1:${server.port}`);
  assert.is(server.path, '/socket.io');
  assert.equal(server.stats(), { sockets: 0, rooms: 0, peers: 0 });
  const engineOptions = (server.io.engine as unknown as { opts: { maxHttpBufferSize: number } }).opts;
  assert.ok(engineOptions.maxHttpBufferSize > 64 * 1024, `maxHttpBufferSize ${engineOptions.maxHttpBufferSize}`);

  const wildcard = await start({ host: '0.0.0.0', path: '/signal' });
  assert.is(wildcard.url, `http://127.0.0.1:${wildcard.port}`);
  const socket = await connect(wildcard);
  assert.equal(await join(socket, 'r', 'p'), ['p']);
});

test('an upgrade to a path nobody serves is closed, with or without the RxDB endpoint', async () => {
  for (const rxdbPath of ['/', '/rxdb', false] as const) {
    const server = await start({ rxdbPath });
    const { port } = new URL(server.url);
    for (const path of ['/nope', '/socket.io.evil', '/socket.iox/', '/rxdbx']) {
      if (path === rxdbPath) continue;
      const socket = netConnect(Number(port), '127.0.0.1');
      socket.on('error', () => {});
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${Buffer.alloc(16, 3).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      await within(closed, 5_000, `the server closing an upgrade to ${path} (rxdbPath ${String(rxdbPath)})`);
    }
  }
});

test('close(): memoized, disconnects clients, refuses new ones', async () => {
  const server = await start();
  const a = await connect(server);
  await join(a, 'r', 'a');
  const gone = waitFor(a, 'disconnect', WAIT_MS, 'a: disconnect on server close');
  const first = server.close();
  assert.ok(first === server.close(), 'second close() returns the same promise');
  await first;
  assert.is((await gone)[0], 'io server disconnect');
  await server.close();
  const late = client(server);
  await waitFor(late, 'connect_error', WAIT_MS, 'connect_error after close');
});

test('start: a port in use rejects with ERR_SIGNALING and leaves nothing behind', async () => {
  const first = await start();
  try {
    const second = await startSocketIoSignalingServer({ port: first.port });
    servers.push(second);
    assert.unreachable('listened on a port in use');
  } catch (error) {
    assert.is((error as { code?: string }).code, P2PErrorCode.SIGNALING, String(error));
  }
});

test('close(): a peer that never answers the WebSocket close does not hold it up', async () => {
  const server = await start();
  const raw: NetSocket = netConnect(server.port, '127.0.0.1');
  cleanups.push(() => raw.destroy());
  const upgraded = waitFor(raw, 'data', WAIT_MS, 'HTTP 101 for a raw upgrade', (chunk: Buffer) => String(chunk).startsWith('HTTP/1.1 101'));
  raw.write(
    `GET ${server.path}/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
      'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await upgraded;
  const started = Date.now();
  await server.close();
  assert.ok(Date.now() - started < 2500, `close() took ${Date.now() - started} ms`);
});

test('httpServer option: attaches to a borrowed server and gives it back on close', async () => {
  const borrowed: HttpServer = createServer((_request, response) => response.end('app'));
  cleanups.push(() => new Promise((resolve) => borrowed.close(resolve)));
  const server = await start({ httpServer: borrowed });
  assert.ok(borrowed.listening, 'a borrowed server that was not listening is started');
  assert.is(await fetchText(`${server.url}/hello`), 'app');
  const a = await connect(server);
  await join(a, 'r', 'a');
  const gone = waitFor(a, 'disconnect', WAIT_MS, 'a: disconnect on server close');
  await server.close();
  await gone;
  assert.ok(borrowed.listening, 'close() must not close a borrowed server');
  assert.is(await fetchText(`${server.url}/hello`), 'app');
  assert.is(await fetchText(`${server.url}/socket.io/?EIO=4&transport=polling`), 'app', 'socket.io no longer intercepts');
});

test('authenticate: falsy, throw and rejection refuse with ERR_UNAUTHORIZED; truthy accepts', async () => {
  const server = await start({
    authenticate: async (handshake) => {
      const { mode, token } = handshake.auth as { mode?: string; token?: string };
      if (mode === 'throw') throw new Error('db password hunter2');
      if (mode === 'reject') return Promise.reject(new Error('nope'));
      return token === 'good';
    },
  });
  for (const auth of [{ token: 'bad' }, {}, { mode: 'throw' }, { mode: 'reject' }]) {
    const socket = client(server, { auth });
    const [error] = await waitFor(socket, 'connect_error', WAIT_MS, `connect_error for ${inspect(auth)}`);
    assert.is(error.data?.code, P2PErrorCode.UNAUTHORIZED, `data.code for ${inspect(auth)}`);
    assert.not.match(JSON.stringify(error.data) + error.message, /hunter2/);
  }
  const accepted = await connect(server, { auth: { token: 'good' } });
  assert.equal(await join(accepted, 'r', 'p'), ['p']);
});

// ---------------------------------------------------------------------------------------------
// protocol

test("the seed's example client flow: join, joined to every member, signal relay", async () => {
  const server = await start();
  const a = await connect(server);
  // socket.io-client's default transports (long-polling, then upgrade), as the seed's client used.
  const b = await connect(server, { transports: ['polling', 'websocket'] });
  const aAlone = waitFor(a, 'joined', WAIT_MS, 'a: joined [peer-a]');
  a.emit('join', { room: 'room-1', peerId: 'peer-a' });
  assert.equal((await aAlone)[0], ['peer-a']);
  const aBoth = waitFor(a, 'joined', WAIT_MS, 'a: joined [peer-a, peer-b]');
  const bBoth = waitFor(b, 'joined', WAIT_MS, 'b: joined [peer-a, peer-b]');
  b.emit('join', { room: 'room-1', peerId: 'peer-b' });
  assert.equal(await aBoth, [['peer-a', 'peer-b'], 'room-1']);
  assert.equal(await bBoth, [['peer-a', 'peer-b'], 'room-1']);
  const message = { from: 'peer-a', to: 'peer-b', room: 'room-1', signal: { type: 'offer', sdp: 'v=0\r\n' } };
  const relayed = waitFor(b, 'signal', WAIT_MS, 'b: signal from a');
  const silentA = expectSilence(a, 'signal', SILENCE_MS, 'a must not get its own signal back');
  a.emit('signal', message);
  assert.equal((await relayed)[0], message);
  await silentA;
  const back = waitFor(a, 'signal', WAIT_MS, 'a: answer from b');
  b.emit('signal', { from: 'peer-b', to: 'peer-a', room: 'room-1', signal: { type: 'answer' } });
  assert.equal((await back)[0], { from: 'peer-b', to: 'peer-a', room: 'room-1', signal: { type: 'answer' } });
});

test('a join in the handshake (auth.p2pJoin) is done at connection; a repeat join is answered ok', async () => {
  const server = await start();
  const a = await connect(server);
  await join(a, 'early-room', 'peer-a');
  const aSees = waitFor(a, 'joined', WAIT_MS, 'a: joined with the early joiner', (ids: string[]) => ids.includes('peer-b'));
  const b = client(server, { auth: { p2pJoin: { room: 'early-room', peerId: 'peer-b' } } });
  const bJoined = waitFor(b, 'joined', WAIT_MS, 'b: joined without sending join');
  assert.equal((await bJoined)[0], ['peer-a', 'peer-b']);
  assert.equal((await aSees)[0], ['peer-a', 'peer-b']);
  assert.equal(await ack(b, 'join', { room: 'early-room', peerId: 'peer-b' }), { ok: true });
  assert.is(server.stats().sockets, 2);
});

test('a bad join in the handshake sends no error event; the socket can still join', async () => {
  const server = await start();
  const holder = await connect(server);
  await join(holder, 'held-room', 'held-id');
  for (const p2pJoin of [{ room: '' }, 'x', { room: 'held-room', peerId: 'held-id' }]) {
    const socket = client(server, { auth: { p2pJoin } });
    const silent = expectSilence(socket, 'error', SILENCE_MS, `no error event for ${JSON.stringify(p2pJoin)}`);
    await waitFor(socket, 'connect', WAIT_MS, 'connected');
    await silent;
    const refused = await ack(socket, 'join', { room: 'held-room', peerId: 'held-id' });
    assert.is(refused.ok ? undefined : refused.error.code, P2PErrorCode.ID_TAKEN);
    assert.equal(await ack(socket, 'join', { room: 'held-room', peerId: `other-${clients.length}` }), { ok: true });
  }
});

test('acks: join, signal and leave answer { ok } instead of an error event', async () => {
  const server = await start();
  const a = await connect(server);
  const b = await connect(server);
  assert.equal(await ack(a, 'join', { room: 'r', peerId: 'a' }), { ok: true });
  assert.equal(await ack(b, 'join', { room: 'r', peerId: 'b' }), { ok: true });
  assert.equal(await ack(a, 'signal', { from: 'a', to: 'b', room: 'r', signal: 1 }), { ok: true });
  const noErrorEvent = expectSilence(b, 'error', SILENCE_MS, 'errors of acked messages go to the ack');
  const taken = await ack(b, 'join', { room: 'r2', peerId: 'x' }).then(() => ack(a, 'join', { room: 'r2', peerId: 'x' }));
  assert.is(taken.ok, false);
  assertError((taken as { error: SignalingErrorMessage }).error, { code: P2PErrorCode.ID_TAKEN, event: 'join', room: 'r2', peerId: 'x' });
  const unknown = await ack(b, 'signal', { from: 'b', to: 'nobody', room: 'r', signal: 1 });
  assertError((unknown as { error: SignalingErrorMessage }).error, { code: P2PErrorCode.PEER_NOT_CONNECTED, peerId: 'nobody' });
  await noErrorEvent;
  assert.equal(await ack(a, 'leave', { room: 'r' }), { ok: true });
  assert.equal(await ack(a, 'leave', { room: 'r' }), { ok: true }, 'leaving twice is a no-op');
});

test('leave: remaining members get the new list, the leaver is out of the room', async () => {
  const server = await start();
  const [a, b, c] = await Promise.all([connect(server), connect(server), connect(server)]);
  await join(a, 'r', 'a');
  await join(b, 'r', 'b');
  await join(c, 'r', 'c');
  const aSees = waitFor(a, 'joined', WAIT_MS, 'a: list without c', (ids: string[]) => !ids.includes('c'));
  const bSees = waitFor(b, 'joined', WAIT_MS, 'b: list without c', (ids: string[]) => !ids.includes('c'));
  const cSilent = expectSilence(c, 'joined', SILENCE_MS, 'the leaver gets no list');
  c.emit('leave', { room: 'r' });
  assert.equal(await aSees, [['a', 'b'], 'r']);
  assert.equal(await bSees, [['a', 'b'], 'r']);
  await cSilent;
  assert.equal(server.stats(), { sockets: 3, rooms: 1, peers: 2 });
  const unknown = nextError(a, 'a: c is unknown after its leave', P2PErrorCode.PEER_NOT_CONNECTED);
  a.emit('signal', { from: 'a', to: 'c', room: 'r', signal: 1 });
  assertError(await unknown, { event: 'signal', room: 'r', peerId: 'c' });
  const notMember = nextError(c, 'c: not a member any more', P2PErrorCode.PROTOCOL);
  c.emit('signal', { from: 'c', to: 'a', room: 'r', signal: 1 });
  assertError(await notMember, { event: 'signal' });
});

test('disconnect: the socket leaves every room and the others get updated lists', async () => {
  const server = await start();
  const [a, b, c] = await Promise.all([connect(server), connect(server), connect(server)]);
  await join(a, 'r1', 'a1');
  await join(b, 'r2', 'b2');
  await join(c, 'r1', 'c1');
  await join(c, 'r2', 'c2');
  assert.equal(server.stats(), { sockets: 3, rooms: 2, peers: 4 });
  const aSees = waitFor(a, 'joined', WAIT_MS, 'a: r1 without c1', (ids: string[], room: string) => room === 'r1' && !ids.includes('c1'));
  const bSees = waitFor(b, 'joined', WAIT_MS, 'b: r2 without c2', (ids: string[], room: string) => room === 'r2' && !ids.includes('c2'));
  c.disconnect();
  assert.equal(await aSees, [['a1'], 'r1']);
  assert.equal(await bSees, [['b2'], 'r2']);
  await until(() => server.stats().sockets === 2, 'server forgets the disconnected socket');
  assert.equal(server.stats(), { sockets: 2, rooms: 2, peers: 2 });
  const unknown = nextError(a, 'a: c1 gone', P2PErrorCode.PEER_NOT_CONNECTED);
  a.emit('signal', { from: 'a1', to: 'c1', room: 'r1', signal: 1 });
  await unknown;
});

test('empty rooms are deleted: memory returns to baseline after churn', async () => {
  const server = await start();
  const sockets = await Promise.all([connect(server), connect(server), connect(server)]);
  for (let round = 0; round < 20; round += 1) {
    for (const [i, socket] of sockets.entries()) await join(socket, `room-${round}`, `p${i}`);
    for (const socket of sockets) assert.equal(await ack(socket, 'leave', { room: `room-${round}` }), { ok: true });
  }
  assert.equal(server.stats(), { sockets: 3, rooms: 0, peers: 0 });
  for (const [i, socket] of sockets.entries()) await join(socket, 'last', `p${i}`);
  assert.equal(server.stats(), { sockets: 3, rooms: 1, peers: 3 });
  for (const socket of sockets) socket.disconnect();
  await until(() => server.stats().sockets === 0, 'all sockets forgotten');
  assert.equal(server.stats(), { sockets: 0, rooms: 0, peers: 0 });
});

test('one socket in several rooms with different ids; joined lists carry the room', async () => {
  const server = await start();
  const [s, a, b] = await Promise.all([connect(server), connect(server), connect(server)]);
  await join(a, 'r1', 'a');
  await join(b, 'r2', 'b');
  assert.equal(await join(s, 'r1', 's1'), ['a', 's1']);
  assert.equal(await join(s, 'r2', 's2'), ['b', 's2']);
  const fromA = waitFor(s, 'signal', WAIT_MS, 's: signal in r1', (m) => m.room === 'r1');
  a.emit('signal', { from: 'a', to: 's1', room: 'r1', signal: 'x' });
  assert.equal((await fromA)[0], { from: 'a', to: 's1', room: 'r1', signal: 'x' });
  const fromB = waitFor(s, 'signal', WAIT_MS, 's: signal in r2', (m) => m.room === 'r2');
  b.emit('signal', { from: 'b', to: 's2', room: 'r2', signal: 'y' });
  assert.equal((await fromB)[0], { from: 'b', to: 's2', room: 'r2', signal: 'y' });

  const wrongId = await ack(s, 'signal', { from: 's1', to: 'b', room: 'r2', signal: 1 });
  assertError((wrongId as { error: SignalingErrorMessage }).error, { code: P2PErrorCode.PROTOCOL, event: 'signal' });
  const secondId = await ack(s, 'join', { room: 'r1', peerId: 'other' });
  assertError((secondId as { error: SignalingErrorMessage }).error, { code: P2PErrorCode.PROTOCOL, event: 'join' });
  const othersSilent = expectSilence(a, 'joined', SILENCE_MS, 'a rejoin changes nothing for others');
  assert.equal(await join(s, 'r1', 's1'), ['a', 's1'], 'rejoining with the same id is idempotent');
  await othersSilent;
  assert.equal(server.stats().peers, 4);
});

// ---------------------------------------------------------------------------------------------
// ids and tokens

test('a peer id held by one socket cannot be claimed by another (ERR_ID_TAKEN)', async () => {
  const server = await start();
  const [a, b] = await Promise.all([connect(server), connect(server)]);
  await join(a, 'r', 'x');
  const aSilent = expectSilence(a, 'joined', SILENCE_MS, 'a failed claim changes no list');
  const taken = nextError(b, 'b: ERR_ID_TAKEN', P2PErrorCode.ID_TAKEN);
  b.emit('join', { room: 'r', peerId: 'x' });
  assertError(await taken, { event: 'join', room: 'r', peerId: 'x' });
  await aSilent;
  assert.equal(server.stats().peers, 1);
  const notMember = nextError(b, 'b: cannot signal as x', P2PErrorCode.PROTOCOL);
  b.emit('signal', { from: 'x', to: 'x', room: 'r', signal: 1 });
  await notMember;
  assert.equal(await join(b, 'r-other', 'x'), ['x'], 'ids are scoped to a room');
});

test('token: a different or missing token cannot take an id over', async () => {
  const server = await start();
  const [a, b] = await Promise.all([connect(server), connect(server)]);
  await join(a, 'r', 'y', 'token-1');
  await join(a, 'r2', 'z');
  for (const [room, peerId, token] of [['r', 'y', 'token-2'], ['r', 'y', undefined], ['r2', 'z', 'any-token']] as const) {
    const result = await ack(b, 'join', { room, peerId, ...(token ? { token } : {}) });
    assert.is(result.ok, false, `claim of ${peerId} with ${token}`);
    assertError((result as { error: SignalingErrorMessage }).error, { code: P2PErrorCode.ID_TAKEN, peerId });
  }
  assert.equal(server.stats(), { sockets: 2, rooms: 2, peers: 2 });
});

test('token: the same token takes the id over; the stale socket is removed and told', async () => {
  const server = await start();
  const [m, stale, fresh] = await Promise.all([connect(server), connect(server), connect(server)]);
  await join(m, 'r', 'm');
  await join(stale, 'r', 'p', 'secret');
  const lists = collect(m, 'joined');
  const staleSilentLists = expectSilence(stale, 'joined', SILENCE_MS, 'the stale socket is out of the room: no more lists');
  const told = nextError(stale, 'stale: told it was taken over', P2PErrorCode.ID_TAKEN);
  const mAgain = waitFor(m, 'joined', WAIT_MS, 'm: list with p again', (ids: string[]) => ids.includes('p'));
  assert.equal(await join(fresh, 'r', 'p', 'secret'), ['m', 'p']);
  await mAgain;
  assert.equal(lists, [[['m'], 'r'], [['m', 'p'], 'r']], 'm sees the stale p leave, then the new p join');
  assertError(await told, { event: 'join', room: 'r', peerId: 'p' });
  await staleSilentLists;
  assert.equal(server.stats(), { sockets: 3, rooms: 1, peers: 2 });

  const toFresh = waitFor(fresh, 'signal', WAIT_MS, 'fresh: signal for p');
  const staleSilent = expectSilence(stale, 'signal', SILENCE_MS, 'the stale socket no longer gets p signals');
  m.emit('signal', { from: 'm', to: 'p', room: 'r', signal: 'hello' });
  await toFresh;
  await staleSilent;
  const staleRefused = nextError(stale, 'stale: cannot signal as p', P2PErrorCode.PROTOCOL);
  stale.emit('signal', { from: 'p', to: 'm', room: 'r', signal: 1 });
  await staleRefused;

  const noChange = expectSilence(m, 'joined', SILENCE_MS, 'the stale socket leaving changes nothing');
  stale.disconnect();
  await noChange;
  await until(() => server.stats().sockets === 2, 'stale socket forgotten');
  assert.equal(server.stats().peers, 2);
  const stillFresh = waitFor(fresh, 'signal', WAIT_MS, 'fresh: still holds p');
  m.emit('signal', { from: 'm', to: 'p', room: 'r', signal: 'again' });
  await stillFresh;
});

test('token: only a keyed hash is kept, never the token', () => {
  const registry = new RoomRegistry<object>({ maxRoomsPerSocket: 4, maxPeersPerRoom: 4 });
  const [first, second] = [{}, {}];
  const token = 'super-secret-token-value';
  assert.equal(registry.join(first, 'r', 'p', token), { ok: true, kind: 'joined' });
  const dump = inspect(registry, { depth: Infinity, showHidden: true, maxArrayLength: Infinity, maxStringLength: Infinity });
  assert.not.ok(dump.includes(token), 'token visible in the registry');
  const spacedHex = Buffer.from(token).toString('hex').match(/../g)!.join(' ');
  assert.not.ok(dump.includes(spacedHex), 'token bytes visible in the registry');
  assert.equal(registry.join(second, 'r', 'p', token), { ok: true, kind: 'takeover', displaced: first });
  assert.is(registry.holder('r', 'p'), second);
  assert.is(registry.peerIdOf(first, 'r'), undefined);
});

test(`room and peer ids: non-empty strings of at most ${MAX_ID_LENGTH} characters`, async () => {
  const server = await start();
  const a = await connect(server);
  const long = 'i'.repeat(MAX_ID_LENGTH);
  assert.equal(await ack(a, 'join', { room: long, peerId: long }), { ok: true });
  for (const payload of [
    { room: long + 'x', peerId: 'p' }, { room: 'r', peerId: long + 'x' }, { room: '', peerId: 'p' },
    { room: 'r', peerId: '' }, { room: 1, peerId: 'p' }, { room: 'r', peerId: ['p'] }, { room: 'r' },
  ]) {
    const result = await ack(a, 'join', payload);
    assert.is(result.ok, false, `accepted ${inspect(payload)}`);
    assertError((result as { error: SignalingErrorMessage }).error, { code: P2PErrorCode.PROTOCOL, event: 'join' });
  }
  assert.equal(server.stats().peers, 1);
  // From a member with well-formed ids otherwise, so only the shape can be at fault.
  for (const payload of [
    { from: long, to: long, room: long }, { from: long, to: long + 'x', room: long, signal: 1 },
    { from: long, to: '', room: long, signal: 1 }, { from: long, to: 7, room: long, signal: 1 }, [long, long, long, 1],
  ]) {
    const result = await ack(a, 'signal', payload);
    assert.is(result.ok, false, `accepted ${inspect(payload).slice(0, 80)}`);
    assertError((result as { error: SignalingErrorMessage }).error, { code: P2PErrorCode.PROTOCOL, event: 'signal' });
  }
  assert.equal(await ack(a, 'signal', { from: long, to: long, room: long, signal: null }), { ok: true }, 'signal to oneself');
});

// ---------------------------------------------------------------------------------------------
// relaying rules

test('signals: no spoofed from, no relay across rooms, unknown target is an error', async () => {
  const server = await start();
  const [a, b, c, d] = await Promise.all([connect(server), connect(server), connect(server), connect(server)]);
  await join(a, 'r', 'a');
  await join(b, 'r', 'b');
  await join(c, 'r', 'c');
  await join(d, 'r2', 'd');
  const bSignals = collect(b, 'signal');
  const cases: Array<[ClientSocket, object, P2PErrorCode]> = [
    [c, { from: 'a', to: 'b', room: 'r', signal: 'spoofed' }, P2PErrorCode.PROTOCOL],
    [d, { from: 'd', to: 'b', room: 'r', signal: 'not a member' }, P2PErrorCode.PROTOCOL],
    [d, { from: 'd', to: 'b', room: 'r2', signal: 'b is in r, not r2' }, P2PErrorCode.PEER_NOT_CONNECTED],
    [a, { from: 'a', to: 'd', room: 'r', signal: 'd is in r2' }, P2PErrorCode.PEER_NOT_CONNECTED],
    [a, { from: 'a', to: 'nobody', room: 'r', signal: 'unknown' }, P2PErrorCode.PEER_NOT_CONNECTED],
  ];
  for (const [sender, message, code] of cases) {
    const error = nextError(sender, `error for ${inspect(message)}`);
    sender.emit('signal', message);
    assertError(await error, { code, event: 'signal' });
  }
  await expectSilence(b, 'signal', SILENCE_MS, 'b must receive none of the refused signals');
  assert.equal(bSignals, [], 'b received a refused signal');
});

test('payload size: a signal message over maxPayloadBytes is refused, a frame far over it drops the socket', async () => {
  const server = await start({ maxPayloadBytes: 1024 });
  const [a, b] = await Promise.all([connect(server), connect(server)]);
  await join(a, 'r', 'a');
  await join(b, 'r', 'b');
  const sized = (bytes: number) => {
    const message = { from: 'a', to: 'b', room: 'r', signal: '' };
    message.signal = 'x'.repeat(bytes - Buffer.byteLength(JSON.stringify(message)));
    return message;
  };
  const atLimit = sized(1024);
  const relayed = waitFor(b, 'signal', WAIT_MS, 'b: signal of exactly maxPayloadBytes');
  a.emit('signal', atLimit);
  assert.equal((await relayed)[0], atLimit);

  const bSilent = expectSilence(b, 'signal', SILENCE_MS, 'oversize signal is not relayed');
  const tooLarge = nextError(a, 'a: ERR_PAYLOAD_TOO_LARGE', P2PErrorCode.PAYLOAD_TOO_LARGE);
  a.emit('signal', sized(1025));
  assertError(await tooLarge, { event: 'signal', peerId: 'b' });
  await bSilent;

  const dropped = waitFor(a, 'disconnect', WAIT_MS, 'a: dropped for a frame over maxHttpBufferSize');
  const gone = waitFor(b, 'joined', WAIT_MS, 'b: a removed', (ids: string[]) => !ids.includes('a'));
  a.emit('signal', sized(64 * 1024));
  await dropped;
  await gone;
  await assertRelays(server, 'after-oversize');
});

test('limits: rooms per socket and peers per room give ERR_LIMIT_EXCEEDED', async () => {
  const server = await start({ maxRoomsPerSocket: 2, maxPeersPerRoom: 2 });
  const [a, b, c] = await Promise.all([connect(server), connect(server), connect(server)]);
  assert.equal(await ack(a, 'join', { room: 'r1', peerId: 'a' }), { ok: true });
  assert.equal(await ack(a, 'join', { room: 'r2', peerId: 'a' }), { ok: true });
  const third = await ack(a, 'join', { room: 'r3', peerId: 'a' });
  assertError((third as { error: SignalingErrorMessage }).error, { code: P2PErrorCode.LIMIT_EXCEEDED, event: 'join', room: 'r3' });
  assert.equal(await ack(a, 'leave', { room: 'r1' }), { ok: true });
  assert.equal(await ack(a, 'join', { room: 'r3', peerId: 'a' }), { ok: true }, 'a freed slot can be used');

  assert.equal(await ack(b, 'join', { room: 'r2', peerId: 'b' }), { ok: true });
  const full = nextError(c, 'c: room full', P2PErrorCode.LIMIT_EXCEEDED);
  c.emit('join', { room: 'r2', peerId: 'c' });
  assertError(await full, { event: 'join', room: 'r2' });
  assert.equal(server.stats(), { sockets: 3, rooms: 2, peers: 3 });
});

test('rate limit: over-rate messages are dropped with ERR_LIMIT_EXCEEDED, sustained abuse disconnects', async () => {
  const server = await start({ messagesPerSecond: 1, messageBurst: 5, maxDroppedMessages: 3 });
  const [a, b] = await Promise.all([connect(server), connect(server)]);
  await join(a, 'r', 'a');
  await join(b, 'r', 'b');
  const relayed = collect(b, 'signal');
  // Burst 5 minus the join leaves 4 tokens; the refill (1/s) adds a negligible fraction meanwhile.
  for (let i = 0; i < 4; i += 1) {
    assert.equal(await ack(a, 'signal', { from: 'a', to: 'b', room: 'r', signal: i }), { ok: true }, `signal ${i}`);
  }
  await until(() => relayed.length === 4, 'b receives the 4 signals within the burst');
  const limited = await ack(a, 'signal', { from: 'a', to: 'b', room: 'r', signal: 'over' });
  assertError((limited as { error: SignalingErrorMessage }).error, { code: P2PErrorCode.LIMIT_EXCEEDED, event: 'signal' });

  const errors = collect(a, 'error');
  const disconnected = waitFor(a, 'disconnect', WAIT_MS, 'a: disconnected for sustained abuse');
  const aRemoved = waitFor(b, 'joined', WAIT_MS, 'b: a removed after its disconnect', (ids: string[]) => !ids.includes('a'));
  for (let i = 0; i < 20; i += 1) a.emit('signal', { from: 'a', to: 'b', room: 'r', signal: i });
  assert.is((await disconnected)[0], 'io server disconnect');
  await aRemoved;
  // One drop above plus 3 here exceed maxDroppedMessages (3); messages still queued are discarded.
  assert.ok(errors.length >= 2, `only ${errors.length} rate errors`);
  for (const [error] of errors) assertError(error, { code: P2PErrorCode.LIMIT_EXCEEDED, event: 'signal' });
  assert.is(relayed.length, 4, 'nothing of the flood was relayed');
  assert.ok(b.connected, 'the well-behaved peer stays');
});

test('rate limiter: refills over time and forgives drops after a quiet period', () => {
  let now = 0;
  const limiter = new MessageRateLimiter({ messagesPerSecond: 10, messageBurst: 3, maxDroppedMessages: 2, now: () => now });
  assert.equal([limiter.take(), limiter.take(), limiter.take(), limiter.take()], ['accept', 'accept', 'accept', 'drop']);
  now += 100; // one token at 10 per second
  assert.equal([limiter.take(), limiter.take()], ['accept', 'drop']);
  now += DROP_FORGIVE_MS + 1;
  assert.equal([limiter.take(), limiter.take(), limiter.take()], ['accept', 'accept', 'accept'], 'bucket full again');
  assert.equal([limiter.take(), limiter.take(), limiter.take()], ['drop', 'drop', 'disconnect'], 'count restarted');
});

// ---------------------------------------------------------------------------------------------
// hostile clients

test('hostile batch: hundreds of malformed emits, then the server still relays', async () => {
  const server = await start({ messagesPerSecond: 100_000 });
  const hostile = await connect(server);
  await join(hostile, 'hostile-room', 'h');
  const huge = 'h'.repeat(60 * 1024);
  const values: unknown[] = [
    undefined, null, true, false, 0, -1, 1e308, Number.NaN, '', 'x', huge, [], [1, 2], [{ room: 'r', peerId: 'p' }],
    {}, { room: 1 }, { room: '', peerId: '' }, { room: 'r', peerId: 5 }, { room: {}, peerId: [] },
    { room: 'r'.repeat(MAX_ID_LENGTH + 1), peerId: 'p' }, { room: huge, peerId: huge }, { room: 'r', peerId: 'p', token: 5 },
    { room: 'r', peerId: 'p', token: '' }, { room: 'r', peerId: 'p', token: 't'.repeat(5000) },
    { from: 'x', to: 'y', room: 'z' }, { from: 1, to: 'y', room: 'z', signal: 1 }, { from: 'x', to: null, room: 'z', signal: 1 },
    { constructor: 'x', __proto__: { room: 'r', peerId: 'p' } }, JSON.parse('{"__proto__": {"room": "r", "peerId": "p"}}'),
    { toString: 'r', valueOf: 'p' }, new Uint8Array([1, 2, 3]), { room: new Uint8Array([1]), peerId: 'p' },
    JSON.parse('['.repeat(200) + ']'.repeat(200)),
  ];
  const shapes: Array<[string, unknown]> = [];
  const isRoomId = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= MAX_ID_LENGTH;
  for (const value of values) shapes.push(['join', value]);
  // A leave naming a well-formed room is valid (a no-op), so it is not part of the batch.
  for (const value of values) if (!isRoomId((value as { room?: unknown } | null)?.room)) shapes.push(['leave', value]);
  for (const value of values) shapes.push(['signal', value]);
  for (const event of ['error', 'joined', 'foo', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'x'.repeat(5000)]) {
    shapes.push([event, { room: 'r', peerId: 'p' }]);
  }
  // Spoofed `from` and unknown `to`, from a socket that is a member of some room.
  for (let i = 0; i < 30; i += 1) {
    shapes.push(['signal', { from: 'good-a', to: 'good-b', room: 'good', signal: i }]);
    shapes.push(['signal', { from: 'not-h', to: 'h', room: 'hostile-room', signal: i }]);
    shapes.push(['signal', { from: 'h', to: `nobody-${i}`, room: 'hostile-room', signal: i }]);
  }

  // Without acks: exactly one error event per bad emit.
  const errors = collect(hostile, 'error');
  for (const [event, value] of shapes) hostile.emit(event, value);
  await until(() => errors.length >= shapes.length, `one error per bad emit (${errors.length}/${shapes.length})`);
  // With acks: every one is answered { ok: false } with a known code.
  for (const [event, value] of shapes.slice(0, 120)) {
    const result = await ack(hostile, event, value);
    assert.is(result.ok, false, `${event} ${inspect(value, { depth: 1 }).slice(0, 80)} accepted`);
  }
  // A join flood past the per-socket room limit.
  const flood = await Promise.all(Array.from({ length: 40 }, (_, i) => ack(hostile, 'join', { room: `flood-${i}`, peerId: 'h' })));
  assert.is(flood.filter((r) => r.ok).length, 31, 'room limit (32, one already used) held under a flood');
  for (const [error] of errors) assert.ok(ERROR_CODES.has(error.code) && typeof error.message === 'string', inspect(error));
  assert.is(errors.length, shapes.length, 'no error event for acked messages');
  assert.ok(hostile.connected, 'malformed messages alone do not cost the connection');
  assert.equal(server.stats(), { sockets: 1, rooms: 32, peers: 32 });

  await assertRelays(server, 'good');
});

test('raw WebSocket: garbage engine.io/socket.io frames never take the server down', async () => {
  const server = await start({ maxPayloadBytes: 1024 });
  // Frames the server must answer by dropping the connection.
  const fatal: Array<string | Buffer> = [
    'hello', '9', '42[', '42{"a":1}', '42[1,2', '42"join"', '4x', '49', '42["connect"]', '42["disconnecting",1]',
    '451-["signal",{"_placeholder":true,"num":0}]x', Buffer.from([0, 1, 2, 255]), '42' + JSON.stringify(['signal', 'x'.repeat(32 * 1024)]),
  ];
  await Promise.all(
    fatal.map(async (frame) => {
      const ws = await rawConnect(server);
      const closed = waitFor(ws, 'close', WAIT_MS, `server dropping the connection after ${inspect(String(frame).slice(0, 40))}`);
      ws.send(frame);
      await closed;
    }),
  );
  // Frames that are odd but legal, or leave the parser waiting: the connection may stay.
  const odd = ['2', '3', '4', '5', '6', '40', '41', '43', '46', '42[]', '42[null]', '42[1,2,3]', '42["join"]', '42["signal",null]',
    '451-["signal",{"_placeholder":true,"num":0}]', '42["join",{"room":"r","peerId":"p"},1,2,3]',
    '42' + JSON.stringify(['join', { room: 'r'.repeat(2000), peerId: 'p' }])];
  const survivors = await Promise.all(odd.map(async (frame) => {
    const ws = await rawConnect(server);
    ws.send(frame);
    return ws;
  }));
  await assertRelays(server, 'after-garbage');
  for (const ws of survivors) ws.terminate();
  await until(() => server.stats().sockets === 2, 'raw sockets forgotten after they closed');
  assert.equal(server.stats(), { sockets: 2, rooms: 1, peers: 2 });
});

test.run();
