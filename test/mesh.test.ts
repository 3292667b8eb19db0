import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createWebRTCMeshHandler, type WebRTCMeshHandler, simulateCrash } from '../src/mesh/mesh.js';
import { FrameType } from '../src/mesh/framing.js';
import { P2PError, P2PErrorCode } from '../src/errors.js';
import type { SignalingTransport } from '../src/mesh/signaling.js';
import type { P2PPeer } from '../src/types.js';
import { SignalingBus } from './helpers/signaling-bus.js';
import { RawPeer } from './helpers/raw-peer.js';
import { next } from './helpers/wait.js';

const config = { iceServers: [] };
const fast = { config, heartbeatIntervalMs: 300, peerTimeoutMs: 1500, reconnectMinDelayMs: 50, reconnectMaxDelayMs: 400 };
const opened: Array<{ close(): Promise<void> }> = [];
const rawPeers: RawPeer[] = [];

async function handler(bus: SignalingBus, topic: string, extra: Record<string, unknown> = {}): Promise<WebRTCMeshHandler> {
  const created = await createWebRTCMeshHandler({ signaling: bus.transport(), topic, ...fast, ...extra });
  opened.push(created);
  return created;
}

/** A raw peer 'zzzz' in `topic`, linked to `a` (A offers: its id sorts first). */
async function rawPeerLinkedTo(bus: SignalingBus, a: WebRTCMeshHandler, topic: string): Promise<{ raw: RawPeer; peer: P2PPeer }> {
  const raw = new RawPeer(bus.transport(), 'zzzz');
  rawPeers.push(raw);
  const connected = next(a.connect$, 'A connect$ of the raw peer');
  const linkOpen = raw.connected();
  await raw.join(topic);
  const peer = await connected;
  await linkOpen;
  return { raw, peer };
}

test.after.each(async () => {
  for (const raw of rawPeers.splice(0)) raw.destroy();
  await Promise.allSettled(opened.splice(0).map((h) => h.close()));
});

test('invalid options are refused with ERR_INVALID_OPTION', async () => {
  const bus = new SignalingBus();
  for (const bad of [{ topic: '' }, { topic: 'ok-topic', peerId: '' }, { topic: 'ok-topic', peerTimeoutMs: -1 }, { topic: 'ok-topic', heartbeatIntervalMs: 5000, peerTimeoutMs: 100 }, { topic: 'ok-topic', wrtc: {} }, { topic: 'ok-topic', maxMessageBytes: 2048, maxReassemblyBytes: 1024 }]) {
    const error = await createWebRTCMeshHandler({ signaling: bus.transport(), ...bad } as any).then(() => undefined, (e) => e);
    assert.is(error?.code, 'ERR_INVALID_OPTION', JSON.stringify(bad));
  }
  const noSignaling = await createWebRTCMeshHandler({ topic: 'ok-topic' } as any).then(() => undefined, (e) => e);
  assert.is(noSignaling?.code, 'ERR_INVALID_OPTION');
});

test('a peer that restarts with the same id replaces its stale entry at once (RxDB #5342)', async () => {
  const bus = new SignalingBus();
  const a = await handler(bus, 'restart-topic', { peerId: 'aaaa' });
  const aConnect = next(a.connect$, 'A connect$');
  const oldB = await handler(bus, 'restart-topic', { peerId: 'bbbb', peerTimeoutMs: 60_000, heartbeatIntervalMs: 30_000 });
  const first = await aConnect;
  // The old B vanishes without a goodbye and without its signaling leave being seen.
  const lose = bus.lose;
  bus.lose = () => true;
  await oldB[simulateCrash]();
  bus.lose = lose;
  const gone = next(a.disconnect$, 'A disconnect$ of the stale B', 10_000);
  const again = next(a.connect$, 'A connect$ of the restarted B', 10_000);
  const started = Date.now();
  await handler(bus, 'restart-topic', { peerId: 'bbbb', peerTimeoutMs: 60_000, heartbeatIntervalMs: 30_000 });
  assert.is(await gone, first);
  const second = await again;
  assert.is(second.id, 'bbbb');
  assert.is.not(second, first);
  assert.ok(Date.now() - started < 5000, 'replaced without waiting for the heartbeat timeout');
});

