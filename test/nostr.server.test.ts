/** The embedded Nostr relay (`p2p-handlers/nostr/relay`) spoken to with raw NIP-01 messages. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { WebSocket } from 'ws';
import { startNostrRelay, type NostrRelayServer } from '../handlers/nostr/relay/index.js';
import { P2PErrorCode, isP2PError } from '../src/errors.js';
import { until } from './helpers/wait.js';
import { quietFor } from './fixtures/nostr-members.js';

let relay: NostrRelayServer | undefined;
const clients: WebSocket[] = [];

interface Client {
  socket: WebSocket;
  messages: unknown[][];
  send(...message: unknown[]): void;
  /** Waits until a message matching `predicate` arrived; returns it. */
  waitFor(what: string, predicate: (message: unknown[]) => boolean): Promise<unknown[]>;
}

async function client(url: string): Promise<Client> {
  const socket = new WebSocket(url);
  clients.push(socket);
  const messages: unknown[][] = [];
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return {
    socket,
    messages,
    send: (...message) => socket.send(JSON.stringify(message)),
    async waitFor(what, predicate) {
      await until(() => messages.some(predicate), what, 5_000);
      return messages.find(predicate)!;
    },
  };
}

const sk = generateSecretKey();
const event = (kind: number, tags: string[][], content = 'hi', createdAt = Math.floor(Date.now() / 1000)) =>
  finalizeEvent({ kind, created_at: createdAt, tags, content }, sk);
const eventsOn = (c: Client, subscription: string) => c.messages.filter((m) => m[0] === 'EVENT' && m[1] === subscription).map((m) => m[2]);

test.after.each(async () => {
  for (const socket of clients.splice(0)) socket.terminate();
  await relay?.close();
  relay = undefined;
});

test('listens on 127.0.0.1 and an ephemeral port by default', async () => {
  relay = await startNostrRelay();
  assert.match(relay.url, /^ws:\/\/127\.0\.0\.1:\d+$/);
  assert.is.not(relay.url, 'ws://127.0.0.1:0');
});

test('forwards an ephemeral event to the subscriptions whose tag filters match, and only to them', async () => {
  relay = await startNostrRelay();
  const [room, otherRoom, receiver, publisher] = await Promise.all([client(relay.url), client(relay.url), client(relay.url), client(relay.url)]);
  room.send('REQ', 'room', { kinds: [25051], '#x': ['aa'] });
  otherRoom.send('REQ', 'other', { kinds: [25051], '#x': ['bb'] });
  receiver.send('REQ', 'mine', { kinds: [25051], '#x': ['aa'], '#p': ['cc'] });
  await Promise.all([room.waitFor('EOSE', (m) => m[0] === 'EOSE'), otherRoom.waitFor('EOSE', (m) => m[0] === 'EOSE'), receiver.waitFor('EOSE', (m) => m[0] === 'EOSE')]);
  const presence = event(25051, [['x', 'aa']]);
  const signal = event(25051, [['x', 'aa'], ['p', 'cc']]);
  publisher.send('EVENT', presence);
  publisher.send('EVENT', signal);
  await publisher.waitFor('two OKs', () => publisher.messages.filter((m) => m[0] === 'OK' && m[2] === true).length === 2);
  await until(() => eventsOn(room, 'room').length === 2 && eventsOn(receiver, 'mine').length === 1, 'forwarding', 5_000);
  await quietFor(100);
  assert.equal(eventsOn(room, 'room'), [presence, signal]);
  assert.equal(eventsOn(receiver, 'mine'), [signal]);
  assert.equal(eventsOn(otherRoom, 'other'), []);
  // Identical events again (as a retransmitting client sends them): forwarded again, not dropped as seen.
  publisher.send('EVENT', presence);
  await until(() => eventsOn(room, 'room').length === 3, 'forwarding a repeated event', 5_000);
});

