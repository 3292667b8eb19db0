/** Our signaling server's endpoint for RxDB's own plain-WebSocket protocol, hardened. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { startSocketIoSignalingServer, type SocketIoSignalingServer } from '../handlers/socket-io/server.js';

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
  await a.client.next('joined');
  await a.client.next('joined');
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
  const off = await start({ rxdbPath: false });
  assert.is(off.rxdbUrl, undefined);
  const nowhere = new WebSocket(off.url.replace('http', 'ws') + '/');
  sockets.push(nowhere);
  await new Promise<void>((resolve) => nowhere.once('error', () => resolve()));
});

test.run();
