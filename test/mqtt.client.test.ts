/**
 * The MQTT transport's own promises, on the embedded aedes broker with real WebRTC: options,
 * presence without flooding (retained presence + last will), privacy against a `#` observer,
 * the room secret, and hostile input on the room's topics.
 */
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startMqttBroker, type MqttBroker } from '../handlers/mqtt/broker.js';
import { getConnectionHandlerMqtt } from '../handlers/mqtt/client.js';
import { MqttSignaling } from '../handlers/mqtt/transport.js';
import type { P2PError } from '../src/errors.js';
import type { SignalingEvents } from '../src/mesh/signaling.js';
import { randomId } from '../src/mesh/options.js';
import { next, until } from './helpers/wait.js';
import { MqttWorld, bothConnected, roundTrip, roomKeys } from './fixtures/mqtt-world.js';

const world = new MqttWorld();
let broker: MqttBroker;
const topic = () => `room-${randomId(12)}`;
const crashes: unknown[] = [];
const onCrash = (error: unknown) => crashes.push(error);

test.before.each(async () => {
  broker = world.track(await startMqttBroker());
  process.on('unhandledRejection', onCrash);
  process.on('uncaughtException', onCrash);
});

test.after.each(async () => {
  await world.cleanup();
  process.off('unhandledRejection', onCrash);
  process.off('uncaughtException', onCrash);
  assert.equal(crashes.splice(0), [], 'no unhandled rejection or exception');
});

const codes = (errors: P2PError[]): string[] => errors.map((error) => error.code);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Transport-level events, recorded. */
function recorder() {
  const log = { joined: [] as string[], left: [] as string[], errors: [] as P2PError[], lost: 0 };
  const events: SignalingEvents = {
    peerJoined: (id) => log.joined.push(id),
    peerLeft: (id) => log.left.push(id),
    signal: () => {},
    lost: () => log.lost++,
    error: (error) => log.errors.push(error),
  };
  return { log, events };
}

test('invalid options are refused at construction with ERR_INVALID_OPTION', async () => {
  const url = broker.url;
  const bad: unknown[] = [
    undefined,
    {},
    { url: 'http://127.0.0.1:1' },
    { url, urls: [url] },
    { urls: [] },
    { urls: [url, url] },
    { url, secret: 42 },
    { url, topicPrefix: 'a/#' },
    { url, topicPrefix: '$SYS' },
    { url, topicPrefix: '' },
    { url, mqttOptions: { reconnectPeriod: 1000 } },
    { url, mqttOptions: { will: { topic: 'x', payload: '' } } },
    { url, mqttOptions: { protocolVersion: 6 } },
    { url, peerTimeoutMs: -1 },
  ];
  for (const options of bad) {
    let error: any;
    try {
      getConnectionHandlerMqtt(options as any);
    } catch (caught) {
      error = caught;
    }
    assert.is(error?.code, 'ERR_INVALID_OPTION', JSON.stringify(options));
  }
  const emptyTopic = await getConnectionHandlerMqtt({ url })({ topic: '' }).catch((error) => error);
  assert.is(emptyTopic?.code, 'ERR_INVALID_OPTION');
  const badPort = await startMqttBroker({ port: 70000 }).catch((error) => error);
  assert.is(badPort?.code, 'ERR_INVALID_OPTION');
});

test('a broker port already in use is ERR_SIGNALING, for TCP and WebSocket alike', async () => {
  const tcpTaken = await startMqttBroker({ port: Number(new URL(broker.url).port) }).catch((error) => error);
  assert.is(tcpTaken?.code, 'ERR_SIGNALING');
  const wsTaken = await startMqttBroker({ wsPort: Number(new URL(broker.wsUrl).port) }).catch((error) => error);
  assert.is(wsTaken?.code, 'ERR_SIGNALING');
});

test('broker close() ends every client, frees both ports and is idempotent', async () => {
  const own = await startMqttBroker();
  const tcp = await world.raw(own.url);
  const ws = await world.raw(own.wsUrl);
  const closed = Promise.all([tcp, ws].map((client) => new Promise<void>((resolve) => client.once('close', () => resolve()))));
  await Promise.all([own.close(), own.close()]);
  await closed;
  await own.close();
  const again = await startMqttBroker({ port: Number(new URL(own.url).port), wsPort: Number(new URL(own.wsUrl).port) });
  await again.close();
});

