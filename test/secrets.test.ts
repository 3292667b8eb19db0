/**
 * Secrets, per transport, each in one scene with an honest pair, an intruder and an observer:
 * a peer with the wrong room secret never connects (we wait until its traffic has reached the
 * honest side and been refused, then check nobody connected), an observer of all broker or
 * relay traffic reads no SDP, ICE, address, topic (nor, on MQTT, a peer id), and nobody can
 * speak under another peer's id. Transport-level details live in mqtt.client.test.ts,
 * nostr.client.test.ts and peerjs.hostile-peer.test.ts; this file checks the promises end to end.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { startMqttBroker } from '../handlers/mqtt/broker.js';
import { getConnectionHandlerMqtt } from '../handlers/mqtt/client.js';
import { getConnectionHandlerNostr } from '../handlers/nostr/client.js';
import { getConnectionHandlerSocketIo } from '../handlers/socket-io/client.js';
import { DEFAULT_KIND, nostrRoomTag } from '../handlers/nostr/protocol.js';
import { startNostrRelay } from '../handlers/nostr/relay/index.js';
import { getConnectionHandlerPeerJS } from '../handlers/peerjs/client.js';
import { ENVELOPE_TYPE, memberId, roomKeyOf } from '../handlers/peerjs/protocol.js';
import { startPeerServer } from '../handlers/peerjs/server.js';
import { P2PErrorCode, redactUrl, type P2PError } from '../src/errors.js';
import { randomId } from '../src/mesh/options.js';
import type { WebRTCMeshHandler } from '../src/mesh/mesh.js';
import type { P2PPeer } from '../src/types.js';
import { exchange, wellBehavedPair, within } from './helpers/hostile-checks.js';
import { next, until } from './helpers/wait.js';
import { MqttWorld, roomKeys } from './fixtures/mqtt-world.js';
import { leaveAll, member } from './fixtures/nostr-members.js';
import { closeRawSocket, rawPeerServerSocket } from './fixtures/peerjs-target.js';

const SECRET = 'the right secret';
/** Strings no observer may read: SDP lines, ICE, the loopback address, internal fields. */
const SDP_AND_ICE = ['v=0', 'a=fingerprint', 'a=ice-ufrag', 'candidate', '127.0.0.1', 'session'];

const cleanups: Array<() => Promise<unknown>> = [];
const world = new MqttWorld();
test.after.each(async () => {
  await Promise.allSettled(cleanups.splice(0).reverse().map((cleanup) => cleanup()));
  await world.cleanup();
  await leaveAll();
});

/** Everything `handler` emits from now on, recorded (subjects are hot). */
function record(handler: WebRTCMeshHandler): { connects: P2PPeer[]; errors: P2PError[] } {
  const seen = { connects: [] as P2PPeer[], errors: [] as P2PError[] };
  handler.connect$.subscribe((peer) => seen.connects.push(peer));
  handler.error$.subscribe((error) => seen.errors.push(error));
  return seen;
}

function assertNothingLeaks(everything: string, markers: readonly string[], where: string): void {
  for (const marker of markers) assert.not.ok(everything.includes(marker), `${where}: the observer read ${JSON.stringify(marker)}`);
}

test('MQTT (aedes): the wrong secret is refused and never connects, a # observer reads nothing, a forged `from` is refused', async () => {
  const broker = world.track(await startMqttBroker());
  const room = `secret-room-${randomId(8)}`;
  const captured = await world.observe(broker.url);
  const { a, b, onA } = await wellBehavedPair((topic) => world.open(topic, { url: broker.url, secret: SECRET }), room, 'the pair with the right secret');
  const [seenA, seenB] = [record(a), record(b)];

  // An outsider who knows the topic forges a signal "from A" to B, sealed without the secret.
  const forgedTo = next(b.error$, 'B refusing the forged signal', 10_000, (error) => error.code === P2PErrorCode.UNAUTHORIZED);
  const outsiderKeys = await roomKeys(room, 'a guessed secret');
  const rightKeys = await roomKeys(room, SECRET);
  const outsider = await world.raw(broker.url);
  await outsider.publishAsync(await rightKeys.signalTopic(b.peerId), await outsiderKeys.sealSignal(a.peerId, b.peerId, { v: 1, type: 'hello', session: 'forged' }), { qos: 1 });
  await forgedTo;

  // A peer with the wrong secret: its presence reaches A, which refuses it.
  const refused = next(a.error$, 'A refusing the wrong-secret peer', 10_000, (error) => error.code === P2PErrorCode.UNAUTHORIZED);
  const intruder = await world.open(room, { url: broker.url, secret: 'the wrong secret' });
  await refused;
  await until(() => intruder.errors.some((error) => error.code === P2PErrorCode.UNAUTHORIZED), 'the intruder refusing the pair in turn', 10_000);
  await exchange(a, onA, b, 'A→B after the intruder and the forgery');

  assert.equal(intruder.connects, [], 'the wrong-secret peer connected');
  assert.equal([...seenA.connects, ...seenB.connects], [], 'a new link was made after the forgery or the intruder');
  const everything = captured.map(({ topic, payload }) => `${topic}\n${payload.toString('utf8')}`).join('\n');
  assert.ok(captured.length >= 6, `the observer captured the room's traffic (${captured.length} messages)`);
  assertNothingLeaks(everything, [...SDP_AND_ICE, 'answer', a.peerId, b.peerId, intruder.peerId, room, SECRET], 'MQTT');
});

