/**
 * Scale-out: several signaling server processes on one Redis (Debian's redis-server, started
 * here) act as one. Peers on different processes find each other and connect over real
 * WebRTC; one process killed with SIGKILL drops only its own clients, which fail over to
 * another URL of the same service and are back in the room; each process exits by itself
 * after close (its Redis clients quit).
 */
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getConnectionHandlerSocketIo } from '../handlers/socket-io/client.js';
import { startSocketIoSignalingServer } from '../handlers/socket-io/server/index.js';
import { sealToken, tokenMatches } from '../handlers/socket-io/server/claims.js';
import { P2PErrorCode } from '../src/errors.js';
import type { WebRTCMeshHandler } from '../src/mesh/mesh.js';
import type { P2PPeer } from '../src/types.js';
import { startRedis, startServerProcess, type ChildService } from './fixtures/socket-io-redis-cluster.js';
import { next, until } from './helpers/wait.js';

const WAIT_MS = 10_000;
const LINK_MS = 30_000;

let redis: ChildService;
let servers: ChildService[] = [];
const handlers: WebRTCMeshHandler[] = [];
const sockets: ClientSocket[] = [];

test.before(async () => {
  redis = await startRedis();
});

test.after.each(async () => {
  for (const socket of sockets.splice(0)) socket.disconnect();
  await Promise.allSettled(handlers.splice(0).map((handler) => handler.close()));
  await Promise.allSettled(servers.splice(0).map((server) => server.stop()));
});

test.after(async () => {
  await redis?.stop();
});

async function cluster(size: number): Promise<ChildService[]> {
  servers = await Promise.all(Array.from({ length: size }, () => startServerProcess(redis.url)));
  return servers;
}

async function peer(url: string | string[], topic: string, peerId: string): Promise<WebRTCMeshHandler> {
  const creator = getConnectionHandlerSocketIo({
    url,
    peerId,
    config: { iceServers: [] },
    heartbeatIntervalMs: 1_000,
    peerTimeoutMs: 8_000,
    reconnectMinDelayMs: 100,
    reconnectMaxDelayMs: 1_000,
  });
  const handler = await creator({ topic });
  handlers.push(handler);
  return handler;
}

/** `from` sends `to` a message and waits for it to arrive. */
async function exchange(from: WebRTCMeshHandler, peerOnFrom: P2PPeer, to: WebRTCMeshHandler, id: string): Promise<void> {
  const arrived = next(to.message$, `${to.peerId} gets ${id}`, WAIT_MS, ({ message }) => message.id === id);
  await from.send(peerOnFrom, { id, method: 'ping', params: [from.peerId] });
  const { peer, message } = await arrived;
  assert.is(peer.id, from.peerId);
  assert.equal(message.params, [from.peerId]);
}

const connectTo = (handler: WebRTCMeshHandler, id: string) => next(handler.connect$, `${handler.peerId} connect$ ${id}`, LINK_MS, (peer) => peer.id === id);

function raw(url: string): Promise<ClientSocket> {
  const socket = ioClient(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

function emitAck(socket: ClientSocket, event: string, payload: unknown): Promise<any> {
  return socket.timeout(WAIT_MS).emitWithAck(event, payload);
}

function joinedList(socket: ClientSocket, room: string, match: (ids: string[]) => boolean, what: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (socket.off('joined', listener), reject(new Error(`${what} within ${WAIT_MS} ms`))), WAIT_MS);
    const listener = (ids: string[], r: string) => {
      if (r !== room || !match(ids)) return;
      clearTimeout(timer);
      socket.off('joined', listener);
      resolve(ids);
    };
    socket.on('joined', listener);
  });
}

test('the redis option and the client URL list are checked, and an unreachable Redis fails start() with a typed error', async () => {
  for (const url of [[], ['ws://ok.example', 'ftp://bad.example'], [42]]) {
    assert.throws(() => getConnectionHandlerSocketIo({ url: url as string[] }), (error: any) => error.code === P2PErrorCode.INVALID_OPTION);
  }
  for (const redisUrl of ['http://x', '', 42]) {
    await startSocketIoSignalingServer({ redis: redisUrl as string }).then(
      () => assert.unreachable(`accepted redis ${String(redisUrl)}`),
      (error) => assert.is(error.code, P2PErrorCode.INVALID_OPTION),
    );
  }
  const { freePort } = await import('./fixtures/mqtt-mosquitto.js');
  const nobody = `redis://127.0.0.1:${await freePort()}`;
  await startSocketIoSignalingServer({ redis: nobody }).then(
    (server) => (void server.close(), assert.unreachable('started without Redis')),
    (error) => assert.is(error.code, P2PErrorCode.SIGNALING),
  );
});

