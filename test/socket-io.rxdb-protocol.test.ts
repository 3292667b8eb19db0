/** Our signaling server's endpoint for RxDB's own plain-WebSocket protocol, hardened. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { io as ioClient } from 'socket.io-client';
import { startSocketIoSignalingServer, type SocketIoSignalingServer } from '../handlers/socket-io/server/index.js';
import { RXDB_SILENCE_LIMIT_MS } from '../handlers/socket-io/server/rxdb.js';
import { ManualClock } from './helpers/manual-clock.js';

const servers: SocketIoSignalingServer[] = [];
const sockets: WebSocket[] = [];

test.after.each(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  await Promise.allSettled(servers.splice(0).map((server) => server.close()));
});

/** A raw client that records every message; `next(type)` waits for the next one of a type. */
class Client {
  /** Messages no `next()` has taken yet. */
  readonly messages: any[] = [];
  private readonly waiters: Array<{ type: string; resolve: (m: any) => void }> = [];
  constructor(readonly socket: WebSocket) {
    sockets.push(socket);
    socket.on('message', (raw) => {
      const message = JSON.parse(raw.toString());
      const index = this.waiters.findIndex((waiter) => waiter.type === message.type);
      if (index >= 0) this.waiters.splice(index, 1)[0]!.resolve(message);
      else this.messages.push(message);
    });
  }
  static async connect(url: string): Promise<{ client: Client; id: string }> {
    const client = new Client(new WebSocket(url));
    const init = await client.next('init');
    return { client, id: init.yourPeerId };
  }
  next(type: string, ms = 5_000): Promise<any> {
    const seen = this.messages.findIndex((message) => message.type === type);
    if (seen >= 0) return Promise.resolve(this.messages.splice(seen, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${type}" message within ${ms} ms`)), ms);
      this.waiters.push({ type, resolve: (message) => (clearTimeout(timer), resolve(message)) });
    });
  }
  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }
}

/** Whether a WebSocket to `url` is accepted (init received) rather than refused. */
function opens(url: string): Promise<boolean> {
  const socket = new WebSocket(url);
  sockets.push(socket);
  return new Promise((resolve) => {
    socket.once('message', () => resolve(true));
    socket.once('error', () => resolve(false));
  });
}

async function start(options = {}): Promise<SocketIoSignalingServer> {
  const server = await startSocketIoSignalingServer(options);
  servers.push(server);
  return server;
}

test('init gives a 12-character id; joined goes to every member; signals relay inside the room', async () => {
  const server = await start();
  const a = await Client.connect(server.rxdbUrl!);
  const b = await Client.connect(server.rxdbUrl!);
  assert.match(a.id, /^[A-Za-z0-9]{12}$/);
  a.client.send({ type: 'join', room: 'rxdb-room' });
  assert.equal((await a.client.next('joined')).otherPeerIds, [a.id]);
  b.client.send({ type: 'join', room: 'rxdb-room' });
  const [forA, forB] = await Promise.all([a.client.next('joined'), b.client.next('joined')]);
  assert.equal(forA.otherPeerIds, [a.id, b.id]);
  assert.equal(forB.otherPeerIds, [a.id, b.id]);
  const signal = { type: 'signal', room: 'rxdb-room', senderPeerId: a.id, receiverPeerId: b.id, data: { sdp: 'v=0' }, connectionId: 'c1' };
  a.client.send(signal);
  assert.equal(await b.client.next('signal'), signal);
  b.client.socket.close();
  assert.equal((await a.client.next('joined')).otherPeerIds, [a.id], 'a peer that leaves is removed and the room told');
});

test('spoofed, foreign, unroutable and malformed messages get an error and nothing is relayed', async () => {
  const server = await start();
  const a = await Client.connect(server.rxdbUrl!);
  const b = await Client.connect(server.rxdbUrl!);
  const outsider = await Client.connect(server.rxdbUrl!);
  for (const member of [a, b]) member.client.send({ type: 'join', room: 'rxdb-room' });
  // Joins landing together are told to the room in one list.
  while ((await a.client.next('joined')).otherPeerIds.length < 2);
  const hostile: unknown[] = [
    { type: 'signal', room: 'rxdb-room', senderPeerId: b.id, receiverPeerId: b.id, data: {} },
    { type: 'signal', room: 'rxdb-room', senderPeerId: a.id, receiverPeerId: 'nobody', data: {} },
    { type: 'signal', room: 'other-room', senderPeerId: a.id, receiverPeerId: b.id, data: {} },
    { type: 'signal', room: 'rxdb-room', senderPeerId: a.id, receiverPeerId: b.id, data: 'x'.repeat(70_000) },
    { type: 'join', room: '' },
    { type: 'join', room: 'r'.repeat(300) },
    { type: 'launch' },
    'not json',
    '[1,2,3]',
    'null',
  ];
  for (const message of hostile) {
    a.client.send(message);
    const error = await a.client.next('error');
    assert.type(error.code, 'string', JSON.stringify(message).slice(0, 60));
  }
  outsider.client.send({ type: 'signal', room: 'rxdb-room', senderPeerId: outsider.id, receiverPeerId: b.id, data: {} });
  assert.is((await outsider.client.next('error')).code, 'ERR_PROTOCOL');
  const honest = { type: 'signal', room: 'rxdb-room', senderPeerId: a.id, receiverPeerId: b.id, data: { ok: true } };
  a.client.send(honest);
  assert.equal(await b.client.next('signal'), honest, 'the first signal b receives is the honest one');
  assert.is(b.client.messages.filter((message) => message.type === 'signal').length, 0);
});

