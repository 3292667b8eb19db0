/**
 * Real RxDB databases replicating while their signaling fails under them (issue #9, faults):
 * the socket.io server SIGKILLed and restarted on its port, the aedes broker stopped and
 * restarted on its ports, one of three Nostr relays stopped (and, once, restarted). Writes go
 * on throughout. In each case the existing WebRTC links keep carrying documents during the
 * outage, a new database joining after the fault catches up and links to every old peer, and
 * at the end every peer holds exactly every write with its last value.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getConnectionHandlerSocketIo } from '../handlers/socket-io/client.js';
import { getConnectionHandlerMqtt } from '../handlers/mqtt/client.js';
import { startMqttBroker, type MqttBroker } from '../handlers/mqtt/broker.js';
import { getConnectionHandlerNostr } from '../handlers/nostr/client.js';
import { startNostrRelay, type NostrRelayServer } from '../handlers/nostr/relay/index.js';
import { P2PErrorCode, type P2PError } from '../src/errors.js';
import { randomId } from '../src/mesh/options.js';
import type { P2PConnectionHandlerCreator } from '../src/types.js';
import { next, until } from './helpers/wait.js';
import { RxWorld, Writer, caughtUp, converged, holds, lastOwnValues, sameMap, seededRandom, snapshot, type RxPeer } from './fixtures/rxdb-world.js';
import { startSignalingChild, type SignalingChild } from './fixtures/rxdb-signaling-child.js';

const world = new RxWorld();
const WAIT_MS = 60_000;
const mesh = { config: { iceServers: [] } };
/** Writes each peer makes while signaling is down (~2 s at the writers' pace). */
const OUTAGE_WRITES = 50;

test.after.each(() => world.cleanup());

interface Fault {
  /** Creator for the peers there before the fault. */
  creator(): P2PConnectionHandlerCreator;
  /** Breaks signaling. */
  fail(): Promise<void>;
  /** What a peer's handler reports when the fault reaches it. */
  noticed(error: P2PError): boolean;
  /** Brings signaling back (on the same port), if this case does. */
  restart?(): Promise<void>;
  /** Creator for the newcomer, after the fault (or restart). */
  newcomer(): P2PConnectionHandlerCreator;
}

/** Links a and b exchange a marker each way through. */
async function exchange(a: RxPeer, b: RxPeer, label: string): Promise<void> {
  await a.write(`${a.name}-${label}`, label);
  await b.write(`${b.name}-${label}`, label);
  await holds(b, `${a.name}-${label}`, label, `${label}: ${a.name}→${b.name}`, WAIT_MS);
  await holds(a, `${b.name}-${label}`, label, `${label}: ${b.name}→${a.name}`, WAIT_MS);
}

async function survive(name: string, fault: Fault): Promise<void> {
  const topic = `rxdb-faults-${randomId(8)}`;
  const random = seededRandom(9);
  const [a, b] = [await world.peer('a'), await world.peer('b')];
  await a.join(fault.creator(), topic);
  await b.join(fault.creator(), topic);
  const writers = [a, b].map((peer) => new Writer(peer, random, () => 20 + random() * 40));
  try {
    await exchange(a, b, 'before');
    const lost = [a, b].map((peer) => next(peer.session!.handler.error$, `${peer.name} noticing the fault`, 15_000, fault.noticed));
    const faultAt = Date.now();
    await fault.fail();
    await Promise.all(lost);
    // The outage lasts while each writer adds OUTAGE_WRITES documents (a few reconnect attempts
    // fail meanwhile); each side then holds all the other wrote so far, through the old link.
    await Promise.all(writers.map((writer, index) => writer.wrote(OUTAGE_WRITES, `writer ${index} during the outage`)));
    const taken = [snapshot(a), snapshot(b)] as const;
    await converged([b], (contents) => caughtUp(contents, a, taken[0]), `b holding a's writes made during the outage`, WAIT_MS);
    await converged([a], (contents) => caughtUp(contents, b, taken[1]), `a holding b's writes made during the outage`, WAIT_MS);
    await exchange(a, b, 'during');
    const duringMs = Date.now() - faultAt;
    if (fault.restart) await fault.restart();
    const c = await world.peer('c');
    const joinAt = Date.now();
    await c.join(fault.newcomer(), topic);
    const linked = () => [a, b].every((old) => c.session!.connects.some((peer) => peer.id === old.session!.handler.peerId));
    await until(linked, 'the newcomer linking to both old peers', WAIT_MS);
    const linkMs = Date.now() - joinAt;
    await exchange(c, a, 'after');
    await exchange(c, b, 'after2');
    await Promise.all(writers.map((writer) => writer.stop()));
    const expected = lastOwnValues([a, b, c], () => true);
    const settleAt = Date.now();
    await converged([a, b, c], (contents) => sameMap(contents, expected), 'all three holding every write', WAIT_MS);
    for (const peer of [a, b]) assert.is(peer.session!.disconnects.length, 0, `${peer.name}: no link dropped`);
    const writes = writers.reduce((sum, writer) => sum + writer.count, 0);
    console.log(
      `  ${name}: ${writes} writes, ${expected.size} docs; ${OUTAGE_WRITES}×2 written and replicated during a ${duringMs} ms outage; ` +
        `newcomer linked to both in ${linkMs} ms; settled in ${Date.now() - settleAt} ms`,
    );
  } finally {
    await Promise.all(writers.map((writer) => writer.stop()));
  }
}

