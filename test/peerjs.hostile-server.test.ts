/**
 * Hostile input against the PeerServer we start (`startPeerServer`, a child process): a
 * seeded corpus of PeerServer messages (not JSON, wrong types, missing fields, spoofed `src`,
 * messages to ids never online, signal floods at real peers and at ghosts, oversize messages,
 * refused and taken ids, half-open sockets and handshakes). The server must stay up, our
 * handlers in another room must pair through it during and after (while the junk aimed at
 * them is typed errors), and the child's heap must come back near its baseline.
 */
import type { Socket } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { getConnectionHandlerPeerJS } from '../handlers/peerjs/client.js';
import { memberId, roomKeyOf } from '../handlers/peerjs/protocol.js';
import { startPeerServer, type RunningPeerServer } from '../handlers/peerjs/server.js';
import type { WebRTCMeshHandler } from '../src/mesh/mesh.js';
import { CorpusRun, DEFAULT_SEED, Rng, peerJsCorpus } from './helpers/hostile-frames.js';
import { driveCorpus, exchange, halfOpenWebSocket, mib, playOverWebSocket, watchEscapes, wellBehavedPair, within } from './helpers/hostile-checks.js';

/** Heap growth of the server process allowed once every hostile socket is gone and queued messages expired. */
const HEAP_BOUND_BYTES = 4 * 1024 * 1024;
const MIN_MESSAGES = 10_000;
const PARALLEL = 16;

const handlers: WebRTCMeshHandler[] = [];
const held: Socket[] = [];

async function open(server: RunningPeerServer, room: string): Promise<WebRTCMeshHandler> {
  const handler = await getConnectionHandlerPeerJS({ ...server.clientOptions, config: { iceServers: [] }, heartbeatIntervalMs: 1_000, peerTimeoutMs: 5_000 })({ topic: room });
  handlers.push(handler);
  return handler;
}

/** The socket URL for `id`; the key and id are sometimes wrong on purpose. */
function socketUrl(server: RunningPeerServer, rng: Rng, id: string, takenIds: readonly string[]): string {
  const spoiled = rng.int(20);
  const query = new URLSearchParams({
    key: spoiled === 0 ? 'wrong-key' : server.key,
    id: spoiled === 1 ? 'bad id!!' : spoiled === 2 && takenIds.length ? rng.pick(takenIds) : id,
    token: `t${rng.int(1_000)}`,
  });
  return `ws://${server.host}:${server.port}${server.path}peerjs?${query}`;
}

test('a seeded corpus of hostile PeerServer messages: no crash, our rooms pair during and after, server heap back near baseline', async () => {
  const escapes = watchEscapes();
  const server = await startPeerServer();
  try {
    const warm = await wellBehavedPair((room) => open(server, room), 'warm-up-room', 'warm-up pair');
    await Promise.all([warm.a.close(), warm.b.close()]);
    const baseline = await server.memoryUsage();

    const before = await wellBehavedPair((room) => open(server, room), 'calm-room-before', 'pair made before the corpus');
    const roomKey = await roomKeyOf('calm-room-before');
    // Real members and slots of the calm room, and hostile sockets: spoofing and flooding targets.
    const knownIds = [memberId(roomKey, before.a.peerId), memberId(roomKey, before.b.peerId), `${roomKey}-0`, `${roomKey}-1`, ...Array.from({ length: 8 }, (_, i) => `hostile${i}`)];
    const errorsOnA: string[] = [];
    before.a.error$.subscribe((error) => errorsOnA.push(error.code));
    const corpus = new CorpusRun(peerJsCorpus(DEFAULT_SEED, MIN_MESSAGES, knownIds));
    const rng = new Rng(DEFAULT_SEED + 1);
    for (let i = 0; i < 20; i++) held.push(await halfOpenWebSocket(socketUrl(server, rng, `handshake${i}`, []), [], true));
    const corpusMs = await driveCorpus(corpus, {
      parallel: PARALLEL,
      minMessages: MIN_MESSAGES,
      play: (session) => playOverWebSocket(socketUrl(server, rng, `hostile${corpus.sessions % 64}`, knownIds), session, held),
      during: () => wellBehavedPair((room) => open(server, room), 'calm-room-during', 'pair made during the corpus'),
    });
    const peak = await server.memoryUsage();

    await wellBehavedPair((room) => open(server, room), 'calm-room-after', 'pair made after the corpus');
    await exchange(before.a, before.onA, before.b, 'the pair made before the corpus, after it');
    assert.ok(errorsOnA.length > 0, 'the junk relayed to a real member was reported on its error$');
    assert.ok(errorsOnA.every((code) => code.startsWith('ERR_')), `untyped errors: ${errorsOnA.join(', ')}`);

    for (const socket of held.splice(0)) socket.destroy();
    await Promise.all(handlers.splice(0).map((handler) => handler.close()));
    // Messages queued for ids never online expire after 5 s (expireTimeoutMs): sample until then.
    const deadline = Date.now() + 20_000;
    let after = await server.memoryUsage();
    while (after.heapUsed - baseline.heapUsed >= HEAP_BOUND_BYTES && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      after = await server.memoryUsage();
    }
    const growth = after.heapUsed - baseline.heapUsed;
    console.log(
      `hostile PeerServer: seed ${DEFAULT_SEED}, ${corpus.describe()}, ${corpusMs} ms; ${errorsOnA.length} typed errors on the targeted member; ` +
        `server heap ${mib(baseline.heapUsed)} → ${mib(peak.heapUsed)} at the end of the corpus → ${mib(after.heapUsed)} (growth ${mib(growth)}, bound ${mib(HEAP_BOUND_BYTES)}), ` +
        `server RSS ${mib(baseline.rss)} → ${mib(after.rss)}`,
    );
    assert.ok(growth < HEAP_BOUND_BYTES, `server heap grew by ${mib(growth)}`);
    assert.equal(escapes.escaped, [], 'an error escaped as an unhandled rejection or exception');
  } finally {
    escapes.stop();
    for (const socket of held.splice(0)) socket.destroy();
    await Promise.allSettled(handlers.splice(0).map((handler) => handler.close()));
    await server.close();
  }
});

test('a message over maxMessageBytes closes its socket (1009) instead of being buffered and relayed; the server keeps serving', async () => {
  const server = await startPeerServer({ maxMessageBytes: 64 * 1024 });
  try {
    const url = `ws://${server.host}:${server.port}${server.path}peerjs?key=${server.key}&id=big&token=t`;
    const socket = new WebSocket(url);
    socket.on('error', () => {});
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    await within(new Promise((resolve) => socket.once('open', resolve)), 5_000, 'the socket opening');
    socket.send(JSON.stringify({ type: 'OFFER', dst: 'someone', payload: 'x'.repeat(1024 * 1024) }));
    assert.is(await within(closed, 10_000, 'the server closing the oversize sender'), 1009);
    await wellBehavedPair((room) => open(server, room), 'after-oversize', 'pair after the oversize message');
  } finally {
    await Promise.allSettled(handlers.splice(0).map((handler) => handler.close()));
    await server.close();
  }
});

test.run();