test('replayed signals of a peer\'s earlier session never tear down the links to its current one', async () => {
  const bus = new SignalingBus();
  const slow = { peerTimeoutMs: 60_000, heartbeatIntervalMs: 30_000 };
  // A initiates to B; B initiates to Z: one victim on each side of a handshake.
  const a = await handler(bus, 'replay-topic', { peerId: 'aaaa', ...slow });
  const z = await handler(bus, 'replay-topic', { peerId: 'zzzz', ...slow });
  const oldOnA = next(a.connect$, 'A connect$ of the first B', 15_000, (p) => p.id === 'bbbb');
  const oldOnZ = next(z.connect$, 'Z connect$ of the first B', 15_000, (p) => p.id === 'bbbb');
  const oldB = await handler(bus, 'replay-topic', { peerId: 'bbbb', ...slow });
  await Promise.all([oldOnA, oldOnZ]);
  const oldSession: string = bus.log.find((entry) => entry.from === 'bbbb')!.signal.session;
  await oldB[simulateCrash]();
  const newOnA = next(a.connect$, 'A connect$ of the restarted B', 15_000, (p) => p.id === 'bbbb');
  const newOnZ = next(z.connect$, 'Z connect$ of the restarted B', 15_000, (p) => p.id === 'bbbb');
  const newB = await handler(bus, 'replay-topic', { peerId: 'bbbb', ...slow });
  const [peerOnA, peerOnZ] = await Promise.all([newOnA, newOnZ]);
  const dropped: string[] = [];
  a.disconnect$.subscribe((p) => dropped.push(`A lost ${p.id}`));
  z.disconnect$.subscribe((p) => dropped.push(`Z lost ${p.id}`));

  // Whoever stored the first B's signals sends them again: its offer to Z, its answers to A,
  // and a hello to A from that session naming A's current one, as a lost link's would.
  const stale = bus.log.filter((entry) => entry.from === 'bbbb' && entry.signal.session === oldSession);
  const aSession: string = bus.log.filter((entry) => entry.from === 'aaaa').at(-1)!.signal.session;
  const replayer = bus.transport();
  await replayer.join('replay-topic', 'bbbb', { peerJoined() {}, peerLeft() {}, lost() {}, error() {}, signal() {} });
  assert.ok(stale.some((entry) => entry.to === 'zzzz' && entry.signal.data?.type === 'offer'), 'no old offer to replay');
  for (const entry of stale) await replayer.send(entry.to, entry.signal);
  await replayer.send('aaaa', { v: 1, type: 'hello', session: oldSession, target: aSession });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(dropped, [], `replays of ${stale.length + 1} old signals dropped links`);
  const toB = next(newB.message$, 'B hears A and Z', 10_000, ({ message }) => message.id === 'from-z');
  await a.send(peerOnA, { id: 'from-a', method: 'ping', params: [] });
  await z.send(peerOnZ, { id: 'from-z', method: 'ping', params: [] });
  await toB;
});

test('a peer that sends an absurd chunk header is dropped with ERR_PAYLOAD_TOO_LARGE', async () => {
  const bus = new SignalingBus();
  const a = await handler(bus, 'evil-topic', { peerId: 'aaaa', maxMessageBytes: 1024 * 1024 });
  const { raw, peer } = await rawPeerLinkedTo(bus, a, 'evil-topic');
  const error = next(a.error$, 'A error$', 10_000, (e: P2PError) => e.code === 'ERR_PAYLOAD_TOO_LARGE');
  const dropped = next(a.disconnect$, 'A disconnect$ of the raw peer');
  const header = new Uint8Array(7);
  header[0] = FrameType.START;
  new DataView(header.buffer).setUint32(3, 0xffff_fff0);
  raw.send(header);
  assert.is((await error).peerId, 'zzzz');
  assert.is(await dropped, peer);
  const rejected = await a.send(peer, { id: '1', result: 1 }).then(() => undefined, (e) => e);
  assert.is(rejected?.code, 'ERR_PEER_NOT_CONNECTED');
});