test('rooms, id ownership, routing, room-only relay and leaves span the processes', async () => {
  const [a, b] = await cluster(2);
  const onA = await raw(a!.url);
  const onB = await raw(b!.url);
  const bothListed = joinedList(onA, 'span-room', (ids) => ids.length === 2, 'A sees both members');
  assert.equal(await emitAck(onA, 'join', { room: 'span-room', peerId: 'alpha', token: 'alpha-secret' }), { ok: true });
  assert.equal(await emitAck(onB, 'join', { room: 'span-room', peerId: 'beta' }), { ok: true });
  assert.equal(await bothListed, ['alpha', 'beta']);

  // One id, one holder, across processes; a wrong or missing token cannot take it.
  const thief = await raw(b!.url);
  const taken = await emitAck(thief, 'join', { room: 'span-room', peerId: 'alpha' });
  assert.is(taken.error.code, P2PErrorCode.ID_TAKEN);
  assert.is((await emitAck(thief, 'join', { room: 'span-room', peerId: 'alpha', token: 'wrong' })).error.code, P2PErrorCode.ID_TAKEN);

  // Signals reach a peer on the other process; `from` is checked; no relay outside the room.
  const delivered = new Promise<any>((resolve) => onB.once('signal', resolve));
  assert.equal(await emitAck(onA, 'signal', { from: 'alpha', to: 'beta', room: 'span-room', signal: { n: 1 } }), { ok: true });
  assert.equal(await delivered, { from: 'alpha', to: 'beta', room: 'span-room', signal: { n: 1 } });
  const spoofed = await emitAck(onA, 'signal', { from: 'beta', to: 'beta', room: 'span-room', signal: 1 });
  assert.is(spoofed.error.code, P2PErrorCode.PROTOCOL);
  assert.equal(await emitAck(thief, 'join', { room: 'other-room', peerId: 'gamma' }), { ok: true });
  const outside = await emitAck(thief, 'signal', { from: 'gamma', to: 'beta', room: 'other-room', signal: 1 });
  assert.is(outside.error.code, P2PErrorCode.PEER_NOT_CONNECTED);

  // A takeover with the token from the other process displaces the holder there.
  const displaced = new Promise<any>((resolve) => onA.once('error', resolve));
  const heir = await raw(b!.url);
  assert.equal(await emitAck(heir, 'join', { room: 'span-room', peerId: 'alpha', token: 'alpha-secret' }), { ok: true });
  assert.is((await displaced).code, P2PErrorCode.ID_TAKEN);

  // A member on B leaving is news on A (and vice versa).
  const onlyAlpha = joinedList(heir, 'span-room', (ids) => ids.length === 1 && ids[0] === 'alpha', 'the heir sees beta leave');
  onB.disconnect();
  await onlyAlpha;
});

