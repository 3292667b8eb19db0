/**
 * The Nostr handler's own promises on top of the conformance suite: options are checked at
 * construction, peers are their verified public keys, and a room secret keeps strangers out.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nsecEncode } from 'nostr-tools/nip19';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { WebSocket } from 'ws';
import { getConnectionHandlerNostr, getPeerPublicKey, type NostrHandlerOptions } from '../handlers/nostr/client.js';
import { startNostrRelay, type NostrRelayServer } from '../handlers/nostr/relay/index.js';
import { P2PErrorCode, isP2PError } from '../src/errors.js';
import type { WebRTCMeshHandler } from '../src/mesh/mesh.js';
import type { P2PPeer } from '../src/types.js';
import { next } from './helpers/wait.js';
import { quietFor } from './fixtures/nostr-members.js';

let relay: NostrRelayServer | undefined;
const opened: WebRTCMeshHandler[] = [];

async function open(options: Partial<NostrHandlerOptions> = {}, topic = 'nostr-handler-topic'): Promise<WebRTCMeshHandler> {
  relay ??= await startNostrRelay();
  const handler = await getConnectionHandlerNostr({ relays: [relay.url], config: { iceServers: [] }, ...options })({ topic });
  opened.push(handler);
  return handler;
}

async function pair(a: WebRTCMeshHandler, b: WebRTCMeshHandler): Promise<{ onA: P2PPeer; onB: P2PPeer }> {
  const [onA, onB] = await Promise.all([next(a.connect$, 'A connect$'), next(b.connect$, 'B connect$')]);
  return { onA, onB };
}

test.after.each(async () => {
  await Promise.allSettled(opened.splice(0).map((handler) => handler.close()));
  await relay?.close();
  relay = undefined;
});

test('invalid options are refused at construction with ERR_INVALID_OPTION', () => {
  const url = 'ws://127.0.0.1:1';
  const bad: [string, unknown][] = [
    ['no options', undefined],
    ['no relays', {}],
    ['empty relays', { relays: [] }],
    ['an http relay', { relays: ['http://127.0.0.1:1'] }],
    ['a number as relay', { relays: [7] }],
    ['a regular kind', { relays: [url], kind: 1 }],
    ['a replaceable kind', { relays: [url], kind: 30_000 }],
    ['a fractional kind', { relays: [url], kind: 25_000.5 }],
    ['a short hex key', { relays: [url], secretKey: 'abc' }],
    ['a 31-byte key', { relays: [url], secretKey: new Uint8Array(31) }],
    ['the zero key', { relays: [url], secretKey: new Uint8Array(32) }],
    ['a broken nsec', { relays: [url], secretKey: 'nsec1qqqq' }],
    ['an empty secret', { relays: [url], secret: '' }],
    ['a flood of announcements', { relays: [url], announceIntervalMs: 10 }],
    ['a sub-second freshness window', { relays: [url], maxEventAgeMs: 100 }],
    ['a WebSocket that is not a constructor', { relays: [url], WebSocket: 'ws' }],
    ['a peerId of its own', { relays: [url], peerId: 'alice' }],
    ['a peerId that is not the key’s', { relays: [url], secretKey: generateSecretKey(), peerId: 'a'.repeat(64) }],
  ];
  for (const [why, options] of bad) {
    try {
      getConnectionHandlerNostr(options as NostrHandlerOptions);
      assert.unreachable(`${why} was accepted`);
    } catch (error) {
      assert.ok(isP2PError(error, P2PErrorCode.INVALID_OPTION), `${why}: ${String(error)}`);
    }
  }
});

test('secretKey fixes the peer id to its public key, in any of its three spellings', async () => {
  const secretKey = generateSecretKey();
  const publicKey = getPublicKey(secretKey);
  const hex = Array.from(secretKey, (byte) => byte.toString(16).padStart(2, '0')).join('');
  for (const spelling of [secretKey, hex, nsecEncode(secretKey)]) {
    const handler = await open({ secretKey: spelling, peerId: publicKey });
    assert.is(handler.peerId, publicKey);
    await handler.close();
  }
  const [first, second] = [await open(), await open()];
  assert.is.not(first.peerId, second.peerId, 'without secretKey every handler has its own key');
  assert.match(first.peerId, /^[0-9a-f]{64}$/);
});

test('getPeerPublicKey gives the verified key of the remote, for an isPeerValid allow-list', async () => {
  const a = await open();
  const b = await open();
  const { onA, onB } = await pair(a, b);
  assert.is(getPeerPublicKey(onA), b.peerId);
  assert.is(getPeerPublicKey(onB), a.peerId);
  assert.is((onA as { publicKey?: string }).publicKey, b.peerId, 'the peer object carries publicKey');
  const allowed = new Set([b.peerId]);
  const isPeerValid = async (peer: P2PPeer) => allowed.has(getPeerPublicKey(peer) ?? '');
  assert.ok(await isPeerValid(onA));
  assert.not.ok(await isPeerValid(onB));
  assert.is(getPeerPublicKey({ id: 'x' }), undefined);
  assert.is(getPeerPublicKey({ id: 'a'.repeat(64), publicKey: 'b'.repeat(64) } as P2PPeer), undefined, 'a key that is not the id is not trusted');
});

test('peers with the same secret connect; a wrong secret or none never does', async () => {
  const a = await open({ secret: 'open sesame' });
  const aConnects: P2PPeer[] = [];
  a.connect$.subscribe((peer) => aConnects.push(peer));
  const wrong = await open({ secret: 'open barley' });
  const none = await open();
  const strangers: P2PPeer[] = [];
  const strangerErrors: unknown[] = [];
  for (const stranger of [wrong, none]) {
    stranger.connect$.subscribe((peer) => strangers.push(peer));
    stranger.error$.subscribe((error) => strangerErrors.push(error));
  }
  const b = await open({ secret: 'open sesame' });
  const { onA } = await pair(a, b);
  assert.is(onA.id, b.peerId);
  await quietFor(1_500);
  assert.equal(strangers, [], 'a peer with another secret connected');
  // Another secret is another room: they never even hear each other (no refused events).
  assert.equal(strangerErrors, []);
  assert.equal(aConnects.map((peer) => peer.id), [b.peerId]);
});

test('the injected WebSocket constructor is used, and nothing global is patched', async () => {
  let constructed = 0;
  class CountingWebSocket extends WebSocket {
    constructor(url: string) {
      super(url);
      constructed++;
    }
  }
  const before = (globalThis as { WebSocket?: unknown }).WebSocket;
  const a = await open({ WebSocket: CountingWebSocket });
  const b = await open();
  await pair(a, b);
  assert.is(constructed, 1);
  assert.is((globalThis as { WebSocket?: unknown }).WebSocket, before);
});

test('one creator is one peer: its rooms share its key and one connection per relay, and outlive each other', async () => {
  relay ??= await startNostrRelay();
  const second = await startNostrRelay();
  try {
    let constructed = 0;
    class CountingWebSocket extends WebSocket {
      constructor(url: string) {
        super(url);
        constructed++;
      }
    }
    const relays = [relay.url, second.url];
    const creatorA = getConnectionHandlerNostr({ relays, config: { iceServers: [] }, WebSocket: CountingWebSocket });
    const creatorB = getConnectionHandlerNostr({ relays, config: { iceServers: [] } });
    const topics = ['room-one-topic', 'room-two-topic', 'room-three-topic'];
    const onA = await Promise.all(topics.map((topic) => creatorA({ topic })));
    const onB = await Promise.all(topics.map((topic) => creatorB({ topic })));
    opened.push(...onA, ...onB);
    assert.equal(new Set(onA.map((handler) => handler.peerId)).size, 1, 'one key for all rooms of a creator');
    await Promise.all(topics.map((_, index) => pair(onA[index]!, onB[index]!)));
    assert.is(constructed, 2, 'one WebSocket per relay, not per room');
    // Room one leaves; room two still hears newcomers through the same connections.
    await onA[0]!.close();
    const newcomer = await getConnectionHandlerNostr({ relays, config: { iceServers: [] } })({ topic: topics[1]! });
    opened.push(newcomer);
    const [peer] = await Promise.all([next(onA[1]!.connect$, 'room two hears the newcomer', 15_000, (p) => p.id === newcomer.peerId), next(newcomer.connect$, 'newcomer connect$', 15_000, (p) => p.id === onA[1]!.peerId)]);
    assert.is(getPeerPublicKey(peer), newcomer.peerId);
    assert.is(constructed, 2);
  } finally {
    await Promise.allSettled(opened.splice(0).map((handler) => handler.close()));
    await second.close();
  }
});

test.run();