test('Nostr (our relay): the wrong secret never connects, a tag-copying intruder is refused, an observer of every event reads no SDP/ICE/topic, a forged author is refused', async () => {
  const relay = await startNostrRelay();
  cleanups.push(() => relay.close());
  const room = `secret-room-${randomId(8)}`;
  const observed: unknown[] = [];
  const observer = new WebSocket(relay.url);
  cleanups.push(async () => observer.terminate());
  observer.on('message', (data) => observed.push(JSON.parse(String(data))));
  await within(new Promise((resolve) => observer.once('open', resolve)), 5_000, 'the observer connecting');
  observer.send(JSON.stringify(['REQ', 'everything', {}]));
  await until(() => observed.some((m) => Array.isArray(m) && m[0] === 'EOSE'), 'the observer subscribed to everything', 5_000);

  const handlers: WebRTCMeshHandler[] = [];
  cleanups.push(() => Promise.allSettled(handlers.map((handler) => handler.close())));
  const open = async (topic: string, secret: string) => {
    const handler = await getConnectionHandlerNostr({ relays: [relay.url], secret, config: { iceServers: [] }, announceIntervalMs: 1_000 })({ topic });
    handlers.push(handler);
    return handler;
  };
  const { a, b, onA } = await wellBehavedPair((topic) => open(topic, SECRET), room, 'the pair with the right secret');
  const [seenA, seenB] = [record(a), record(b)];

  // Another secret is another room tag: its announcements reach the relay, never the pair.
  const intruder = await open(room, 'the wrong secret');
  const seenIntruder = record(intruder);
  const authored = (pubkey: string) => observed.filter((m) => Array.isArray(m) && m[0] === 'EVENT' && (m[2] as { pubkey?: string })?.pubkey === pubkey).length;
  await until(() => authored(intruder.peerId) >= 2, 'two announcements of the wrong-secret peer through the relay', 10_000);

  // One who copied the room tag from the traffic but lacks the secret: refused by the pair.
  const refused = next(a.error$, 'A refusing the tag-copying intruder', 10_000, (error) => error.code === P2PErrorCode.UNAUTHORIZED);
  await member(relay.url, { topic: room, secret: 'the wrong secret', roomTag: await nostrRoomTag(room, SECRET), announceIntervalMs: 1_000 });
  await refused;

  // A forged author: Mallory's event relabelled as A's. The relay refuses it (bad id/signature).
  const forged = { ...finalizeEvent({ kind: DEFAULT_KIND, created_at: Math.floor(Date.now() / 1000), tags: [['x', await nostrRoomTag(room, SECRET)], ['p', b.peerId]], content: 'hi' }, generateSecretKey()), pubkey: a.peerId };
  observer.send(JSON.stringify(['EVENT', forged]));
  await until(() => observed.some((m) => Array.isArray(m) && m[0] === 'OK' && m[1] === forged.id), 'the relay answering the forged event', 5_000);
  assert.ok(observed.some((m) => Array.isArray(m) && m[0] === 'OK' && m[1] === forged.id && m[2] === false), 'the relay accepted an event under a forged author');
  await exchange(a, onA, b, 'A→B after the intruders');

  assert.equal(seenIntruder.connects, [], 'the wrong-secret peer connected');
  assert.equal(seenIntruder.errors.filter((error) => error.code === P2PErrorCode.UNAUTHORIZED), [], 'the wrong-secret peer even heard the pair');
  assert.equal([...seenA.connects, ...seenB.connects], [], 'a new link was made after the intruders');
  assert.not.ok(seenB.errors.some((error) => error.peerId === a.peerId), 'B attributed something to A');
  const events = observed.filter((m) => Array.isArray(m) && m[0] === 'EVENT');
  assert.ok(events.length >= 6, `the observer saw the room's events (${events.length})`);
  // Public keys are the peer ids and the authors of events: relays see them by design (README).
  assertNothingLeaks(JSON.stringify(events), [...SDP_AND_ICE, room, SECRET], 'Nostr');
});

