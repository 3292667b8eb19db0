/** The mesh core over several signaling transports at once (redundant signaling). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createWebRTCMeshHandler, type WebRTCMeshHandler } from '../src/mesh/mesh.js';
import { P2PError, P2PErrorCode } from '../src/errors.js';
import type { SignalingTransport } from '../src/mesh/signaling.js';
import type { P2PPeer } from '../src/types.js';
import { SignalingBus } from './helpers/signaling-bus.js';
import { next } from './helpers/wait.js';

const base = { config: { iceServers: [] }, reconnectMinDelayMs: 50, reconnectMaxDelayMs: 300 };
const opened: WebRTCMeshHandler[] = [];

async function handler(signaling: SignalingTransport | SignalingTransport[], topic: string, extra: Record<string, unknown> = {}): Promise<WebRTCMeshHandler> {
  const created = await createWebRTCMeshHandler({ signaling, topic, ...base, ...extra });
  opened.push(created);
  return created;
}

/** A transport whose server is unreachable (or, with a final code, refuses us). */
function downTransport(code: P2PError['code'] = P2PErrorCode.SIGNALING): SignalingTransport & { attempts: number } {
  const transport = {
    attempts: 0,
    join: async () => {
      transport.attempts++;
      throw new P2PError(code, 'server unreachable (test)');
    },
    send: () => {},
    leave: async () => {},
  };
  return transport;
}

function collect<T>(stream: { subscribe(fn: (value: T) => void): unknown }): T[] {
  const values: T[] = [];
  stream.subscribe((value) => values.push(value));
  return values;
}

test.after.each(async () => {
  await Promise.allSettled(opened.splice(0).map((h) => h.close()));
});

test('a pair on two transports gets exactly one link although every signal arrives twice', async () => {
  const [one, two] = [new SignalingBus(), new SignalingBus()];
  const a = await handler([one.transport(), two.transport()], 'twice-topic');
  const aConnects = collect<P2PPeer>(a.connect$);
  const aConnect = next(a.connect$, 'A connect$');
  const b = await handler([one.transport(), two.transport()], 'twice-topic');
  const bConnects = collect<P2PPeer>(b.connect$);
  const bConnect = next(b.connect$, 'B connect$');
  const [peerB] = await Promise.all([aConnect, bConnect]);
  assert.ok(one.log.some((entry) => entry.signal.type === 'rtc'), 'signals went through transport one');
  assert.ok(two.log.some((entry) => entry.signal.type === 'rtc'), 'signals went through transport two');
  const reply = next(b.response$, 'B response$');
  await a.send(peerB, { id: 'once', result: null });
  assert.equal((await reply).response, { id: 'once', result: null });
  assert.is(aConnects.length, 1);
  assert.is(bConnects.length, 1);
});

test('a transport that is down from the start does not stop the others', async () => {
  const bus = new SignalingBus();
  const down = downTransport();
  const a = await handler([down, bus.transport()], 'down-topic');
  const aConnect = next(a.connect$, 'A connect$ through the working transport');
  await handler([downTransport(), bus.transport()], 'down-topic');
  await aConnect;
  // It keeps being retried with backoff, and each failure is reported, not thrown.
  await next(a.error$, 'A error$ for the down transport', 5_000, (e: P2PError) => e.code === 'ERR_SIGNALING');
  assert.ok(down.attempts >= 1);
});

test('one transport dropping keeps links, and a newcomer on the other still joins', async () => {
  const [one, two] = [new SignalingBus(), new SignalingBus()];
  const a = await handler([one.transport(), two.transport()], 'drop-topic', { peerId: 'aaaa' });
  const aSeesB = next(a.connect$, 'A connect$ B', 15_000, (peer) => peer.id === 'bbbb');
  const b = await handler([one.transport(), two.transport()], 'drop-topic', { peerId: 'bbbb' });
  const bSeesA = next(b.connect$, 'B connect$ A');
  const [peerB] = await Promise.all([aSeesB, bSeesA]);
  let disconnects = 0;
  a.disconnect$.subscribe(() => disconnects++);
  const lost = next(a.error$, 'A error$ for the dropped transport', 5_000, (e: P2PError) => e.code === 'ERR_SIGNALING');
  one.dropConnection('aaaa');
  await lost;
  const aSeesC = next(a.connect$, 'A connect$ of a newcomer on transport two only', 15_000, (peer) => peer.id === 'cccc');
  await handler([two.transport()], 'drop-topic', { peerId: 'cccc' });
  await aSeesC;
  const reply = next(b.response$, 'B response$ over the surviving link');
  await a.send(peerB, { id: 'still', result: 0 });
  assert.equal((await reply).response, { id: 'still', result: 0 });
  assert.is(disconnects, 0);
});

test('when every transport refuses for good, the creator rejects with that code', async () => {
  const error = await createWebRTCMeshHandler({ signaling: [downTransport('ERR_UNAUTHORIZED'), downTransport('ERR_UNAUTHORIZED')], topic: 'refused-topic', ...base }).then(
    () => undefined,
    (e) => e,
  );
  assert.is(error?.code, 'ERR_UNAUTHORIZED');
});

test('a final refusal on one transport still lets the handler work through another', async () => {
  const bus = new SignalingBus();
  const refused = downTransport('ERR_UNAUTHORIZED');
  const a = await handler([refused, bus.transport()], 'half-refused-topic');
  const aConnect = next(a.connect$, 'A connect$');
  await handler(bus.transport(), 'half-refused-topic');
  await aConnect;
  assert.is(refused.attempts, 1, 'a final refusal is not retried');
});

test('peerDetails adds read-only fields to every peer object', async () => {
  const bus = new SignalingBus();
  const details = (id: string) => ({ publicKey: `key-of-${id}` });
  const a = await handler(bus.transport(), 'details-topic', { peerDetails: details });
  const aConnect = next(a.connect$, 'A connect$');
  const b = await handler(bus.transport(), 'details-topic', { peerDetails: details });
  const peer = (await aConnect) as P2PPeer & { publicKey: string };
  assert.is(peer.id, b.peerId);
  assert.is(peer.publicKey, `key-of-${b.peerId}`);
  assert.ok(Object.isFrozen(peer));
});

test('an empty or malformed signaling list is refused', async () => {
  for (const signaling of [[], [{}], [new SignalingBus().transport(), null]]) {
    const error = await createWebRTCMeshHandler({ signaling: signaling as any, topic: 'bad-list-topic' }).then(() => undefined, (e) => e);
    assert.is(error?.code, 'ERR_INVALID_OPTION', JSON.stringify(signaling));
  }
});

test.run();
