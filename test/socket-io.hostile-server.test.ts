/**
 * Hostile input against our socket.io signaling server: a seeded corpus (test/helpers/
 * hostile-corpus.ts) of wrong types, missing fields, unknown events, spoofed and held ids,
 * oversize payloads, join and signal floods through a real socket.io client; raw engine.io
 * frames and non-JSON over a raw WebSocket; and half-open sockets. The server must not crash
 * and must keep answering, a well-behaved WebRTC pair in another room must pair and talk
 * before, during and after, every answer must be a typed error (or ok), floods and oversize
 * frames must cost the attacker its socket, and the heap must come back near its baseline.
 * Then the same against two servers sharing their rooms through Redis (redis-server child).
 */
import { connect as netConnect, type Socket as NetSocket } from 'node:net';
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { getConnectionHandlerSocketIo } from '../handlers/socket-io/client.js';
import { startSocketIoSignalingServer, type SocketIoSignalingServer } from '../handlers/socket-io/server/index.js';
import { P2PErrorCode } from '../src/errors.js';
import type { WebRTCMeshHandler } from '../src/mesh/mesh.js';
import { countKinds, socketIoCorpus, wsClientFrame, type SocketIoAttack, type SocketIoSession } from './helpers/hostile-corpus.js';
import { DEFAULT_SEED } from './helpers/hostile-frames.js';
import { closeWithin, exchange, mib, settleHeap, settledMemory, watchEscapes, wellBehavedPair } from './helpers/hostile-checks.js';
import { startRedis } from './fixtures/socket-io-redis-cluster.js';
import { until } from './helpers/wait.js';

/** Heap growth allowed once every hostile connection is gone. */
const HEAP_BOUND_BYTES = 5 * 1024 * 1024;
const MIN_MESSAGES = 10_000;
const PARALLEL = 12;
const ACK_MS = 10_000;
const ERROR_CODES = new Set<unknown>(Object.values(P2PErrorCode));
/** The server's defaults, which the corpus is sized against. */
const LIMITS = { maxPayloadBytes: 64 * 1024, messageBurst: 400, maxDroppedMessages: 100, maxRoomsPerSocket: 32 };

const handlers: WebRTCMeshHandler[] = [];
const held: Array<{ destroy(): void }> = [];

interface Tally {
  sent: number;
  ok: number;
  /** Typed refusals by code. */
  codes: Record<string, number>;
  /** Answers that were neither ok nor a typed error. */
  untyped: unknown[];
  /** Acks that never came although the socket stayed connected. */
  unanswered: number;
  /** Sessions the server cut off, by kind. */
  cut: Record<string, number>;
}

function isTypedError(value: unknown): boolean {
  const error = value as { code?: unknown; message?: unknown } | null;
  return typeof error === 'object' && error !== null && ERROR_CODES.has(error.code) && typeof error.message === 'string';
}

function record(tally: Tally, reply: unknown): void {
  const answer = reply as { ok?: unknown; error?: unknown } | null;
  if (answer?.ok === true) tally.ok++;
  else if (answer?.ok === false && isTypedError(answer.error)) {
    const code = (answer.error as { code: string }).code;
    tally.codes[code] = (tally.codes[code] ?? 0) + 1;
  } else tally.untyped.push(reply);
}

/** Through socket.io-client: every event with an ack; counts answers and whether the server cut us. */
async function playClient(server: SocketIoSignalingServer, session: SocketIoSession, tally: Tally): Promise<void> {
  const socket: ClientSocket = ioClient(server.url, { transports: ['websocket'], reconnection: false, forceNew: true });
  let cutReason: string | undefined;
  socket.on('disconnect', (reason) => (cutReason = reason));
  socket.on('error', (payload: unknown) => (isTypedError(payload) ? undefined : tally.untyped.push(payload)));
  const connected = await new Promise<boolean>((resolve) => {
    socket.once('connect', () => resolve(true));
    socket.once('connect_error', () => resolve(false));
  });
  assert.ok(connected, `${session.kind}: the server refused a plain connection`);
  // Floods go out at once; everything else waits for each answer, so a later message that
  // costs the socket (an oversize frame) cannot swallow the answer to an earlier one.
  const flood = session.kind.endsWith('-flood');
  const answers: Promise<void>[] = [];
  for (const attack of session.messages as Array<Extract<SocketIoAttack, { event: string }>>) {
    if (!socket.connected) break;
    tally.sent++;
    const answered = socket
      .timeout(ACK_MS)
      .emitWithAck(attack.event, ...attack.args)
      .then((reply) => record(tally, reply), () => {
        if (socket.connected) tally.unanswered++;
      });
    if (flood) answers.push(answered);
    else await answered;
  }
  await Promise.all(answers);
  if (cutReason !== undefined) tally.cut[session.kind] = (tally.cut[session.kind] ?? 0) + 1;
  socket.disconnect();
}

