/**
 * The conformance suite against the socket.io handler over real WebRTC: on our hardened
 * server, and on the seed document's example server unchanged.
 */
import { runConformanceSuite } from '../src/conformance/index.js';
import { socketIoTarget } from './fixtures/socket-io-target.js';
import { startSeedSignalingServer } from './fixtures/seed-server.js';

runConformanceSuite(socketIoTarget());
runConformanceSuite(socketIoTarget("socket.io on the seed's example server", startSeedSignalingServer));

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { io } from 'socket.io-client';
import { getConnectionHandlerSocketIo, getPeerIdentity } from '../handlers/socket-io/client.js';
import { startSocketIoSignalingServer, type SocketIoSignalingServer } from '../handlers/socket-io/server/index.js';
import type { WebRTCMeshHandler } from '../src/mesh/mesh.js';
import { next } from './helpers/wait.js';

const sharing = suite('socket.io: one connection per peer');
const opened: WebRTCMeshHandler[] = [];
let server: SocketIoSignalingServer | undefined;
sharing.after.each(async () => {
  await Promise.allSettled(opened.splice(0).map((handler) => handler.close()));
  await server?.close();
});

sharing('3 peers × 3 collections: one socket and two WebRTC links per peer', async () => {
  server = await startSocketIoSignalingServer();
  const topics = ['todos-topic', 'notes-topic', 'users-topic'];
  const connected: Promise<unknown>[] = [];
  for (let p = 0; p < 3; p++) {
    const creator = getConnectionHandlerSocketIo({ url: server.url, config: { iceServers: [] } });
    for (const topic of topics) {
      const handler = await creator({ topic });
      opened.push(handler);
      connected.push(next(handler.connect$, `peer ${p} on ${topic}: first connect$`));
    }
  }
  await Promise.all(connected);
  assert.equal(server.stats(), { sockets: 3, rooms: 3, peers: 9 });
});

sharing("on the seed's example server (no room in `joined`) each room gets its own socket and still works", async () => {
  const seed = await startSeedSignalingServer();
  try {
    const connected: Promise<unknown>[] = [];
    for (let p = 0; p < 2; p++) {
      const creator = getConnectionHandlerSocketIo({ url: seed.url, config: { iceServers: [] } });
      for (const topic of ['todos-topic', 'notes-topic']) {
        const handler = await creator({ topic });
        opened.push(handler);
        connected.push(next(handler.connect$, `peer ${p} on ${topic}: first connect$`));
      }
    }
    await Promise.all(connected);
  } finally {
    await Promise.allSettled(opened.splice(0).map((handler) => handler.close()));
    await seed.close();
  }
});

sharing('the identity the server verified is on peer objects, and clients cannot forge it', async () => {
  const users: Record<string, string> = { 'alice-token': 'alice', 'bob-token': 'bob' };
  server = await startSocketIoSignalingServer({
    authenticate: (handshake) => {
      const user = users[String(handshake.auth?.token)];
      return user ? { user } : false;
    },
  });
  const as = (token: string) => getConnectionHandlerSocketIo({ url: server!.url, config: { iceServers: [] }, socketOptions: { auth: { token } } });
  const alice = await as('alice-token')({ topic: 'identity-topic' });
  opened.push(alice);
  const aliceSees = next(alice.connect$, 'alice connect$');
  const bob = await as('bob-token')({ topic: 'identity-topic' });
  opened.push(bob);
  const bobSees = next(bob.connect$, 'bob connect$');
  const [onAlice, onBob] = await Promise.all([aliceSees, bobSees]);
  assert.equal(getPeerIdentity(onAlice), { user: 'bob' });
  assert.equal(getPeerIdentity(onBob), { user: 'alice' });

  const refused = await as('wrong-token')({ topic: 'identity-topic' }).then(() => undefined, (e) => e);
  assert.is(refused?.code, 'ERR_UNAUTHORIZED');

  const forger = io(server.url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token: 'bob-token' } });
  const listener = io(server.url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token: 'alice-token' } });
  try {
    const joined = (socket: typeof forger, peerId: string) =>
      new Promise<void>((resolve) => socket.emit('join', { room: 'forge-room', peerId }, () => resolve()));
    await joined(listener, 'listener');
    await joined(forger, 'forger');
    const received = new Promise<any>((resolve) => listener.once('signal', resolve));
    forger.emit('signal', { from: 'forger', to: 'listener', room: 'forge-room', signal: { x: 1 }, identity: { user: 'admin' } });
    assert.equal((await received).identity, { user: 'bob' });
  } finally {
    forger.disconnect();
    listener.disconnect();
  }
});

sharing.run();