test('a newcomer learns who is here at once; a crashed client is removed by its will, without a timeout', async () => {
  const room = topic();
  const keys = roomKeys(room);
  let cut: () => void = () => {};
  const crashing = new MqttSignaling({
    url: broker.url,
    keys,
    mqttOptions: { protocolVersion: 4, keepalive: 60 },
    connect: (url, options) => {
      const client = mqtt.connect(url, options);
      // A killed process: the socket goes away without DISCONNECT.
      cut = () => client.stream.destroy();
      return client;
    },
  });
  const here = new MqttSignaling({ url: broker.url, keys, mqttOptions: { protocolVersion: 4 } });
  const a = recorder();
  const b = recorder();
  await crashing.join(room, 'crashing-peer', a.events);
  await here.join(room, 'staying-peer', b.events);
  await until(() => b.log.joined.includes('crashing-peer'), 'the newcomer learning of the first peer', 2_000);
  await until(() => a.log.joined.includes('staying-peer'), 'the first peer learning of the newcomer', 2_000);
  const started = Date.now();
  cut();
  await until(() => b.log.left.includes('crashing-peer'), 'peerLeft of the crashed peer', 3_000);
  assert.ok(Date.now() - started < 3_000, 'well before the 90 s keepalive timeout');
  // Its retained presence is gone: a later newcomer never hears of it.
  const late = recorder();
  const later = new MqttSignaling({ url: broker.url, keys, mqttOptions: { protocolVersion: 4 } });
  await later.join(room, 'late-peer', late.events);
  await until(() => late.log.joined.includes('staying-peer'), 'the late newcomer learning of the staying peer', 2_000);
  await sleep(200);
  assert.not.ok(late.log.joined.includes('crashing-peer'), 'a crashed peer is not announced to newcomers');
  await Promise.all([crashing.leave(), here.leave(), later.leave()]);
});

test('leave() clears the presence: peers see peerLeft, newcomers never see the peer', async () => {
  const room = topic();
  const keys = roomKeys(room);
  const [x, y] = [recorder(), recorder()];
  const first = new MqttSignaling({ url: broker.url, keys, mqttOptions: { protocolVersion: 4 } });
  const second = new MqttSignaling({ url: broker.url, keys, mqttOptions: { protocolVersion: 4 } });
  await first.join(room, 'first', x.events);
  await second.join(room, 'second', y.events);
  await until(() => y.log.joined.includes('first'), 'second learning of first', 2_000);
  await Promise.all([first.leave(), first.leave()]);
  await until(() => y.log.left.includes('first'), 'peerLeft after leave()', 2_000);
  const z = recorder();
  const third = new MqttSignaling({ url: broker.url, keys, mqttOptions: { protocolVersion: 4 } });
  await third.join(room, 'third', z.events);
  await until(() => z.log.joined.includes('second'), 'third learning of second', 2_000);
  await sleep(200);
  assert.not.ok(z.log.joined.includes('first'));
  assert.is(x.log.lost + y.log.lost + z.log.lost, 0, 'leaving is not a lost connection');
  await Promise.all([second.leave(), third.leave()]);
});

test('a stranger wiping a presence cannot hide the peer: it announces itself again', async () => {
  const room = topic();
  const a = await world.open(room, { url: broker.url });
  const keys = await roomKeys(room);
  const presence = await keys.presenceTopic(a.peerId);
  const stranger = await world.raw(broker.url);
  await stranger.publishAsync(presence, Buffer.alloc(0), { qos: 1, retain: true });
  // A newcomer's subscription alone must find A again (as retained presence).
  const deadline = Date.now() + 3_000;
  while (!(await retainedPresence(presence))) {
    assert.ok(Date.now() < deadline, 'the presence was not retained again within 3000 ms');
  }
});

/** Whether a fresh subscriber to `name` is handed a non-empty retained message (within 200 ms). */
async function retainedPresence(name: string): Promise<boolean> {
  const probe = await world.raw(broker.url);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const retained = new Promise<boolean>((resolve) => {
    probe.once('message', (_topic, payload) => resolve(payload.byteLength > 0));
    timer = setTimeout(() => resolve(false), 200);
  });
  await probe.subscribeAsync(name, { qos: 0 });
  const found = await retained;
  clearTimeout(timer);
  await probe.endAsync(true);
  return found;
}

test('no periodic announcements: nothing is published on the room once the pair is linked', async () => {
  const room = topic();
  const captured = await world.observe(broker.url);
  const a = await world.open(room, { url: broker.url });
  const b = await world.open(room, { url: broker.url });
  await bothConnected(a, b, 'pair');
  await sleep(300);
  const duringJoin = captured.length;
  assert.ok(duringJoin > 2, `the observer saw the pairing (${duringJoin} messages)`);
  // Ten heartbeat intervals: heartbeats travel over WebRTC, never over the broker.
  await sleep(3_000);
  await roundTrip(a, b);
  assert.is(captured.length, duringJoin, 'messages published while linked and idle');
});

test('an observer subscribed to # reads no SDP, ICE, peer id, address or topic', async () => {
  const room = topic();
  const captured = await world.observe(broker.url);
  const a = await world.open(room, { url: broker.url, secret: 'shared secret' });
  const b = await world.open(room, { url: broker.url, secret: 'shared secret' });
  await bothConnected(a, b, 'pair');
  await roundTrip(a, b);
  await Promise.all([a.close(), b.close()]);
  await sleep(200);
  assert.ok(captured.length >= 6, `presence, signals and leaves were captured (${captured.length})`);
  const everything = captured.map(({ topic: name, payload }) => `${name}\n${payload.toString('utf8')}`).join('\n');
  // Markers long enough that base64 ciphertext cannot contain them by chance.
  for (const secret of ['v=0', 'a=fingerprint', 'candidate', 'answer', a.peerId, b.peerId, '127.0.0.1', room, 'session']) {
    assert.not.ok(everything.includes(secret), `the observer read ${JSON.stringify(secret)}`);
  }
});

