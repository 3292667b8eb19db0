/**
 * What each peer sends to a local PeerServer while joining and at steady state, with real
 * WebRTC (the pair's connect time is the benchmark's P1 row).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { getConnectionHandlerPeerJS } from '../handlers/peerjs/client.js';
import { startPeerServer, type RunningPeerServer } from '../handlers/peerjs/server.js';
import type { WebRTCMeshHandler } from '../src/mesh/mesh.js';
import { countingWebSocket, type SentLog } from './fixtures/peerjs-members.js';
import { next } from './helpers/wait.js';

const test = suite<{ server: RunningPeerServer }>('peerjs signal traffic', {} as never);
test.before(async (ctx) => {
  ctx.server = await startPeerServer();
});
test.after(async (ctx) => {
  await ctx.server.close();
});

function creator(server: RunningPeerServer, log?: SentLog, pingInterval?: number) {
  return getConnectionHandlerPeerJS({
    ...server.clientOptions,
    config: { iceServers: [] },
    ...(log ? { WebSocket: countingWebSocket(log) } : {}),
    ...(pingInterval ? { peerOptions: { pingInterval } } : {}),
  });
}

test('signaling messages per peer: a few to join, then only HEARTBEATs (2 sockets per peer)', async ({ server }) => {
  const pingInterval = 250;
  const logs: SentLog[] = [{ sent: [] }, { sent: [] }, { sent: [] }];
  const handlers: WebRTCMeshHandler[] = [];
  const links = (handler: WebRTCMeshHandler) =>
    new Promise<void>((resolve) => {
      let seen = 0;
      handler.connect$.subscribe(() => ++seen === 2 && resolve());
    });
  const meshed: Promise<void>[] = [];
  for (const log of logs) {
    const handler = await creator(server, log, pingInterval)({ topic: 'steady-state' });
    handlers.push(handler);
    meshed.push(links(handler));
  }
  await Promise.race([Promise.all(meshed), next(handlers[0]!.error$, 'a full mesh', 15_000).then(() => Promise.all(meshed))]);
  const joinCost = logs.map((log) => log.sent.filter((m) => m.type !== 'HEARTBEAT').length);
  // Measurement window: bounded waits, measuring that nothing but heartbeats is sent.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const from = logs.map((log) => log.sent.length);
  const windowMs = 2_000;
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  const window = logs.map((log, index) => log.sent.slice(from[index]));
  await Promise.all(handlers.map((handler) => handler.close()));
  const perPeer = window.map((sent) => sent.length);
  const others = window.flat().filter((m) => m.type !== 'HEARTBEAT');
  console.log(
    `\n  forming a mesh of 3 (joining in turn), each peer sent ${joinCost.join(', ')} messages (echoes, hellos, probes, welcomes, WebRTC signals);` +
      `\n  steady state: ${perPeer.join(', ')} messages per peer in ${windowMs} ms at pingInterval ${pingInterval} ms` +
      ` = ${(perPeer.reduce((a, b) => a + b, 0) / perPeer.length / (windowMs / pingInterval)).toFixed(2)} per pingInterval, ${others.length} not HEARTBEAT`,
  );
  assert.equal(others, [], 'something other than HEARTBEAT was sent at steady state');
  const expected = 2 * (windowMs / pingInterval);
  for (const count of perPeer) assert.ok(Math.abs(count - expected) <= 3, `${count} messages, expected about ${expected}`);
});

test.run();
