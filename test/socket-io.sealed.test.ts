/**
 * What a socket.io server operator sees of a room and what it can do to it: a hash for the
 * topic, sealed signals it can neither read nor alter, nothing it can pass off as another
 * member's (docs/security.md). Real WebRTC, our server and the seed's example server rewired.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { getConnectionHandlerSocketIo } from '../handlers/socket-io/client.js';
import { startSocketIoSignalingServer } from '../handlers/socket-io/server/index.js';
import type { P2PError } from '../src/errors.js';
import type { WebRTCMeshHandler } from '../src/mesh/mesh.js';
import { next } from './helpers/wait.js';

const closers: Array<() => Promise<unknown>> = [];
test.after.each(async () => {
  await Promise.allSettled(closers.splice(0).map((close) => close()));
});

async function handler(url: string, topic: string, secret?: string): Promise<WebRTCMeshHandler> {
  const created = await getConnectionHandlerSocketIo({ url, config: { iceServers: [] }, ...(secret === undefined ? {} : { secret }) })({ topic });
  closers.push(() => created.close());
  return created;
}

test('the server sees a hash for the topic and sealed signals: no topic name, no SDP, no candidate', async () => {
  const server = await startSocketIoSignalingServer();
  closers.push(() => server.close());
  const seen: string[] = [];
  server.io.on('connection', (socket) => socket.onAny((_event, payload) => seen.push(JSON.stringify(payload))));
  const topic = 'very-private-topic-name';
  const a = await handler(server.url, topic);
  const linked = next(a.connect$, 'A meeting B');
  await handler(server.url, topic);
  await linked;
  assert.ok(seen.length > 2, `the server relayed ${seen.length} messages`);
  for (const text of seen) {
    assert.not.ok(text.includes(topic), `no topic name: ${text.slice(0, 80)}`);
    assert.not.ok(/v=0|a=fingerprint|candidate:|"sdp"/.test(text), `no SDP or candidate: ${text.slice(0, 80)}`);
  }
});

/** The seed's example server, except that it hands every signal to `tamper` before relaying it. */
async function tamperingServer(tamper: (message: any) => any): Promise<string> {
  const http = createServer();
  const io = new Server(http);
  const byPeerId = new Map<string, any>();
  const rooms = new Map<string, Array<{ socket: any; peerId: string }>>();
  io.on('connection', (socket) => {
    socket.on('signal', (message: any) => byPeerId.get(message.to)?.emit('signal', tamper(message)));
    socket.on('join', (message: any) => {
      const members = rooms.get(message.room) ?? [];
      rooms.set(message.room, members);
      members.push({ socket, peerId: message.peerId });
      byPeerId.set(message.peerId, socket);
      for (const member of members) member.socket.emit('joined', members.map((each) => each.peerId));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  closers.push(() => new Promise<void>((resolve) => io.close(() => resolve())));
  return `ws://127.0.0.1:${(http.address() as { port: number }).port}`;
}

test('a server that alters a signal, or relays it as another member’s, is caught: ERR_UNAUTHORIZED / ERR_PROTOCOL, no link', async () => {
  const flip = (text: string) => (text[20] === 'A' ? `${text.slice(0, 20)}B${text.slice(21)}` : `${text.slice(0, 20)}A${text.slice(21)}`);
  for (const [name, tamper, code] of [
    ['altered', (message: any) => ({ ...message, signal: flip(message.signal) }), 'ERR_UNAUTHORIZED'],
    ['re-attributed', (message: any) => ({ ...message, from: `${message.from}x` }), 'ERR_PROTOCOL'],
  ] as const) {
    const url = await tamperingServer(tamper);
    const a = await handler(url, `tampered-${name}`);
    const refused = next(a.error$, `A reporting the ${name} signal`, 15_000, (error: P2PError) => error.code === code);
    const b = await handler(url, `tampered-${name}`);
    const refusedB = next(b.error$, `B reporting the ${name} signal`, 15_000, (error: P2PError) => error.code === code);
    await Promise.race([refused, refusedB]);
  }
});

test('peers with different secrets cannot read each other’s signals (ERR_UNAUTHORIZED); the same secret links', async () => {
  const server = await startSocketIoSignalingServer();
  closers.push(() => server.close());
  const a = await handler(server.url, 'secret-room', 'alpha');
  const refused = next(a.error$, 'A refusing the other secret’s signals', 15_000, (error: P2PError) => error.code === 'ERR_UNAUTHORIZED');
  await handler(server.url, 'secret-room', 'beta');
  await refused;
  const linked = next(a.connect$, 'A meeting a peer with its secret');
  await handler(server.url, 'secret-room', 'alpha');
  assert.is((await linked).id.length > 0, true);
});

test.run();