test('authenticate refuses RxDB clients too; rxdbPath false turns the endpoint off', async () => {
  const guarded = await start({ authenticate: (handshake: any) => handshake.headers['x-token'] === 'ok' });
  const refused = new WebSocket(guarded.rxdbUrl!);
  sockets.push(refused);
  const status = await new Promise<string>((resolve) => refused.once('error', (error) => resolve(error.message)));
  assert.match(status, /401/);
  const allowed = new Client(new WebSocket(guarded.rxdbUrl!, { headers: { 'x-token': 'ok' } }));
  assert.is((await allowed.next('init')).type, 'init');
  // RxDB clients put credentials in the URL: authenticate sees them as `query`.
  const byQuery = await start({ authenticate: (handshake: any) => handshake.query?.token === 'ok' });
  assert.ok(await opens(`${byQuery.rxdbUrl!}?token=ok`), 'a token in the query is seen');
  assert.not.ok(await opens(`${byQuery.rxdbUrl!}?token=no`), 'a wrong token is refused');
  const off = await start({ rxdbPath: false });
  assert.is(off.rxdbUrl, undefined);
  const nowhere = new WebSocket(off.url.replace('http', 'ws') + '/');
  sockets.push(nowhere);
  await new Promise<void>((resolve) => nowhere.once('error', () => resolve()));
});

test('a repeated join is answered to its sender only: the rest of the room hears nothing of it', async () => {
  const server = await start({ joinsPerSecond: 1_000 });
  const members = await Promise.all(Array.from({ length: 12 }, () => Client.connect(server.rxdbUrl!)));
  for (const member of members) member.client.send({ type: 'join', room: 'flood-room' });
  const [attacker, bystander] = [members[0]!, members[1]!];
  // Every member gets the full list once everyone has joined; count what comes after that.
  await Promise.all(members.map(async (member) => {
    while ((await member.client.next('joined')).otherPeerIds.length < members.length);
  }));
  let bytes = 0;
  bystander.client.socket.on('message', (raw) => (bytes += raw.toString().length));
  for (let round = 0; round < 150; round++) attacker.client.send({ type: 'join', room: 'flood-room' });
  for (let round = 0; round < 150; round++) assert.is((await attacker.client.next('joined')).otherPeerIds.length, members.length);
  // Messages from one sender reach the bystander in order: this signal comes after anything the joins caused.
  attacker.client.send({ type: 'signal', room: 'flood-room', senderPeerId: attacker.id, receiverPeerId: bystander.id, data: { sync: true } });
  await bystander.client.next('signal');
  const signalBytes = JSON.stringify({ type: 'signal', room: 'flood-room', senderPeerId: attacker.id, receiverPeerId: bystander.id, data: { sync: true } }).length;
  assert.is(bytes, signalBytes, `the bystander received ${bytes} bytes, only the signal's ${signalBytes}`);
  assert.is(bystander.client.messages.filter((message) => message.type === 'joined').length, 0);
});

test('joins have their own budget, and connections per address are capped (socket.io and RxDB endpoint together)', async () => {
  const server = await start({ joinsPerSecond: 1, maxConnectionsPerAddress: 3 });
  const a = await Client.connect(server.rxdbUrl!);
  a.client.send({ type: 'join', room: 'budget-1' });
  a.client.send({ type: 'join', room: 'budget-2' });
  a.client.send({ type: 'join', room: 'budget-3' });
  const refused = await a.client.next('error');
  assert.is(refused.code, 'ERR_LIMIT_EXCEEDED');
  assert.match(refused.message, /joins per second/);
  const b = await Client.connect(server.rxdbUrl!);
  const viaSocketIo = ioClient(server.url, { transports: ['websocket'], reconnection: false });
  await new Promise<void>((resolve) => viaSocketIo.once('connect', () => resolve()));
  const fourth = new WebSocket(server.rxdbUrl!);
  sockets.push(fourth);
  assert.match(await new Promise<string>((resolve) => fourth.once('error', (error) => resolve(error.message))), /429/);
  const fifth = ioClient(server.url, { transports: ['websocket'], reconnection: false });
  const [error] = await Promise.all([
    new Promise<{ code: string }>((resolve) => fifth.once('error', resolve)),
    new Promise<void>((resolve) => fifth.once('disconnect', () => resolve())),
  ]);
  assert.is(error.code, 'ERR_LIMIT_EXCEEDED');
  fifth.close();
  // A closed connection frees its place.
  const freed = new Promise<void>((resolve) => b.client.socket.once('close', () => resolve()));
  b.client.socket.close();
  await freed;
  let accepted = false;
  // The server frees the place when it sees the close, a moment after the client does.
  for (let attempt = 0; !accepted && attempt < 50; attempt++) accepted = await opens(server.rxdbUrl!);
  assert.ok(accepted, 'a new connection is accepted once one closed');
  viaSocketIo.close();
});

test('a client silent for longer than RxDB allows is dropped, on the clock the server was given', async () => {
  const clock = new ManualClock();
  const server = await start({ clock });
  const { client } = await Client.connect(server.rxdbUrl!);
  const closed = new Promise((resolve) => client.socket.once('close', resolve));
  await clock.advance(RXDB_SILENCE_LIMIT_MS / 2);
  // Still there after half the limit, and a message restarts the count.
  client.send({ type: 'join', room: 'quiet-room' });
  await client.next('joined');
  await clock.advance(RXDB_SILENCE_LIMIT_MS - 1);
  // A round trip: a client dropped before its silence reached the limit would get no answer.
  client.send({ type: 'join', room: 'another-room' });
  await client.next('joined');
  // Past the limit, plus one sweep interval (a quarter of it).
  await clock.advance(RXDB_SILENCE_LIMIT_MS * 1.25);
  await closed;
});

test.run();
