/**
 * The MQTT handler when brokers fail, with real WebRTC: a broker restart mid-session, several
 * brokers at once with one down or stopped, a broker that appears late, a broker that refuses
 * us, and MQTT 5 on mosquitto.
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startMqttBroker } from '../handlers/mqtt/broker.js';
import { getConnectionHandlerMqtt } from '../handlers/mqtt/client.js';
import { randomId } from '../src/mesh/options.js';
import { next, until } from './helpers/wait.js';
import { freePort, startMosquitto } from './fixtures/mqtt-mosquitto.js';
import { FAST, MqttWorld, bothConnected, roundTrip } from './fixtures/mqtt-world.js';

const world = new MqttWorld();
const topic = () => `room-${randomId(12)}`;

test.after.each(() => world.cleanup());

const ports = (broker: { url: string; wsUrl: string }) => ({ port: Number(new URL(broker.url).port), wsPort: Number(new URL(broker.wsUrl).port) });

test('a broker restart keeps the WebRTC links, and newcomers join afterwards', async () => {
  const room = topic();
  const first = await startMqttBroker();
  const url = first.url;
  let second: { close(): Promise<void> } = first;
  world.track({ close: () => second.close() });
  const a = await world.open(room, { url });
  const b = await world.open(room, { url });
  await bothConnected(a, b, 'pair before the restart');
  const lost = next(a.error$, 'A noticing the broker went away', 5_000, (error) => error.code === 'ERR_SIGNALING');
  await first.close();
  await lost;
  second = await startMqttBroker(ports(first));
  await roundTrip(a, b);
  await roundTrip(b, a);
  const c = await world.open(room, { url });
  await bothConnected(a, c, 'A and the newcomer after the restart');
  await bothConnected(b, c, 'B and the newcomer after the restart');
  assert.is(a.disconnects.length + b.disconnects.length, 0, 'no link dropped during the restart');
});

test('two brokers, one down from the start: peers meet through the other', async () => {
  const room = topic();
  const broker = world.track(await startMqttBroker());
  const urls = [`mqtt://127.0.0.1:${await freePort()}`, broker.url];
  const a = await world.open(room, { urls });
  const b = await world.open(room, { urls });
  await bothConnected(a, b, 'pair through the live broker');
  await roundTrip(a, b);
  // The live broker may pair them before the refused connection is reported: wait for it.
  await until(() => a.errors.some((error) => error.code === 'ERR_SIGNALING'), 'the dead broker reported on error$');
});

test('two brokers (aedes and mosquitto), one stopped mid-test: links stay, each made once, newcomers meet through the other', async () => {
  const room = topic();
  const aedes = world.track(await startMqttBroker());
  const mosquitto = world.track(await startMosquitto());
  const urls = [aedes.url, mosquitto.url];
  const a = await world.open(room, { urls });
  const b = await world.open(room, { urls });
  await bothConnected(a, b, 'pair through both brokers');
  await aedes.close();
  await roundTrip(a, b);
  const c = await world.open(room, { urls });
  await bothConnected(a, c, 'A and the newcomer through mosquitto');
  await bothConnected(b, c, 'B and the newcomer through mosquitto');
  await roundTrip(c, a);
  for (const peer of [a, b, c]) {
    const ids = peer.connects.map((remote) => remote.id);
    assert.is(new Set(ids).size, ids.length, `${peer.peerId}: one link per remote peer despite two brokers`);
    assert.is(peer.disconnects.length, 0, `${peer.peerId}: no link dropped`);
  }
});

test('a broker that comes up late: the handler starts, reports, and joins once it can', async () => {
  const room = topic();
  const port = await freePort();
  const wsPort = await freePort();
  const url = `mqtt://127.0.0.1:${port}`;
  const a = await world.open(room, { url });
  await until(() => a.errors.some((error) => error.code === 'ERR_SIGNALING'), 'ERR_SIGNALING for the missing broker', 5_000);
  world.track(await startMqttBroker({ port, wsPort }));
  const b = await world.open(room, { url });
  await bothConnected(a, b, 'pair once the broker is up');
});

test('a broker that refuses our credentials makes the creator reject with ERR_UNAUTHORIZED', async () => {
  const aedes = await Aedes.createBroker({
    authenticate: (_client, _username, _password, done) => done(Object.assign(new Error('no'), { returnCode: 4 as const }), false),
  });
  const server = createServer((socket) => aedes.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  world.track({
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
  const { port } = server.address() as { port: number };
  const error = await getConnectionHandlerMqtt({ ...FAST, url: `mqtt://127.0.0.1:${port}`, mqttOptions: { username: 'u', password: 'p' } })({ topic: topic() }).then(
    () => undefined,
    (caught) => caught,
  );
  assert.is(error?.code, 'ERR_UNAUTHORIZED');
});

test('MQTT 5 where the broker speaks it (mosquitto); a final ERR_INVALID_OPTION where it does not (aedes)', async () => {
  const room = topic();
  const mosquitto = world.track(await startMosquitto());
  const a = await world.open(room, { url: mosquitto.wsUrl, mqttOptions: { protocolVersion: 5 } });
  const b = await world.open(room, { url: mosquitto.url, mqttOptions: { protocolVersion: 5 } });
  await bothConnected(a, b, 'pair over MQTT 5');
  const aedes = world.track(await startMqttBroker());
  const error = await getConnectionHandlerMqtt({ ...FAST, url: aedes.url, mqttOptions: { protocolVersion: 5 } })({ topic: topic() }).then(
    () => undefined,
    (caught) => caught,
  );
  assert.is(error?.code, 'ERR_INVALID_OPTION');
});

test.run();
