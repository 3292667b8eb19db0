/**
 * A verified identity belongs to the link its transport signaled, never to a bare peer id:
 * over getConnectionHandlerMulti, a peer that claims Alice's id on MQTT does not show Alice's
 * socket.io identity, and a socket without an identity that takes an id over does not inherit
 * its previous holder's (docs/security.md).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getConnectionHandlerMqtt } from '../handlers/mqtt/client.js';
import { startMqttBroker } from '../handlers/mqtt/broker.js';
import { getConnectionHandlerSocketIo, getPeerIdentity } from '../handlers/socket-io/client.js';
import { startSocketIoSignalingServer } from '../handlers/socket-io/server/index.js';
import { getConnectionHandlerMulti } from '../src/mesh/mesh-creator.js';
import type { WebRTCMeshHandler } from '../src/mesh/mesh.js';
import type { P2PPeer } from '../src/types.js';
import { next } from './helpers/wait.js';

const ice = { config: { iceServers: [] } };
const closers: Array<() => Promise<unknown>> = [];
test.after.each(async () => {
  await Promise.allSettled(closers.splice(0).reverse().map((close) => close()));
});

function track<T extends { close(): Promise<unknown> }>(thing: T): T {
  closers.push(() => thing.close());
  return thing;
}

test('an id claimed on another transport does not show the identity socket.io verified for it', async () => {
  const users: Record<string, string> = { a: 'alice', o: 'observer' };
  const server = track(await startSocketIoSignalingServer({ authenticate: (handshake) => (users[String(handshake.auth?.token)] ? { user: users[String(handshake.auth?.token)] } : false) }));
  const broker = track(await startMqttBroker());
  const socketIo = (token: string, peerId?: string) => getConnectionHandlerSocketIo({ url: server.url, socketOptions: { auth: { token } }, ...ice, ...(peerId ? { peerId } : {}) });
  const topic = 'identity-binding';
  const observer: WebRTCMeshHandler = track(await getConnectionHandlerMulti([socketIo('o'), getConnectionHandlerMqtt({ url: broker.url, ...ice })])({ topic }));

  // The real Alice, on socket.io only: her link carries the identity the server verified.
  const metAlice = next(observer.connect$, 'the observer meeting Alice', 20_000, (peer: P2PPeer) => peer.id === 'alice');
  const alice = await socketIo('a', 'alice')({ topic });
  assert.equal(getPeerIdentity(await metAlice), { user: 'alice' });
  const aliceGone = next(observer.disconnect$, 'Alice leaving', 20_000, (peer: P2PPeer) => peer.id === 'alice');
  await alice.close();
  await aliceGone;

  // An MQTT insider takes the id: its link was signaled over MQTT only.
  const metInsider = next(observer.connect$, 'the observer meeting the insider', 20_000, (peer: P2PPeer) => peer.id === 'alice');
  track(await getConnectionHandlerMqtt({ url: broker.url, peerId: 'alice', ...ice })({ topic }));
  assert.is(getPeerIdentity(await metInsider), undefined, 'no identity for a link socket.io did not signal');
});

test('a socket with no verified identity that takes an id over does not inherit its holder’s identity', async () => {
  const server = track(await startSocketIoSignalingServer({ authenticate: (handshake) => (handshake.auth?.token === 'a' ? { user: 'alice' } : true) }));
  const topic = 'identity-takeover';
  const creator = (token: string, peerId?: string) => getConnectionHandlerSocketIo({ url: server.url, socketOptions: { auth: { token } }, peerToken: 'shared-reload-token', ...ice, ...(peerId ? { peerId } : {}) });
  const observer: WebRTCMeshHandler = track(await getConnectionHandlerSocketIo({ url: server.url, socketOptions: { auth: { token: 'o' } }, ...ice })({ topic }));
  const first = next(observer.connect$, 'the observer meeting the verified holder', 20_000, (peer: P2PPeer) => peer.id === 'holder');
  const holder = await creator('a', 'holder')({ topic });
  assert.equal(getPeerIdentity(await first), { user: 'alice' });
  const gone = next(observer.disconnect$, 'the verified holder leaving', 20_000, (peer: P2PPeer) => peer.id === 'holder');
  await holder.close();
  await gone;
  const second = next(observer.connect$, 'the observer meeting the unverified holder', 20_000, (peer: P2PPeer) => peer.id === 'holder');
  track(await creator('nobody', 'holder')({ topic }));
  assert.is(getPeerIdentity(await second), undefined, 'the identity went with the socket that had it');
});

test.run();
