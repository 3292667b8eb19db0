/**
 * Hostile input against the embedded aedes broker (`startMqttBroker`), on its TCP and its
 * WebSocket listener: a seeded corpus of raw MQTT packets (garbage, broken CONNECTs, packets
 * out of order, oversize and absurd lengths, subscribe and publish floods, half-open sockets).
 * The broker must stay up, well-behaved peers in another room must pair through it during and
 * after, and the process's heap must come back near its baseline.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { startMqttBroker, type MqttBroker } from '../handlers/mqtt/broker.js';
import { getConnectionHandlerMqtt } from '../handlers/mqtt/client.js';
import type { WebRTCMeshHandler } from '../src/mesh/mesh.js';
import { DEFAULT_SEED, CorpusRun, mqttCorpus, type Session } from './helpers/hostile-frames.js';
import { closeWithin, halfOpenWebSocket, mib, openWebSocket, runCorpusInProcess, watchEscapes, within } from './helpers/hostile-checks.js';
import { until } from './helpers/wait.js';
import { FAST } from './fixtures/mqtt-world.js';

/** Heap growth allowed once every hostile connection is gone (the corpus itself is ~30 MiB of traffic). */
const HEAP_BOUND_BYTES = 12 * 1024 * 1024;
const MIN_MESSAGES = 10_000;
const PARALLEL = 16;

const handlers: WebRTCMeshHandler[] = [];
const held: Array<{ destroy(): void }> = [];

async function open(broker: MqttBroker, room: string): Promise<WebRTCMeshHandler> {
  const handler = await getConnectionHandlerMqtt({ ...FAST, url: broker.url })({ topic: room });
  handlers.push(handler);
  return handler;
}

/** Sends one session over TCP or WebSocket; a half-open one is kept silent in `held`. */
async function play(broker: MqttBroker, session: Session<Buffer>, overWebSocket: boolean): Promise<void> {
  const { messages, halfOpen } = session;
  const last = messages.length - 1;
  const chunks = messages.map((message, i) => (halfOpen && i === last ? message.subarray(0, Math.max(1, message.length >> 1)) : message));
  if (overWebSocket) {
    const open = await openWebSocket(broker.wsUrl, 'mqtt');
    if (!open) return;
    for (const chunk of chunks) if (open.socket.readyState === WebSocket.OPEN) open.socket.send(chunk);
    if (halfOpen) return void held.push({ destroy: () => open.socket.terminate() });
    await closeWithin(open.closed, () => open.socket.close(), () => open.socket.terminate(), 5_000);
    return;
  }
  const socket: Socket = tcpConnect(Number(new URL(broker.url).port), '127.0.0.1');
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  for (const chunk of chunks) socket.write(chunk);
  if (halfOpen) return void held.push(socket);
  await closeWithin(closed, () => socket.end(), () => socket.destroy(), 5_000);
}