test('refuses a forged event, answers junk with a NOTICE, and keeps serving', async () => {
  relay = await startNostrRelay();
  const c = await client(relay.url);
  const forged = { ...event(25051, [['x', 'aa']]), content: 'altered' };
  c.send('EVENT', forged);
  const ok = await c.waitFor('OK for the forged event', (m) => m[0] === 'OK');
  assert.equal(ok.slice(0, 3), ['OK', forged.id, false]);
  c.socket.send('{not json');
  c.send('WHAT', 1);
  await until(() => c.messages.filter((m) => m[0] === 'NOTICE').length === 2, 'two NOTICEs', 5_000);
  c.send('REQ', 'still', { kinds: [25051] });
  await c.waitFor('EOSE after junk', (m) => m[0] === 'EOSE' && m[1] === 'still');
});

test('refuses events it would have to store by default (OK false "blocked"), and forwards nothing of them', async () => {
  relay = await startNostrRelay();
  const reader = await client(relay.url);
  reader.send('REQ', 'all', { kinds: [0, 1, 3, 10_002, 30_000] });
  await reader.waitFor('EOSE', (m) => m[0] === 'EOSE');
  const publisher = await client(relay.url);
  const stored = [event(1, [], 'note'), event(0, [], '{}'), event(30_000, [['d', 'x']], 'addressable')];
  for (const note of stored) publisher.send('EVENT', note);
  for (const note of stored) {
    const answer = await publisher.waitFor(`the answer to kind ${note.kind}`, (m) => m[0] === 'OK' && m[1] === note.id);
    assert.is(answer[2], false);
    assert.match(String(answer[3]), /^blocked: /);
  }
  // An ephemeral event after them still flows: once it is heard, the others would have been.
  const live = event(25_000, [], 'ephemeral');
  reader.send('REQ', 'live', { kinds: [25_000] });
  await until(() => reader.messages.filter((m) => m[0] === 'EOSE').length === 2, 'the second EOSE', 5_000);
  publisher.send('EVENT', live);
  await reader.waitFor('the ephemeral event', (m) => m[0] === 'EVENT' && m[1] === 'live');
  assert.equal(eventsOn(reader, 'all'), []);
  const later = await client(relay.url);
  later.send('REQ', 'late', { kinds: [0, 1, 30_000] });
  await later.waitFor('EOSE', (m) => m[0] === 'EOSE');
  assert.equal(eventsOn(later, 'late'), []);
});

test('with storeEvents, stores regular events and serves them newest first to a later REQ, with limit', async () => {
  relay = await startNostrRelay({ storeEvents: true });
  const publisher = await client(relay.url);
  const now = Math.floor(Date.now() / 1000);
  const notes = [event(1, [], 'first', now - 2), event(1, [], 'second', now - 1), event(1, [], 'third', now)];
  for (const note of notes) publisher.send('EVENT', note);
  await until(() => publisher.messages.filter((m) => m[0] === 'OK' && m[2] === true).length === 3, 'three OKs', 5_000);
  const reader = await client(relay.url);
  reader.send('REQ', 'notes', { kinds: [1], limit: 2 });
  await reader.waitFor('EOSE', (m) => m[0] === 'EOSE');
  assert.equal(eventsOn(reader, 'notes'), [notes[2], notes[1]]);
});

test('close() is idempotent, drops every client and leaves nothing listening', async () => {
  relay = await startNostrRelay();
  const { url } = relay;
  const c = await client(url);
  const closed = new Promise<void>((resolve) => c.socket.once('close', () => resolve()));
  const [first, second] = [relay.close(), relay.close()];
  await Promise.all([first, second, closed]);
  await relay.close();
  const refused = await client(url).then(() => false, () => true);
  assert.ok(refused, 'the port still accepts connections');
});

test('bad options are refused; a port in use is a coded error', async () => {
  for (const options of [{ port: -1 }, { port: 1.5 }, { host: '' }, { storeEvents: 'yes' }]) {
    const error = await startNostrRelay(options as never).then(() => undefined, (thrown: unknown) => thrown);
    assert.ok(isP2PError(error, P2PErrorCode.INVALID_OPTION), JSON.stringify(options));
  }
  relay = await startNostrRelay();
  const port = Number(new URL(relay.url).port);
  const error = await startNostrRelay({ port }).then(() => undefined, (thrown: unknown) => thrown);
  assert.ok(isP2PError(error, P2PErrorCode.SIGNALING), String(error));
});

test.run();
