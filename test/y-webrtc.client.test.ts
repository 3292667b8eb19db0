/**
 * The y-webrtc handler beyond the shared suite: what the signaling server (or anyone
 * subscribed to the room's hashed topic) can read, peers with another secret, options, and a
 * server restart under live links.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { Y_WEBRTC_SEAL_SCHEME, getConnectionHandlerYWebrtc } from '../handlers/y-webrtc/client.js';
import { P2PErrorCode, type P2PError } from '../src/errors.js';
import type { WebRTCMeshHandler } from '../src/mesh/mesh.js';
import { SealedRoom } from '../src/room-seal.js';
import { exchange } from './helpers/hostile-checks.js';
import { next } from './helpers/wait.js';
import { startYWebrtcServer, type YWebrtcServer } from './fixtures/y-webrtc-target.js';

const FAST = { config: { iceServers: [] }, heartbeatIntervalMs: 500, peerTimeoutMs: 3_000, reconnectMinDelayMs: 50, reconnectMaxDelayMs: 500 };
const handlers: WebRTCMeshHandler[] = [];
const servers: YWebrtcServer[] = [];
const sockets: WebSocket[] = [];

async function server(port?: number): Promise<YWebrtcServer> {
  const started = await startYWebrtcServer(port);
  servers.push(started);
  return started;
}

async function open(url: string, topic: string, extra: Record<string, unknown> = {}): Promise<WebRTCMeshHandler> {
  const handler = await getConnectionHandlerYWebrtc({ signaling: url, ...FAST, ...extra })({ topic });
  handlers.push(handler);
  return handler;
}

/** A raw subscriber of the room's topic on the server: everything the server relays for that room. */
async function observer(url: string, roomName: string): Promise<string[]> {
  const socket = new WebSocket(url);
  sockets.push(socket);
  const heard: string[] = [];
  socket.on('message', (data) => heard.push(String(data)));
  await new Promise((resolve, reject) => (socket.once('open', resolve), socket.once('error', reject)));
  socket.send(JSON.stringify({ type: 'subscribe', topics: [roomName] }));
  return heard;
}

test.after.each(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  await Promise.allSettled(handlers.splice(0).map((handler) => handler.close()));
  await Promise.allSettled(servers.splice(0).map((each) => each.close()));
});

test('the server and anyone on the room topic read no topic, peer id, SDP or address', async () => {
  const signaling = await server();
  const topic = 'y-webrtc-private-topic';
  const room = await SealedRoom.derive(Y_WEBRTC_SEAL_SCHEME, topic, '');
  const heard = await observer(signaling.url, room.name);
  const a = await open(signaling.url, topic, { peerId: 'alice-peer-id' });
  const linked = next(a.connect$, 'A connect$', 20_000);
  const b = await open(signaling.url, topic, { peerId: 'bob-peer-id' });
  const onA = await linked;
  await exchange(a, onA, b, 'A→B');
  const traffic = heard.join('\n');
  assert.ok(heard.length >= 4, `the observer heard ${heard.length} messages`);
  for (const secret of [topic, 'alice-peer-id', 'bob-peer-id', 'candidate', 'sdp', '127.0.0.1', 'fingerprint']) {
    assert.not.ok(traffic.includes(secret), `the room's traffic shows "${secret}"`);
  }
});

test('a peer with another secret never connects and is reported once as ERR_UNAUTHORIZED', async () => {
  const signaling = await server();
  const a = await open(signaling.url, 'y-webrtc-secret-topic', { secret: 'right' });
  const refused = next(a.error$, 'ERR_UNAUTHORIZED on A', 15_000, (error: P2PError) => error.code === P2PErrorCode.UNAUTHORIZED);
  const connects: unknown[] = [];
  a.connect$.subscribe((peer) => connects.push(peer));
  const intruder = await open(signaling.url, 'y-webrtc-secret-topic', { secret: 'wrong' });
  intruder.connect$.subscribe((peer) => connects.push(peer));
  await refused;
  // An honest peer arriving after the intruder connects: the intruder's traffic has been seen by then.
  const honest = next(a.connect$, 'A connect$ of the honest peer', 20_000);
  await open(signaling.url, 'y-webrtc-secret-topic', { secret: 'right' });
  await honest;
  assert.is(connects.length, 1, 'the intruder connected');
});

test('links survive a signaling server restart, and a newcomer gets in afterwards', async () => {
  const first = await server();
  const a = await open(first.url, 'y-webrtc-restart-topic');
  const linked = next(a.connect$, 'A connect$ of B', 20_000);
  const b = await open(first.url, 'y-webrtc-restart-topic');
  const onA = await linked;
  const lost = next(a.error$, 'A hears the server is gone', 15_000, (error: P2PError) => error.code === P2PErrorCode.SIGNALING);
  await first.close();
  await lost;
  await server(first.port);
  const newcomer = next(a.connect$, 'A connect$ of the newcomer', 30_000);
  const c = await open(first.url, 'y-webrtc-restart-topic');
  const onAc = await newcomer;
  await exchange(a, onA, b, 'A→B after the restart');
  await exchange(a, onAc, c, 'A→C, the newcomer');
});

test('bad options are refused with ERR_INVALID_OPTION', () => {
  for (const options of [{}, { signaling: [] }, { signaling: 'http://x' }, { signaling: ['ws://a', 'ws://a'] }, { signaling: 'ws://a', secret: 1 }, { signaling: 'ws://a', announceIntervalMs: 10 }, { signaling: 'ws://a', WebSocket: 'no' }]) {
    assert.throws(() => getConnectionHandlerYWebrtc(options as never), (error: P2PError) => error.code === P2PErrorCode.INVALID_OPTION, JSON.stringify(options));
  }
});

test.run();