test('socket.io server SIGKILLed mid-replication and restarted on its port', async () => {
  let server: SignalingChild = await startSignalingChild();
  world.track({ close: () => server.close() });
  const { url, port } = server;
  await survive('socket.io SIGKILL', {
    creator: () => getConnectionHandlerSocketIo({ url, ...mesh }),
    fail: () => server.kill(),
    noticed: (error) => error.code === P2PErrorCode.SIGNALING,
    restart: async () => {
      server = await startSignalingChild(port);
    },
    newcomer: () => getConnectionHandlerSocketIo({ url, ...mesh }),
  });
});

test('aedes broker stopped mid-replication and restarted on its ports', async () => {
  let broker: MqttBroker = await startMqttBroker();
  world.track({ close: () => broker.close() });
  const { url, wsUrl } = broker;
  const ports = { port: Number(new URL(url).port), wsPort: Number(new URL(wsUrl).port) };
  await survive('MQTT broker restart', {
    creator: () => getConnectionHandlerMqtt({ url, ...mesh }),
    fail: () => broker.close(),
    noticed: (error) => error.code === P2PErrorCode.SIGNALING,
    restart: async () => {
      broker = await startMqttBroker(ports);
    },
    newcomer: () => getConnectionHandlerMqtt({ url, ...mesh }),
  });
});

async function threeRelays(): Promise<{ relays: NostrRelayServer[]; urls: string[] }> {
  const relays = await Promise.all([startNostrRelay(), startNostrRelay(), startNostrRelay()]);
  const tracked = { relays, urls: relays.map((relay) => relay.url) };
  world.track({ close: async () => void (await Promise.allSettled(tracked.relays.map((relay) => relay.close()))) });
  return tracked;
}

test('one of three Nostr relays stopped mid-replication: the newcomer meets everyone through the other two', async () => {
  const { relays, urls } = await threeRelays();
  await survive('Nostr relay stopped', {
    creator: () => getConnectionHandlerNostr({ relays: urls, ...mesh }),
    fail: () => relays[1]!.close(),
    noticed: (error) => error.code === P2PErrorCode.SIGNALING && error.message.includes(urls[1]!),
    newcomer: () => getConnectionHandlerNostr({ relays: urls, ...mesh }),
  });
});

test('one of three Nostr relays stopped and restarted: a newcomer using only that relay meets everyone', async () => {
  const tracked = await threeRelays();
  const { urls } = tracked;
  await survive('Nostr relay restarted', {
    creator: () => getConnectionHandlerNostr({ relays: urls, ...mesh }),
    fail: () => tracked.relays[1]!.close(),
    noticed: (error) => error.code === P2PErrorCode.SIGNALING && error.message.includes(urls[1]!),
    restart: async () => {
      tracked.relays[1] = await startNostrRelay({ port: Number(new URL(urls[1]!).port) });
    },
    // Only the restarted relay: the old peers are found only if they re-joined it.
    newcomer: () => getConnectionHandlerNostr({ relays: [urls[1]!], ...mesh }),
  });
});

test.run();