test('a room member flooding one link with signals is dropped with ERR_PROTOCOL once past the per-link cap', async () => {
  const bus = new SignalingBus();
  const a = await handler(bus, 'flood-topic', { peerId: 'aaaa' });
  const { raw, peer } = await rawPeerLinkedTo(bus, a, 'flood-topic');
  const error = next(a.error$, 'ERR_PROTOCOL for the flood', 15_000, (e: P2PError) => e.code === 'ERR_PROTOCOL');
  const dropped = next(a.disconnect$, 'A disconnect$ of the flooding peer', 15_000);
  // Valid, harmless candidates (end of candidates), each under a new signal number.
  await raw.flood(300, { type: 'candidate', candidate: { candidate: '', sdpMid: '0', sdpMLineIndex: 0 } });
  const reported = await error;
  assert.is(reported.peerId, 'zzzz');
  assert.match(reported.message, /more than 256 signals/);
  assert.is(await dropped, peer);
});

test('garbage frames drop the peer with ERR_PROTOCOL; the handler keeps working', async () => {
  const bus = new SignalingBus();
  const a = await handler(bus, 'garbage-topic', { peerId: 'aaaa' });
  const raw = new RawPeer(bus.transport(), 'zzzz');
  rawPeers.push(raw);
  const linkOpen = raw.connected();
  const connected = next(a.connect$, 'A connect$ of the raw peer');
  await raw.join('garbage-topic');
  await connected;
  await linkOpen;
  const error = next(a.error$, 'A error$ ERR_PROTOCOL', 10_000, (e: P2PError) => e.code === 'ERR_PROTOCOL');
  raw.send(Uint8Array.of(FrameType.CONTINUE, 1, 2, 3));
  await error;
  const honest = next(a.connect$, 'A connect$ of an honest peer', 15_000, (p) => p.id === 'mmmm');
  const b = await handler(bus, 'garbage-topic', { peerId: 'mmmm' });
  const bPeer = next(b.connect$, 'B connect$');
  const peerB = await honest;
  await bPeer;
  const reply = next(b.response$, 'B response$');
  await a.send(peerB, { id: 'after-garbage', result: false });
  assert.equal((await reply).response, { id: 'after-garbage', result: false });
});

test('a dropped link is re-made with backoff while the peer is still in the room', async () => {
  const bus = new SignalingBus();
  const a = await handler(bus, 'relink-topic', { peerId: 'aaaa' });
  const raw = new RawPeer(bus.transport(), 'zzzz');
  rawPeers.push(raw);
  const firstOpen = raw.connected();
  const firstConnect = next(a.connect$, 'A first connect$');
  await raw.join('relink-topic');
  const first = await firstConnect;
  await firstOpen;
  const gone = next(a.disconnect$, 'A disconnect$ after the link dropped');
  const secondConnect = next(a.connect$, 'A connect$ on the re-made link');
  const secondOpen = raw.connected();
  raw.destroy();
  assert.is(await gone, first);
  const second = await secondConnect;
  await secondOpen;
  assert.is.not(second, first);
  assert.is(raw.offers, 2);
});

