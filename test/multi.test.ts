/** Redundant signaling: one mesh signaled over several servers at once (getConnectionHandlerMulti). */
import { firstValueFrom, take, timeout, toArray } from 'rxjs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { getConnectionHandlerSocketIo } from '../handlers/socket-io/client.js';
import { startSocketIoSignalingServer, type SocketIoSignalingServer } from '../handlers/socket-io/server/index.js';
import { runConformanceSuite } from '../src/conformance/index.js';
import { getConnectionHandlerMulti, type MeshHandlerCreator } from '../src/mesh/mesh-creator.js';
import { simulateCrash, type WebRTCMeshHandler } from '../src/mesh/mesh.js';
import type { P2PError } from '../src/errors.js';
import { next } from './helpers/wait.js';
import { getConnectionHandlerNostr, getPeerPublicKey } from '../handlers/nostr/client.js';
import { startNostrRelay } from '../handlers/nostr/relay/index.js';

const mesh = { config: { iceServers: [] }, heartbeatIntervalMs: 1_000, peerTimeoutMs: 5_000, reconnectMinDelayMs: 100, reconnectMaxDelayMs: 1_000 };
const on = (server: { url: string }, extra: Record<string, unknown> = {}): MeshHandlerCreator =>
  getConnectionHandlerSocketIo({ url: server.url, ...mesh, ...extra });
const startServer = () => startSocketIoSignalingServer({ host: '127.0.0.1', port: 0 });

runConformanceSuite<SocketIoSignalingServer[]>({
  name: 'multi (two socket.io servers)',
  setup: async () => Promise.all([startServer(), startServer()]),
  teardown: async (servers) => {
    await Promise.all(servers.map((server) => server.close()));
  },
  creator: ([one, two]) => getConnectionHandlerMulti([on(one!), on(two!)]),
  capabilities: {
    crash: (handler) => (handler as WebRTCMeshHandler)[simulateCrash](),
    timeoutMs: 20_000,
    disconnectTimeoutMs: 15_000,
  },
});

const test = suite('multi');
const opened: WebRTCMeshHandler[] = [];
const servers: SocketIoSignalingServer[] = [];

test.after.each(async () => {
  await Promise.allSettled(opened.splice(0).map((handler) => handler.close()));
  await Promise.allSettled(servers.splice(0).map((server) => server.close()));
});

async function open(creator: MeshHandlerCreator, topic: string): Promise<WebRTCMeshHandler> {
  const handler = await creator({ topic });
  opened.push(handler);
  return handler;
}

test('a server dying changes nothing for open links, and newcomers join through the other', async () => {
  servers.push(await startServer(), await startServer());
  const [one, two] = servers as [SocketIoSignalingServer, SocketIoSignalingServer];
  const both = () => getConnectionHandlerMulti([on(one), on(two)]);
  const a = await open(both(), 'failover-topic');
  const aSeesB = next(a.connect$, 'A connect$ B');
  const b = await open(both(), 'failover-topic');
  const bSeesA = next(b.connect$, 'B connect$ A');
  const [peerB] = await Promise.all([aSeesB, bSeesA]);
  let disconnects = 0;
  a.disconnect$.subscribe(() => disconnects++);
  const lost = next(a.error$, 'A error$ for the lost server', 10_000, (e: P2PError) => e.code === 'ERR_SIGNALING');
  await one.close();
  await lost;
  const reply = next(b.response$, 'B response$ over the surviving link');
  await a.send(peerB, { id: 'after-failover', result: false });
  assert.equal((await reply).response, { id: 'after-failover', result: false });
  const aSeesC = next(a.connect$, 'A connect$ of a newcomer', 20_000, (peer) => peer.id !== b.peerId);
  const c = await open(getConnectionHandlerMulti([on(one), on(two)]), 'failover-topic');
  assert.is((await aSeesC).id, c.peerId);
  assert.is(disconnects, 0);
});