/** Ends politely and waits for the close; a peer that ignores the end is cut after 5 s. */
/** Plain sockets that never finish a handshake: TCP that never sends CONNECT, half an HTTP upgrade. */
function neverFinished(broker: MqttBroker, count: number): void {
  const wsPort = Number(new URL(broker.wsUrl).port);
  for (let i = 0; i < count; i++) {
    const socket = tcpConnect(i % 2 ? wsPort : Number(new URL(broker.url).port), '127.0.0.1');
    socket.on('error', () => {});
    if (i % 2) socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Up`);
    held.push(socket);
  }
}

test('a seeded corpus of hostile MQTT packets: no crash, other rooms pair during and after, heap back near baseline', async () => {
  const escapes = watchEscapes();
  const broker = await startMqttBroker();
  try {
    const corpus = new CorpusRun(mqttCorpus(DEFAULT_SEED, MIN_MESSAGES));
    await runCorpusInProcess({
      label: `hostile MQTT: seed ${DEFAULT_SEED}`,
      open: (room) => open(broker, room),
      corpus,
      // Every third session over WebSocket, the rest over TCP.
      play: (session) => play(broker, session, corpus.sessions % 3 === 0),
      parallel: PARALLEL,
      minMessages: MIN_MESSAGES,
      held,
      handlers,
      heapBound: HEAP_BOUND_BYTES,
      prepare: () => neverFinished(broker, 40),
      afterCorpus: () => assert.ok(held.length > 40, 'half-open sockets are still held'),
    });
    assert.equal(escapes.escaped, [], 'an error escaped as an unhandled rejection or exception');
  } finally {
    escapes.stop();
    for (const socket of held.splice(0)) socket.destroy();
    await Promise.allSettled(handlers.splice(0).map((handler) => handler.close()));
    await broker.close();
  }
});

test('a packet announced over maxPacketBytes gets its client cut off before the broker buffers it, on TCP and WebSocket', async () => {
  const refused = await startMqttBroker({ maxPacketBytes: 1 } as never).then(() => undefined, (error: unknown) => error);
  assert.is((refused as { code?: string })?.code, 'ERR_INVALID_OPTION');
  const broker = await startMqttBroker({ maxPacketBytes: 64 * 1024 });
  try {
    const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'big', keepalive: 30 } as mqttPacket.Packet);
    // A PUBLISH announcing ~200 MB, then its body streamed in 64 KiB pieces until the broker hangs up.
    const header = Buffer.from([0x30, 0x80, 0x80, 0x80, 0x60]);
    const piece = Buffer.alloc(64 * 1024, 1);
    const tcp = tcpConnect(Number(new URL(broker.url).port), '127.0.0.1');
    tcp.on('error', () => {});
    const tcpClosed = new Promise<void>((resolve) => tcp.once('close', () => resolve()));
    tcp.write(connect);
    tcp.write(header);
    let streamed = 0;
    while (!tcp.destroyed && streamed < 256 * 1024 * 1024) {
      streamed += piece.length;
      if (!tcp.write(piece)) await Promise.race([new Promise((resolve) => tcp.once('drain', resolve)), tcpClosed]);
    }
    await within(tcpClosed, 10_000, 'the broker closing the TCP client');
    const ws = new WebSocket(broker.wsUrl, 'mqtt');
    ws.on('error', () => {});
    const wsClosed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    await within(new Promise((resolve) => ws.once('open', resolve)), 5_000, 'the WebSocket opening');
    ws.send(connect);
    ws.send(Buffer.concat([header, piece]));
    await within(wsClosed, 10_000, 'the broker closing the WebSocket client');
    console.log(`oversize MQTT packet: the TCP client was cut off after streaming ${mib(streamed)} of a ~200 MB packet (maxPacketBytes 64 KiB)`);
    assert.ok(streamed < 64 * 1024 * 1024, `the broker read ${mib(streamed)} before hanging up`);
    // Still serving: a normal client connects.
    const ok = await within(new Promise<boolean>((resolve) => {
      const client = tcpConnect(Number(new URL(broker.url).port), '127.0.0.1');
      client.on('error', () => resolve(false));
      client.on('data', (data) => {
        resolve(data[0] === 0x20);
        client.destroy();
      });
      client.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'after', keepalive: 30 } as mqttPacket.Packet));
    }), 5_000, 'a CONNACK after the oversize packets');
    assert.ok(ok, 'no CONNACK after the oversize packets');
  } finally {
    await broker.close();
  }
});

test('a WebSocket frame over the packet cap is refused at its header, before the broker buffers it', async () => {
  const broker = await startMqttBroker({ maxPacketBytes: 64 * 1024 });
  try {
    const socket = await halfOpenWebSocket(broker.wsUrl, []);
    const closed = new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
    // A masked binary frame announcing 48 MiB (64-bit length), then its body in 64 KiB pieces.
    socket.write(Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0x03, 0, 0, 0, 1, 2, 3, 4]));
    const piece = Buffer.alloc(64 * 1024, 0x30);
    let streamed = 0;
    while (!socket.destroyed && streamed < 64 * 1024 * 1024) {
      streamed += piece.length;
      if (!socket.write(piece)) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed]);
    }
    await within(closed, 10_000, 'the broker closing the WebSocket client');
    console.log(`oversize WebSocket frame: the client was cut off after streaming ${mib(streamed)} of a 48 MiB frame (maxPacketBytes 64 KiB)`);
    assert.ok(streamed < 8 * 1024 * 1024, `the broker read ${mib(streamed)} of the frame before hanging up`);
  } finally {
    await broker.close();
  }
});

test('retained messages are capped by bytes (maxRetainedBytes): past it, a message that would grow them is delivered but not kept', async () => {
  const broker = await startMqttBroker({ maxRetainedBytes: 1024 * 1024 });
  const clients: mqtt.MqttClient[] = [];
  try {
    const flooder = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(flooder);
    const body = Buffer.alloc(200 * 1024, 0x61);
    // 20 topics of 200 KiB: only the first five fit in 1 MiB.
    for (let i = 0; i < 20; i++) await flooder.publishAsync(`big/${i}`, body, { qos: 1, retain: true });
    // Clearing one frees its bytes for a later one; shrinking one is always allowed.
    await flooder.publishAsync('big/0', '', { qos: 1, retain: true });
    await flooder.publishAsync('big/late', body, { qos: 1, retain: true });
    await flooder.publishAsync('big/1', 'small', { qos: 1, retain: true });
    const reader = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(reader);
    const kept = new Map<string, number>();
    const live: string[] = [];
    reader.on('message', (topic, payload, packet) => (packet.retain ? kept.set(topic, payload.length) : live.push(topic)));
    await reader.subscribeAsync('big/#', { qos: 1 });
    // aedes may send retained messages after the SUBACK and after live ones.
    await until(() => kept.size >= 5, 'the retained messages being delivered to a new subscriber', 5_000);
    const marker = new Promise<void>((resolve) => reader.on('message', (topic) => topic === 'big/marker' && resolve()));
    await flooder.publishAsync('big/marker', 'live', { qos: 1 });
    await within(marker, 5_000, 'the live marker');
    assert.equal([...kept.keys()].sort(), ['big/1', 'big/2', 'big/3', 'big/4', 'big/late'], `kept: ${[...kept.keys()].join(', ')}`);
    assert.is(kept.get('big/1'), 5);
    // Not kept is still delivered to who is subscribed.
    const seen = new Promise<void>((resolve) => reader.on('message', (topic, payload) => topic === 'big/19' && payload.length === body.length && resolve()));
    await flooder.publishAsync('big/19', body, { qos: 1, retain: true });
    await within(seen, 5_000, 'a message past the cap reaching a subscriber');
    const refused = await startMqttBroker({ maxRetainedBytes: -1 }).then(() => undefined, (error: unknown) => error);
    assert.is((refused as { code?: string })?.code, 'ERR_INVALID_OPTION');
  } finally {
    await Promise.allSettled(clients.map((client) => client.endAsync(true)));
    await broker.close();
  }
});

test('$SYS is closed to clients: nobody learns the client ids needed to take a peer\'s session over', async () => {
  const broker = await startMqttBroker();
  const clients: mqtt.MqttClient[] = [];
  try {
    const spy = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(spy);
    const heard: string[] = [];
    spy.on('message', (topic, payload) => heard.push(`${topic} ${payload.toString()}`));
    for (const filter of ['$SYS/#', '$SYS/+/new/clients']) {
      // mqtt.js turns a refused grant (0x80) into this rejection.
      const refused = await spy.subscribeAsync(filter, { qos: 0 }).then(() => undefined, (error: Error) => error.message);
      assert.match(refused ?? 'granted', /Subscribe error/, `${filter} was granted`);
    }
    await spy.subscribeAsync('#', { qos: 0 });
    const newcomer = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0, clientId: 'a-secret-client-id' });
    clients.push(newcomer);
    // A message of the newcomer's own, after its connection was announced internally.
    await newcomer.publishAsync('probe', 'after connect', { qos: 1 });
    await until(() => heard.some((line) => line.startsWith('probe ')), 'the spy hearing the probe', 5_000);
    assert.not.ok(heard.some((line) => line.includes('a-secret-client-id')), `the spy learnt the client id: ${heard.join(' | ')}`);
  } finally {
    await Promise.allSettled(clients.map((client) => client.endAsync(true)));
    await broker.close();
  }
});

test('retained messages are capped (maxRetainedMessages): past the cap, new topics are delivered but not kept', async () => {
  const broker = await startMqttBroker({ maxRetainedMessages: 100 });
  const clients: mqtt.MqttClient[] = [];
  try {
    const flooder = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(flooder);
    for (let i = 0; i < 1_000; i++) await flooder.publishAsync(`flood/${i}`, `retained ${i}`, { qos: 1, retain: true });
    // Updating and clearing a kept topic still works; a cleared one frees its place.
    await flooder.publishAsync('flood/0', 'updated', { qos: 1, retain: true });
    await flooder.publishAsync('flood/1', '', { qos: 1, retain: true });
    await flooder.publishAsync('flood/late', 'kept', { qos: 1, retain: true });
    const reader = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(reader);
    const kept = new Map<string, string>();
    reader.on('message', (topic, payload, packet) => packet.retain && kept.set(topic, payload.toString()));
    await reader.subscribeAsync('flood/#', { qos: 1 });
    await until(() => kept.size >= 100, 'the retained messages being delivered to a new subscriber', 5_000);
    // A live message after the retained ones: once it arrives, every retained one has.
    const marker = new Promise<void>((resolve) => reader.on('message', (topic) => topic === 'flood/marker' && resolve()));
    await flooder.publishAsync('flood/marker', 'live', { qos: 1 });
    await within(marker, 5_000, 'the live marker');
    assert.is(kept.size, 100, `${kept.size} retained messages kept`);
    assert.is(kept.get('flood/0'), 'updated');
    assert.is(kept.get('flood/late'), 'kept');
    assert.not.ok(kept.has('flood/1'), 'a cleared retained message came back');
    const refused = await startMqttBroker({ maxRetainedMessages: -1 }).then(() => undefined, (error: unknown) => error);
    assert.is((refused as { code?: string })?.code, 'ERR_INVALID_OPTION');
  } finally {
    await Promise.allSettled(clients.map((client) => client.endAsync(true)));
    await broker.close();
  }
});

test.run();