test('PeerJS (our PeerServer): a spoofed `src` is overwritten by the server and an id held by a peer cannot be claimed', async () => {
  const server = await startPeerServer();
  cleanups.push(() => server.close());
  const room = `secret-room-${randomId(8)}`;
  const handlers: WebRTCMeshHandler[] = [];
  cleanups.push(() => Promise.allSettled(handlers.map((handler) => handler.close())));
  const open = async (topic: string) => {
    const handler = await getConnectionHandlerPeerJS({ ...server.clientOptions, config: { iceServers: [] }, heartbeatIntervalMs: 1_000, peerTimeoutMs: 5_000 })({ topic });
    handlers.push(handler);
    return handler;
  };
  const { a, b, onA } = await wellBehavedPair(open, room, 'the pair');
  const [seenA, seenB] = [record(a), record(b)];
  const roomKey = await roomKeyOf(room);
  const idOfA = memberId(roomKey, a.peerId);

  // Claiming A's member id (another token): the server refuses it.
  const claimed = await rawPeerServerSocket(server, idOfA, 'not-a-token').then(() => 'opened', (error: Error) => error.message);
  assert.match(claimed, /ID-TAKEN/, `claiming A's id: ${claimed}`);

  // Mallory signs a message "from A" to a witness and to B: the server stamps Mallory's id.
  const mallory = await rawPeerServerSocket(server, memberId(roomKey, 'mallory'));
  const witness = await rawPeerServerSocket(server, memberId(roomKey, 'witness'));
  cleanups.push(() => closeRawSocket(mallory), () => closeRawSocket(witness));
  const received = new Promise<{ src?: string }>((resolve) => witness.on('message', (data) => resolve(JSON.parse(String(data)))));
  const spoof = (dst: string) => JSON.stringify({ type: ENVELOPE_TYPE, src: idOfA, dst, payload: { p2ph: 1, kind: 'signal', signal: { v: 1, type: 'hello', session: 'forged' } } });
  mallory.send(spoof(memberId(roomKey, 'witness')));
  assert.is((await within(received, 5_000, 'the witness receiving the spoofed message')).src, memberId(roomKey, 'mallory'), 'the server relayed the spoofed src');
  mallory.send(spoof(memberId(roomKey, b.peerId)));
  await exchange(a, onA, b, 'A→B after the spoofing');
  assert.equal([...seenA.connects, ...seenB.connects].filter((peer) => peer.id === a.peerId || peer.id === b.peerId), [], 'the spoof re-made the A–B link');
  assert.not.ok(seenB.errors.some((error) => error.peerId === a.peerId), 'B attributed the spoof to A');
});

test('credentials in a server URL never reach an error message: passwords and query values are redacted', async () => {
  assert.is(redactUrl('wss://user:pw@relay.example/path?token=abc&room=r'), 'wss://user:***@relay.example/path?token=***&room=***');
  assert.is(redactUrl('not a url'), 'an unparsable URL');
  // Nothing listens on port 1 of the loopback: each transport reports its failed connection.
  const fast = { config: { iceServers: [] }, reconnectMinDelayMs: 50, reconnectMaxDelayMs: 200 };
  const creators = {
    'socket.io': () => getConnectionHandlerSocketIo({ url: 'http://user:hunter2@127.0.0.1:1/?token=hunter2', ...fast }),
    MQTT: () => getConnectionHandlerMqtt({ url: 'mqtt://user:hunter2@127.0.0.1:1', ...fast }),
    Nostr: () => getConnectionHandlerNostr({ relays: ['ws://127.0.0.1:1/?auth=hunter2'], ...fast }),
  };
  for (const [name, create] of Object.entries(creators)) {
    const outcome = await create()({ topic: `redact-${randomId()}` }).then((handler) => handler, (error: P2PError) => error);
    let error: P2PError;
    if ('error$' in outcome) {
      error = await next(outcome.error$, `${name}: a connection error`, 10_000);
      await outcome.close();
    } else error = outcome;
    const text = [error.message, String((error.cause as Error | undefined)?.message ?? '')].join(' | ');
    assert.is(error.code, P2PErrorCode.SIGNALING, `${name}: ${text}`);
    assert.match(error.message, /\*\*\*/, `${name} names the server without redaction: ${text}`);
    assert.not.match(text, /hunter2/, `${name} shows a credential: ${text}`);
  }
});

test.run();