test('each pair gets one link and one identity, whichever server found the peer', async () => {
  servers.push(await startServer(), await startServer());
  const [one, two] = servers as [SocketIoSignalingServer, SocketIoSignalingServer];
  const hub = await open(getConnectionHandlerMulti([on(one), on(two)]), 'identity-topic');
  const hubSawBoth = firstValueFrom(hub.connect$.pipe(take(2), toArray(), timeout(20_000)));
  // Each waiter is armed right after its handler exists: connect$ is hot.
  const onlyOne = await open(on(one), 'identity-topic');
  const oneSees = next(onlyOne.connect$, 'peer on server one connect$');
  const onlyTwo = await open(on(two), 'identity-topic');
  const twoSees = next(onlyTwo.connect$, 'peer on server two connect$');
  const [seenByOne, seenByTwo] = await Promise.all([oneSees, twoSees]);
  assert.is(seenByOne.id, hub.peerId);
  assert.is(seenByTwo.id, hub.peerId);
  const hubConnects = (await hubSawBoth).map((peer) => peer.id);
  assert.equal(hubConnects.sort(), [onlyOne.peerId, onlyTwo.peerId].sort());
});

test('socket.io plus Nostr: the socket.io server dying leaves links up and newcomers join over Nostr', async () => {
  servers.push(await startServer());
  const [one] = servers as [SocketIoSignalingServer];
  const relay = await startNostrRelay();
  try {
    const both = () => getConnectionHandlerMulti([on(one), getConnectionHandlerNostr({ relays: [relay.url], ...mesh })]);
    const a = await open(both(), 'mixed-topic');
    const aSeesB = next(a.connect$, 'A connect$ B');
    const b = await open(both(), 'mixed-topic');
    const [peerB] = await Promise.all([aSeesB, next(b.connect$, 'B connect$ A')]);
    // Nostr vouches for the key only when its signals made the link; socket.io may have been first.
    const key = getPeerPublicKey(peerB);
    assert.ok(key === undefined || key === peerB.id, 'a key shown is the peer’s own');
    const lost = next(a.error$, 'A error$ for the lost socket.io server', 10_000, (e: P2PError) => e.code === 'ERR_SIGNALING');
    await one.close();
    await lost;
    const aSeesC = next(a.connect$, 'A connect$ of a newcomer over Nostr', 20_000, (peer) => peer.id !== b.peerId);
    const c = await open(both(), 'mixed-topic');
    assert.is((await aSeesC).id, c.peerId);
    const reply = next(b.response$, 'B response$ over the surviving link');
    await a.send(peerB, { id: 'mixed', result: 0 });
    assert.equal((await reply).response, { id: 'mixed', result: 0 });
  } finally {
    await Promise.allSettled(opened.splice(0).map((handler) => handler.close()));
    await relay.close();
  }
});

test('only p2p-handlers WebRTC creators can be combined', () => {
  for (const bad of [[], [async () => ({})], 'x', [on({ url: 'ws://127.0.0.1:1' }), () => undefined]]) {
    let code: string | undefined;
    try {
      getConnectionHandlerMulti(bad as any);
    } catch (error) {
      code = (error as P2PError).code;
    }
    assert.is(code, 'ERR_INVALID_OPTION', JSON.stringify(bad));
  }
});

test('the peer id comes from the creator that sets one; conflicting ids are refused; overrides win', async () => {
  servers.push(await startServer());
  const [one] = servers as [SocketIoSignalingServer];
  const handler = await open(getConnectionHandlerMulti([on(one), on(one, { peerId: 'pinned-id' })]), 'options-topic');
  assert.is(handler.peerId, 'pinned-id');
  let code: string | undefined;
  try {
    getConnectionHandlerMulti([on(one, { peerId: 'first-id' }), on(one, { peerId: 'second-id' })]);
  } catch (error) {
    code = (error as P2PError).code;
  }
  assert.is(code, 'ERR_INVALID_OPTION');
  const overridden = await open(getConnectionHandlerMulti([on(one, { peerId: 'first-id-2' })], { peerId: 'override-id' }), 'options-topic');
  assert.is(overridden.peerId, 'override-id');
});

test.run();