test('an id claim in progress hears none of the holder\'s signals, and a racing claim never refuses the holder\'s own takeover', async () => {
  const [a, b, c] = await cluster(3);
  const victim = await raw(a!.url);
  const member = await raw(a!.url);
  const listed = joinedList(member, 'claim-room', (ids) => ids.length === 2, 'the member sees both');
  assert.equal(await emitAck(victim, 'join', { room: 'claim-room', peerId: 'victim', token: 'victim-secret' }), { ok: true });
  assert.equal(await emitAck(member, 'join', { room: 'claim-room', peerId: 'member' }), { ok: true });
  await listed;

  // A stopped process holds every cluster request for its full timeout: a claim's check then
  // lasts ~3 s, while the member keeps signalling the victim.
  const thief = await raw(b!.url);
  const overheard: unknown[] = [];
  thief.on('signal', (signal: unknown) => overheard.push(signal));
  let heard = 0;
  victim.on('signal', () => heard++);
  c!.child.kill('SIGSTOP');
  try {
    let settled = false;
    const claim = emitAck(thief, 'join', { room: 'claim-room', peerId: 'victim' }).finally(() => (settled = true));
    let sent = 0;
    while (!settled) {
      await emitAck(member, 'signal', { from: 'member', to: 'victim', room: 'claim-room', signal: { n: sent++ } });
      await Promise.race([claim.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 50))]);
    }
    const refused = await claim;
    assert.ok(refused.error?.code === P2PErrorCode.SIGNALING || refused.error?.code === P2PErrorCode.ID_TAKEN, JSON.stringify(refused));
    console.log(`id claim under a stalled process: refused with ${refused.error.code} after ${sent} signals to the holder; the claimant heard ${overheard.length}`);
    assert.ok(sent > 5, `only ${sent} signals were sent during the claim`);
    assert.equal(overheard, [], 'the claimant heard the holder\'s signals');
  } finally {
    c!.child.kill('SIGCONT');
  }
  await until(() => heard > 0, 'the victim hearing the member', WAIT_MS);

  // The holder takes its own id over from a new socket while a stranger claims it at once,
  // from another process: the stranger is refused, the holder never.
  let holder = victim;
  for (let round = 0; round < 6; round++) {
    const heir = await raw((round % 2 ? a : b)!.url);
    const stranger = await raw((round % 2 ? b : a)!.url);
    const displaced = new Promise<any>((resolve) => holder.once('error', resolve));
    const [own, other] = await Promise.all([
      emitAck(heir, 'join', { room: 'claim-room', peerId: 'victim', token: 'victim-secret' }),
      emitAck(stranger, 'join', { room: 'claim-room', peerId: 'victim' }),
    ]);
    assert.equal(own, { ok: true }, `round ${round}: the holder's takeover was refused: ${JSON.stringify(own)}`);
    assert.is(other.error?.code, P2PErrorCode.ID_TAKEN, `round ${round}: the stranger got ${JSON.stringify(other)}`);
    assert.is((await displaced).code, P2PErrorCode.ID_TAKEN);
    holder = heir;
  }
});

test('takeover tokens travel salted: one token claimed twice leaves two unrelated hashes, each matching only that token', () => {
  const first = sealToken('room', 'alice', 'secret');
  const second = sealToken('room', 'alice', 'secret');
  assert.is.not(first.hash, second.hash);
  assert.is.not(first.salt, second.salt);
  for (const sealed of [first, second]) {
    assert.ok(tokenMatches('secret', 'room', 'alice', sealed));
    assert.not.ok(tokenMatches('secret2', 'room', 'alice', sealed));
    assert.not.ok(tokenMatches('secret', 'room', 'bob', sealed));
    assert.not.ok(tokenMatches(undefined, 'room', 'alice', sealed));
  }
  assert.not.ok(tokenMatches('secret', 'room', 'alice', undefined));
});

test('peers on different processes connect over WebRTC; a third joins later', async () => {
  const [a, b, c] = await cluster(3);
  const one = await peer(a!.url, 'scale-topic', 'peer-one');
  const oneSeesTwo = connectTo(one, 'peer-two');
  const two = await peer(b!.url, 'scale-topic', 'peer-two');
  const twoSeesOne = connectTo(two, 'peer-one');
  const [twoOnOne, oneOnTwo] = await Promise.all([oneSeesTwo, twoSeesOne]);
  await exchange(one, twoOnOne, two, 'one-to-two');
  await exchange(two, oneOnTwo, one, 'two-to-one');

  const oneSeesThree = connectTo(one, 'peer-three');
  const twoSeesThree = connectTo(two, 'peer-three');
  const three = await peer(c!.url, 'scale-topic', 'peer-three');
  const threeSeesBoth = Promise.all([connectTo(three, 'peer-one'), connectTo(three, 'peer-two')]);
  const [threeOnOne] = await Promise.all([oneSeesThree, twoSeesThree]);
  const [oneOnThree] = await threeSeesBoth;
  await exchange(one, threeOnOne, three, 'one-to-three');
  await exchange(three, oneOnThree, one, 'three-to-one');
});