test('a peer with the wrong secret never connects and is reported once, as ERR_UNAUTHORIZED', async () => {
  const room = topic();
  const a = await world.open(room, { url: broker.url, secret: 'right' });
  const unauthorized = next(a.error$, 'ERR_UNAUTHORIZED on the right peer', 5_000, (error) => error.code === 'ERR_UNAUTHORIZED');
  const intruder = await world.open(room, { url: broker.url, secret: 'wrong' });
  await unauthorized;
  await until(() => codes(intruder.errors).includes('ERR_UNAUTHORIZED'), 'ERR_UNAUTHORIZED on the intruder', 5_000);
  // The same forged presence again and again: still one report.
  const keys = await roomKeys(room, 'wrong');
  const forger = await world.raw(broker.url);
  const sealed = await keys.sealPresence(intruder.peerId);
  for (let i = 0; i < 20; i++) await forger.publishAsync(await keys.presenceTopic(intruder.peerId), sealed, { qos: 0, retain: true });
  const friend = await world.open(room, { url: broker.url, secret: 'right' });
  await bothConnected(a, friend, 'the right peers');
  await sleep(300);
  assert.is(a.connects.length, 1, 'only the peer with the right secret connected');
  assert.is(intruder.connects.length, 0);
  assert.is(codes(a.errors).filter((code) => code === 'ERR_UNAUTHORIZED').length, 1, 'one report per offending sender');
});

test('garbage on the room topics gives typed errors, never a crash, and the room keeps working', async () => {
  const room = topic();
  const a = await world.open(room, { url: broker.url });
  const keys = await roomKeys(room);
  const hostile = await world.raw(broker.url);
  const base = (await keys.presenceTopic(a.peerId)).split('/p/')[0]!;
  const someHash = (await keys.peerHash('someone')).replace(/./g, 'a');
  const otherKeys = await roomKeys(room, 'other secret');
  const signalTopic = await keys.signalTopic(a.peerId);
  const junk: Array<[string, string | Buffer]> = [
    [`${base}/p/${someHash}`, 'not base64 at all'],
    [`${base}/p/not-a-hash`, 'whatever'],
    [`${base}/p/${someHash.replace(/a/g, 'b')}`, randomBytes(64)],
    [`${base}/p/${someHash.replace(/a/g, 'c')}`, Buffer.alloc(300 * 1024, 65)],
    [`${base}/p/${someHash.replace(/a/g, 'd')}`, await keys.sealPresence('someone-else')],
    [`${base}/p/${await keys.peerHash('mallory')}`, await otherKeys.sealPresence('mallory')],
    [signalTopic, 'garbage'],
    [signalTopic, randomBytes(200)],
    [signalTopic, await keys.sealSignal('mallory', 'not-a', { v: 1 })],
    [`${base}/s/zzz`, 'ignored'],
  ];
  for (let round = 0; round < 10; round++) {
    for (const [name, payload] of junk) await hostile.publishAsync(name, payload, { qos: 0 });
  }
  await until(() => ['ERR_PROTOCOL', 'ERR_UNAUTHORIZED', 'ERR_PAYLOAD_TOO_LARGE'].every((code) => codes(a.errors).includes(code)), 'typed errors for the junk', 5_000);
  await sleep(300);
  assert.ok(a.errors.length <= junk.length, `reported once per source and kind, not per message (${a.errors.length})`);
  assert.ok(a.errors.every((error) => typeof error.code === 'string' && error.code.startsWith('ERR_')));
  const b = await world.open(room, { url: broker.url });
  await bothConnected(a, b, 'a newcomer after the junk');
  await roundTrip(b, a);
});

test('a flood of forged signals is bounded and reported at most twice (unauthorized, limit exceeded)', async () => {
  const room = topic();
  const a = await world.open(room, { url: broker.url });
  const keys = await roomKeys(room);
  const hostile = await world.raw(broker.url);
  const signalTopic = await keys.signalTopic(a.peerId);
  // Well-formed base64, so each one costs a real decryption attempt.
  for (let batch = 0; batch < 10; batch++) {
    await Promise.all(Array.from({ length: 200 }, () => hostile.publishAsync(signalTopic, randomBytes(100).toString('base64'), { qos: 0 })));
  }
  await until(() => codes(a.errors).includes('ERR_UNAUTHORIZED'), 'the forged signals being reported', 5_000);
  await sleep(1_000);
  assert.ok(a.errors.length <= 2, `${a.errors.length} errors for 2000 forged signals: ${codes(a.errors).join(', ')}`);
  const b = await world.open(room, { url: broker.url });
  await bothConnected(a, b, 'a newcomer after the flood');
});

test.run();
