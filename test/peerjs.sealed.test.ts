/**
 * What a PeerServer operator sees of our signals: sealed payloads only, no SDP or candidate,
 * and what it cannot do: alter one unnoticed (docs/security.md). Real WebRTC, our PeerServer.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { getConnectionHandlerPeerJS } from '../handlers/peerjs/client.js';
import { startPeerServer } from '../handlers/peerjs/server.js';
import type { P2PError } from '../src/errors.js';
import type { WebRTCMeshHandler } from '../src/mesh/mesh.js';
import { next } from './helpers/wait.js';

const closers: Array<() => Promise<unknown>> = [];
test.after.each(async () => {
  await Promise.allSettled(closers.splice(0).map((close) => close()));
});

/** A `ws` WebSocket that shows `look` every message it sends and lets `rewrite` change it. */
function tappedWebSocket(look: (text: string) => void, rewrite: (text: string) => string = (text) => text) {
  return class TappedWebSocket extends WebSocket {
    override send(data: unknown, ...rest: unknown[]): void {
      look(String(data));
      (super.send as (...args: unknown[]) => void)(rewrite(String(data)), ...rest);
    }
  };
}

async function handler(server: Awaited<ReturnType<typeof startPeerServer>>, topic: string, WebSocketClass: unknown, secret?: string): Promise<WebRTCMeshHandler> {
  const created = await getConnectionHandlerPeerJS({
    ...server.clientOptions,
    config: { iceServers: [] },
    WebSocket: WebSocketClass as never,
    ...(secret === undefined ? {} : { secret }),
  })({ topic });
  closers.push(() => created.close());
  return created;
}

test('the PeerServer relays sealed signals: no SDP, no candidate, no topic name', async () => {
  const server = await startPeerServer();
  closers.push(() => server.close());
  const sent: string[] = [];
  const Tapped = tappedWebSocket((text) => sent.push(text));
  const topic = 'very-private-peerjs-topic';
  const a = await handler(server, topic, Tapped);
  const linked = next(a.connect$, 'A meeting B', 20_000);
  await handler(server, topic, Tapped);
  await linked;
  assert.ok(sent.some((text) => text.includes('"signal"')), 'signals went through the server');
  for (const text of sent) {
    assert.not.ok(text.includes(topic), `no topic name: ${text.slice(0, 80)}`);
    assert.not.ok(/v=0|a=fingerprint|candidate:|"sdp"/.test(text), `no SDP or candidate: ${text.slice(0, 120)}`);
  }
});

test('a signal altered on its way is refused (ERR_UNAUTHORIZED); another secret cannot read ours', async () => {
  const server = await startPeerServer();
  closers.push(() => server.close());
  // Flips one character of every sealed signal, as a hostile operator in the middle would.
  const alter = (text: string) => text.replace(/"signal":"(.{10})(.)/, (_all, head: string, char: string) => `"signal":"${head}${char === 'A' ? 'B' : 'A'}`);
  const Altering = tappedWebSocket(() => {}, alter);
  const a = await handler(server, 'altered-room', WebSocket);
  const refused = next(a.error$, 'A refusing an altered signal', 20_000, (error: P2PError) => error.code === 'ERR_UNAUTHORIZED');
  await handler(server, 'altered-room', Altering);
  await refused;
  const c = await handler(server, 'secret-room', WebSocket, 'alpha');
  const wrongSecret = next(c.error$, 'C refusing the other secret’s signals', 20_000, (error: P2PError) => error.code === 'ERR_UNAUTHORIZED');
  await handler(server, 'secret-room', WebSocket, 'beta');
  await wrongSecret;
});

test.run();