test('SIGKILL of one process: links stay, its clients fail over to another and are back in the room', async () => {
  const [a, b, c] = await cluster(3);
  // Each peer names the service by all its URLs, its own process first.
  const urls = (first: ChildService) => [first.url, ...servers.filter((s) => s !== first).map((s) => s.url)];
  const one = await peer(urls(a!), 'kill-topic', 'peer-one');
  const oneSees = Promise.all([connectTo(one, 'peer-two'), connectTo(one, 'peer-three')]);
  const two = await peer(urls(b!), 'kill-topic', 'peer-two');
  const twoSees = Promise.all([connectTo(two, 'peer-one'), connectTo(two, 'peer-three')]);
  const three = await peer(urls(c!), 'kill-topic', 'peer-three');
  const threeSees = Promise.all([connectTo(three, 'peer-one'), connectTo(three, 'peer-two')]);
  const [[twoOnOne], [oneOnTwo, threeOnTwo], [, twoOnThree]] = await Promise.all([oneSees, twoSees, threeSees]);

  const disconnects: string[] = [];
  for (const handler of [one, two, three]) handler.disconnect$.subscribe((p) => disconnects.push(`${handler.peerId}-${p.id}`));
  const oneLost = next(one.error$, 'peer-one notices its server died', WAIT_MS, (error) => error.code === P2PErrorCode.SIGNALING);
  assert.is(await a!.kill(), 'SIGKILL');
  await oneLost;

  // A newcomer on a surviving process reaches peer-one: it is in the room again, via B or C.
  const fourSeesOne = next((await peer(c!.url, 'kill-topic', 'peer-four')).connect$, 'peer-four connect$ peer-one', LINK_MS, (p) => p.id === 'peer-one');
  const four = handlers[handlers.length - 1]!;
  const oneOnFour = await fourSeesOne;
  await exchange(four, oneOnFour, one, 'four-to-one');

  // The links made before the kill carried on: no disconnect$, messages still flow.
  await exchange(two, threeOnTwo, three, 'two-to-three-after');
  await exchange(three, twoOnThree, two, 'three-to-two-after');
  await exchange(one, twoOnOne, two, 'one-to-two-after');
  await exchange(two, oneOnTwo, one, 'two-to-one-after');
  assert.equal(disconnects, [], 'no link dropped');
});

test('Redis restarted under running processes: they survive, and rooms span them again afterwards', async () => {
  const [a, b] = await cluster(2);
  const port = Number(new URL(redis.url).port);
  const onA = await raw(a!.url);
  assert.equal(await emitAck(onA, 'join', { room: 'outage-room', peerId: 'before' }), { ok: true });
  await redis.stop();
  // During the outage a join needs the other process: a typed refusal, never a crash or a hang.
  const during = await raw(b!.url);
  const refused = await emitAck(during, 'join', { room: 'outage-room', peerId: 'during' });
  assert.is(refused.error?.code, P2PErrorCode.SIGNALING, `join during the outage: ${JSON.stringify(refused)}`);
  redis = await startRedis(port);
  // Once both processes are back on Redis, a join on B is listed on A again.
  const onB = await raw(b!.url);
  // (Lists made while a process was not yet back on Redis miss its members; later lists heal.)
  const seen = joinedList(onA, 'outage-room', (ids) => ids.includes('after') && ids.includes('before'), 'A sees both members after the restart');
  let answer: any;
  for (let attempt = 0; attempt < 20; attempt++) {
    answer = await emitAck(onB, 'join', { room: 'outage-room', peerId: 'after' });
    if (answer.ok) break;
    await new Promise((resolve) => setTimeout(resolve, 250)); // a retry cadence, not a synchronisation
  }
  assert.equal(answer, { ok: true });
  assert.equal(await seen, ['before', 'after']);
  assert.ok(a!.child.exitCode === null && b!.child.exitCode === null, 'both server processes are alive');
});

test('a closed server process exits by itself: its Redis clients and sockets are all released', async () => {
  const [a] = await cluster(1);
  const client = await raw(a!.url);
  assert.equal(await emitAck(client, 'join', { room: 'exit-room', peerId: 'solo' }), { ok: true });
  const exited = await a!.stop();
  assert.is(exited, 0, `exit code (output: ${a!.output()})`);
  assert.match(a!.output(), /CLOSED/);
});

test.run();