test('losing the signaling connection keeps open links and re-joins for newcomers', async () => {
  const bus = new SignalingBus();
  const a = await handler(bus, 'lost-topic', { peerId: 'aaaa' });
  const aSeesB = next(a.connect$, 'A connect$ B');
  const b = await handler(bus, 'lost-topic', { peerId: 'bbbb' });
  const bSeesA = next(b.connect$, 'B connect$ A');
  const [peerB] = await Promise.all([aSeesB, bSeesA]);
  const lostError = next(a.error$, 'A error$ for the lost signaling', 5000, (e: P2PError) => e.code === 'ERR_SIGNALING');
  bus.dropConnection('aaaa');
  await lostError;
  const reply = next(b.response$, 'B response$ over the surviving link');
  await a.send(peerB, { id: 'still-here', result: 0 });
  assert.equal((await reply).response, { id: 'still-here', result: 0 });
  const aSeesC = next(a.connect$, 'A connect$ of a newcomer after the re-join', 15_000, (p) => p.id === 'cccc');
  await handler(bus, 'lost-topic', { peerId: 'cccc' });
  await aSeesC;
  assert.is(bus.memberCount('lost-topic'), 3);
});

test('lost signals (lossy transport) still end in a link', async () => {
  const bus = new SignalingBus();
  let dropped = 0;
  bus.lose = (_from, _to, signal: any) => signal.type === 'hello' && dropped++ < 2;
  // Ids make the newcomer the non-initiator, so the pair depends on its hello getting through.
  const a = await handler(bus, 'lossy-topic', { peerId: 'bbbb', connectTimeoutMs: 500 });
  const aConnect = next(a.connect$, 'A connect$ despite lost hellos', 20_000);
  bus.lose = (from, _to, signal: any) => (from === 'bbbb' || signal.type === 'hello') && dropped++ < 4;
  await handler(bus, 'lossy-topic', { peerId: 'aaaa', connectTimeoutMs: 500 });
  await aConnect;
  assert.ok(dropped >= 2);
});

test("roundTripTime(peer) gives the link pair's round trip on both sides, and undefined for a peer not live here", async () => {
  const bus = new SignalingBus();
  const a = await handler(bus, 'rtt-topic');
  const aConnect = next(a.connect$, 'A connect$');
  const b = await handler(bus, 'rtt-topic');
  const bConnect = next(b.connect$, 'B connect$');
  const [peerB, peerA] = await Promise.all([aConnect, bConnect]);
  const times = await Promise.all([a.roundTripTime(peerB), b.roundTripTime(peerA)]);
  console.log(`round trip on a loopback link: ${times.map((ms) => ms?.toFixed(2)).join(' ms and ')} ms`);
  for (const ms of times) assert.ok(typeof ms === 'number' && ms >= 0 && ms < 5_000, `round trip ${ms}`);
  assert.is(await a.roundTripTime({ id: peerB.id }), undefined, 'a look-alike peer object is not a live peer');
  assert.is(await a.roundTripTime(peerA), undefined, 'its own peer object from another handler');
  const gone = next(a.disconnect$, 'A disconnect$');
  await b.close();
  await gone;
  assert.is(await a.roundTripTime(peerB), undefined, 'a peer that left');
});

test('node-datachannel passed explicitly (with bindAddress) connects and carries 1 MiB', async () => {
  const ndc = await import('node-datachannel/polyfill');
  const bus = new SignalingBus();
  const options = { wrtc: ndc as any, config: { iceServers: [], bindAddress: '127.0.0.1' } };
  const a = await handler(bus, 'ndc-topic', options);
  const aConnect = next(a.connect$, 'A connect$ over node-datachannel');
  const b = await handler(bus, 'ndc-topic', options);
  const bConnect = next(b.connect$, 'B connect$ over node-datachannel');
  const [peerB] = await Promise.all([aConnect, bConnect]);
  const reply = next(b.response$, 'B response$ of 1 MiB');
  const big = 'n'.repeat(1024 * 1024);
  await a.send(peerB, { id: 'ndc', result: big });
  assert.is((await reply).response.result, big);
});