/** Over a raw WebSocket speaking engine.io frames; checks that any error it gets back is typed. */
async function playEngine(server: SocketIoSignalingServer, session: SocketIoSession, tally: Tally): Promise<void> {
  const socket = new WebSocket(`${server.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('message', (data, binary) => {
    const text = binary ? '' : data.toString();
    if (!text.startsWith('42["error",')) return;
    const payload = JSON.parse(text.slice(2))[1];
    if (!isTypedError(payload)) tally.untyped.push(payload);
  });
  const opened = await new Promise<boolean>((resolve) => {
    socket.once('message', () => resolve(true)); // engine.io's open packet
    socket.once('close', () => resolve(false));
  });
  assert.ok(opened, `${session.kind}: no engine.io open packet`);
  for (const attack of session.messages as Array<Extract<SocketIoAttack, { frame: string | Buffer }>>) {
    if (socket.readyState !== WebSocket.OPEN) {
      tally.cut[session.kind] = (tally.cut[session.kind] ?? 0) + 1;
      break;
    }
    tally.sent++;
    socket.send(attack.frame);
  }
  await closeWithin(closed, () => socket.close(), () => socket.terminate(), 5_000);
}

/** A raw TCP socket that stops mid-upgrade, or upgrades and stops in the middle of its last frame. */
async function playHalfOpen(server: SocketIoSignalingServer, session: SocketIoSession, tally: Tally): Promise<void> {
  const socket: NetSocket = netConnect(server.port, '127.0.0.1');
  socket.on('error', () => {});
  held.push(socket);
  await new Promise<void>((resolve) => (socket.once('connect', () => resolve()), socket.once('close', () => resolve())));
  const key = Buffer.alloc(16, 7).toString('base64');
  const request = `GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  const frames = (session.messages as Array<{ frame: string }>).map((attack) => attack.frame);
  if (frames.length === 0) return void socket.write(request.slice(0, request.length >> 1));
  const upgraded = new Promise<boolean>((resolve) => {
    socket.once('data', (data) => resolve(data.toString('latin1').startsWith('HTTP/1.1 101')));
    socket.once('close', () => resolve(false));
  });
  socket.write(request);
  assert.ok(await upgraded, 'half-open: the upgrade was refused');
  frames.forEach((text, i) => {
    const frame = wsClientFrame(text);
    tally.sent++;
    socket.write(i === frames.length - 1 ? frame.subarray(0, Math.max(2, frame.length >> 1)) : frame);
  });
}

/**
 * Plays the corpus against `servers` (one, or several processes of one service: attackers
 * spread over them, and the two peers of each calm pair sit on different ones).
 */
async function hostileRun(name: string, servers: SocketIoSignalingServer[], minMessages: number): Promise<void> {
  const escapes = watchEscapes();
  let ids = 0;
  const open = async (room: string) => {
    const url = servers[ids % servers.length]!.url;
    const handler = await getConnectionHandlerSocketIo({ url, config: { iceServers: [] }, peerId: `${room}-${++ids}` })({ topic: room });
    handlers.push(handler);
    return handler;
  };
  try {
    // Warm-up (loads WebRTC, the client and the server's code paths), then the baseline.
    const warm = await wellBehavedPair(open, 'warm-up-room', 'warm-up pair');
    await Promise.all([warm.a.close(), warm.b.close()]);
    await until(() => servers.every((each) => each.stats().sockets === 0), 'the warm-up sockets are gone');
    const baseline = settledMemory();

    const before = await wellBehavedPair(open, 'calm-room-before', 'pair made before the corpus');
    const known = [before.a, before.b].map((handler) => ({ room: 'calm-room-before', peerId: handler.peerId }));
    // Dropped before the heap is measured: the corpus itself is megabytes of strings.
    let sessions: SocketIoSession[] | undefined = socketIoCorpus({ seed: DEFAULT_SEED, minMessages, known, ...LIMITS });
    const kinds = countKinds(sessions);
    const total = Object.values(kinds).reduce((sum, n) => sum + n, 0);
    const count = (kind: string) => sessions!.filter((session) => session.kind === kind).length;
    const [floods, oversize] = [count('signal-flood'), count('oversize')];
    assert.ok(total >= minMessages, `corpus of ${total} messages`);

    const tally: Tally = { sent: 0, ok: 0, codes: {}, untyped: [], unanswered: 0, cut: {} };
    const started = Date.now();
    let during: Promise<unknown> | undefined;
    let index = 0;
    const worker = async () => {
      while (index < sessions!.length) {
        const i = index++;
        if (i === sessions!.length >> 1) during = wellBehavedPair(open, 'calm-room-during', 'pair made during the corpus');
        const session = sessions![i]!;
        const play = session.via === 'client' ? playClient : session.via === 'engine' ? playEngine : playHalfOpen;
        await play(servers[i % servers.length]!, session, tally);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    await during;
    const corpusMs = Date.now() - started;
    const sessionCount = sessions.length;
    sessions = undefined;

    // While the half-open sockets still hang: the server answers, the old pair talks, a new pair meets.
    const probe = ioClient(servers[servers.length - 1]!.url, { transports: ['websocket'], reconnection: false, forceNew: true });
    try {
      assert.equal(await probe.timeout(ACK_MS).emitWithAck('join', { room: 'probe-room', peerId: 'probe' }), { ok: true });
    } finally {
      probe.disconnect();
    }
    await wellBehavedPair(open, 'calm-room-after', 'pair made after the corpus');
    await exchange(before.a, before.onA, before.b, 'the pair made before the corpus, after it');

    console.log(
      `hostile socket.io (${name}): seed ${DEFAULT_SEED}, ${total} messages in ${sessionCount} sessions (${JSON.stringify(kinds)}), ` +
        `${tally.sent} sent in ${corpusMs} ms; answers: ${tally.ok} ok, ${JSON.stringify(tally.codes)}; sessions cut: ${JSON.stringify(tally.cut)}`,
    );
    assert.equal(tally.untyped, [], 'every answer is ok or a typed error');
    assert.is(tally.unanswered, 0, 'acks that never came on a live socket');
    assert.ok((tally.codes[P2PErrorCode.PROTOCOL] ?? 0) > 1000, 'malformed messages get ERR_PROTOCOL');
    for (const code of [P2PErrorCode.ID_TAKEN, P2PErrorCode.PEER_NOT_CONNECTED, P2PErrorCode.LIMIT_EXCEEDED, P2PErrorCode.PAYLOAD_TOO_LARGE]) {
      assert.ok((tally.codes[code] ?? 0) > 0, `some answers are ${code}`);
    }
    assert.is(tally.cut['signal-flood'], floods, 'every signal flood is disconnected');
    assert.is(tally.cut.oversize, oversize, 'every grossly oversize frame costs its socket');

    for (const socket of held.splice(0)) socket.destroy();
    await Promise.all(handlers.splice(0).map((handler) => handler.close()));
    await until(() => servers.every((each) => each.stats().sockets === 0), 'every socket is gone', 15_000);
    for (const each of servers) assert.equal(each.stats(), { sockets: 0, rooms: 0, peers: 0 }, 'no room or peer id left behind');
    const after = await settleHeap(baseline.heapUsed, HEAP_BOUND_BYTES);
    const growth = after.heapUsed - baseline.heapUsed;
    console.log(
      `hostile socket.io (${name}): heap ${mib(baseline.heapUsed)} → ${mib(after.heapUsed)} (growth ${(growth / 1024 / 1024).toFixed(2)} MiB, bound ${mib(HEAP_BOUND_BYTES)}), ` +
        `arrayBuffers ${mib(baseline.arrayBuffers)} → ${mib(after.arrayBuffers)}`,
    );
    assert.ok(growth < HEAP_BOUND_BYTES, `heap grew by ${mib(growth)}`);
    assert.equal(escapes.escaped, [], 'an error escaped as an unhandled rejection or exception');
  } finally {
    escapes.stop();
    for (const socket of held.splice(0)) socket.destroy();
    await Promise.allSettled(handlers.splice(0).map((handler) => handler.close()));
  }
}

test('a seeded corpus of hostile socket.io input: no crash, other rooms pair during and after, typed errors, heap back near baseline', async () => {
  const server = await startSocketIoSignalingServer();
  try {
    await hostileRun('one process', [server], MIN_MESSAGES);
  } finally {
    await server.close();
  }
});

test('the same corpus against two servers sharing rooms through Redis', async () => {
  const redis = await startRedis();
  const servers: SocketIoSignalingServer[] = [];
  try {
    for (let i = 0; i < 2; i++) servers.push(await startSocketIoSignalingServer({ redis: redis.url }));
    await hostileRun('two servers on Redis', servers, MIN_MESSAGES);
  } finally {
    await Promise.allSettled(servers.map((server) => server.close()));
    await redis.stop();
  }
});

test.run();
