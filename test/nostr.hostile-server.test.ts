/**
 * Hostile input against our embedded Nostr relay (`startNostrRelay`): a seeded corpus of
 * NIP-01 text (not JSON, wrong types, missing fields, forged and spoofed events, REQ and EVENT
 * floods, oversize messages, deep nesting, half-open sockets and handshakes). The relay must
 * stay up, well-behaved peers in another room must pair through it during and after, and the
 * process's heap must come back near its baseline.
 */
import type { Socket } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { WebSocket } from 'ws';
import { getConnectionHandlerNostr } from '../handlers/nostr/client.js';
import { DEFAULT_KIND } from '../handlers/nostr/protocol.js';
import { startNostrRelay, type NostrRelayServer } from '../handlers/nostr/relay/index.js';
import type { WebRTCMeshHandler } from '../src/mesh/mesh.js';
import { until } from './helpers/wait.js';
import { DEFAULT_SEED, CorpusRun, nostrCorpus } from './helpers/hostile-frames.js';
import { halfOpenWebSocket, playOverWebSocket, runCorpusInProcess, watchEscapes, within } from './helpers/hostile-checks.js';

/** Heap growth allowed once every hostile connection is gone. */
const HEAP_BOUND_BYTES = 12 * 1024 * 1024;
const MIN_MESSAGES = 10_000;
const PARALLEL = 16;

const handlers: WebRTCMeshHandler[] = [];
const held: Socket[] = [];

async function open(relay: NostrRelayServer, room: string): Promise<WebRTCMeshHandler> {
  const handler = await getConnectionHandlerNostr({ relays: [relay.url], config: { iceServers: [] }, heartbeatIntervalMs: 500, peerTimeoutMs: 4_000 })({ topic: room });
  handlers.push(handler);
  return handler;
}

test('a seeded corpus of hostile NIP-01 messages: no crash, other rooms pair during and after, heap back near baseline', async () => {
  const escapes = watchEscapes();
  const relay = await startNostrRelay();
  try {
    const keys = Array.from({ length: 4 }, () => generateSecretKey());
    const signed = keys.map((key, i) => finalizeEvent({ kind: DEFAULT_KIND, created_at: Math.floor(Date.now() / 1000), tags: [['x', 'ab'.repeat(32)]], content: `genuine ${i}` }, key));

    await runCorpusInProcess({
      label: `hostile Nostr: seed ${DEFAULT_SEED}`,
      open: (room) => open(relay, room),
      corpus: new CorpusRun(nostrCorpus(DEFAULT_SEED, MIN_MESSAGES, signed)),
      play: (session) => playOverWebSocket(relay.url, session, held),
      parallel: PARALLEL,
      minMessages: MIN_MESSAGES,
      held,
      handlers,
      heapBound: HEAP_BOUND_BYTES,
      // Sockets that never finish the WebSocket handshake.
      prepare: async () => {
        for (let i = 0; i < 20; i++) held.push(await halfOpenWebSocket(relay.url, [], true));
      },
    });
    assert.equal(escapes.escaped, [], 'an error escaped as an unhandled rejection or exception');
  } finally {
    escapes.stop();
    for (const socket of held.splice(0)) socket.destroy();
    await Promise.allSettled(handlers.splice(0).map((handler) => handler.close()));
    await relay.close();
  }
});

test('the relay refuses a message of thousands of JSON values before validating it, and cuts off a client that floods faster than it is served', async () => {
  const relay = await startNostrRelay();
  try {
    const socket = new WebSocket(relay.url);
    socket.on('error', () => {});
    const notices: string[] = [];
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as unknown[];
      if (message[0] === 'NOTICE') notices.push(String(message[1]));
    });
    let closeCode: number | undefined;
    socket.once('close', (code) => (closeCode = code));
    await within(new Promise((resolve) => socket.once('open', resolve)), 5_000, 'the socket opening');
    const tags = Array.from({ length: 2_000 }, () => ['p', 'a'.repeat(64)]);
    const started = Date.now();
    socket.send(JSON.stringify(['EVENT', { id: 'a'.repeat(64), pubkey: 'b'.repeat(64), created_at: 1, kind: 1, tags, content: '', sig: 'c'.repeat(128) }]));
    await until(() => notices.length === 1, 'the NOTICE for the 2,000-tag event', 5_000);
    assert.match(notices[0]!, /JSON values/);
    const refusedMs = Date.now() - started;
    for (let i = 0; i < 2_000; i++) socket.send(JSON.stringify(['REQ', `s${i}`, { kinds: [1] }]));
    await until(() => closeCode !== undefined, 'the relay closing the flooding connection', 10_000);
    assert.is(closeCode, 1008);
    console.log(`Nostr relay: a 2,000-tag event refused in ${refusedMs} ms; a burst of 2,000 REQs closed the connection (1008)`);
    // Still serving others.
    const other = new WebSocket(relay.url);
    other.on('error', () => {});
    let eose = false;
    other.on('message', (data) => (eose ||= String(data).startsWith('["EOSE"')));
    await within(new Promise((resolve) => other.once('open', resolve)), 5_000, 'another socket opening');
    other.send(JSON.stringify(['REQ', 'after', { kinds: [1] }]));
    await until(() => eose, 'EOSE for another client after the flood', 5_000);
    other.terminate();
  } finally {
    await relay.close();
  }
});

test.run();