test('a link survives an event loop blocked for longer than peerTimeoutMs', async () => {
  const bus = new SignalingBus();
  const timing = { heartbeatIntervalMs: 100, peerTimeoutMs: 400 };
  const a = await handler(bus, 'blocked-topic', timing);
  const aConnect = next(a.connect$, 'A connect$');
  const b = await handler(bus, 'blocked-topic', timing);
  const bConnect = next(b.connect$, 'B connect$');
  const [peerB] = await Promise.all([aConnect, bConnect]);
  let disconnects = 0;
  a.disconnect$.subscribe(() => disconnects++);
  b.disconnect$.subscribe(() => disconnects++);
  // A long synchronous task (a big JSON.parse, a slow render) on a busy app.
  const blockedUntil = Date.now() + 1_000;
  while (Date.now() < blockedUntil);
  // Several heartbeat rounds must pass with both links alive and usable.
  for (let round = 0; round < 5; round++) {
    const [reply] = await Promise.all([
      next(b.response$, `B response$ round ${round}`, 2_000),
      a.send(peerB, { id: `round-${round}`, result: round }),
    ]);
    assert.is(reply.response.id, `round-${round}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  assert.is(disconnects, 0);
});

test('close() during connecting leaves nothing running and completes streams', async () => {
  const bus = new SignalingBus();
  const a = await handler(bus, 'close-topic', { peerId: 'aaaa' });
  await handler(bus, 'close-topic', { peerId: 'bbbb' });
  let completed = 0;
  for (const stream of [a.connect$, a.disconnect$, a.message$, a.response$, a.error$]) stream.subscribe({ complete: () => completed++ });
  await Promise.all([a.close(), a.close()]);
  assert.is(completed, 5);
  const error = await a.send({ id: 'bbbb' }, { id: 'x', result: 1 }).then(() => undefined, (e) => e);
  assert.is(error?.code, 'ERR_DESTROYED');
});

test('maxPeersPerTopic: a full room ignores newcomers (ERR_LIMIT_EXCEEDED, no connection) until someone leaves', async () => {
  const bus = new SignalingBus();
  const a = await handler(bus, 'capped-topic', { peerId: 'aaaa', maxPeersPerTopic: 2 });
  const connected: string[] = [];
  a.connect$.subscribe((peer) => connected.push(peer.id));
  const two = new Promise<void>((resolve) => a.connect$.subscribe(() => connected.length === 2 && resolve()));
  const b = await handler(bus, 'capped-topic', { peerId: 'bbbb' });
  await handler(bus, 'capped-topic', { peerId: 'cccc' });
  await two;
  const refused = next(a.error$, 'A reporting its full room', 10_000, (error: P2PError) => error.code === 'ERR_LIMIT_EXCEEDED');
  // D does not initiate to A (ids order): its hello is what A ignores, and what it repeats.
  const d = await handler(bus, 'capped-topic', { peerId: 'dddd', connectTimeoutMs: 2_000 });
  assert.is((await refused).peerId, 'dddd');
  assert.equal(connected.sort(), ['bbbb', 'cccc'], 'the third peer did not get in');
  // B leaves: D's next attempt fills the freed place.
  const dIn = next(a.connect$, 'A meeting D once B left', 15_000, (peer) => peer.id === 'dddd');
  await b.close();
  await dIn;
  assert.ok(d.peerId === 'dddd');
});

test('an error a transport reports while joining reaches error$ once the caller holds the handler', async () => {
  const transport: SignalingTransport = {
    join: async (_room, _peerId, events) => events.error(new P2PError(P2PErrorCode.PROTOCOL, 'heard while joining')),
    send: () => {},
    leave: async () => {},
  };
  const created = await createWebRTCMeshHandler({ signaling: transport, topic: 'early-error', config });
  opened.push(created);
  const error = await next(created.error$, 'error$ of the error reported during the join');
  assert.match(error.message, /heard while joining/);
});

test.run();
