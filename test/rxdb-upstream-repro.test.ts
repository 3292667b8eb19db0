/**
 * docs/repro/rxdb-mesh-lost-write.mjs, the reproduction to file with RxDB: a write lost with no
 * race at all when two peers first meet. RxDB's own simple-peer handler loses it (through our
 * server's RxDB endpoint, which speaks RxDB's protocol); our handlers, given to RxDB's
 * replicateWebRTC unchanged, keep it (docs/replication.md). When RxDB fixes this upstream, the
 * first case fails: then drop it and the README's note.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import wrtc from '@roamhq/wrtc';
import { WebSocket } from 'ws';
import { getConnectionHandlerSimplePeer } from 'rxdb/plugins/replication-webrtc';
import { getConnectionHandlerSocketIo } from '../handlers/socket-io/client.js';
import { startSocketIoSignalingServer, type SocketIoSignalingServer } from '../handlers/socket-io/server/index.js';
import { createMemoryNetwork, getConnectionHandlerMemory } from '../handlers/memory/index.js';
import { runLostWriteScenario } from '../docs/repro/rxdb-mesh-lost-write.mjs';

let server: SocketIoSignalingServer | undefined;
test.after.each(async () => {
  await server?.close();
  server = undefined;
});

test('RxDB’s own simple-peer handler loses the author’s newer write at first contact', async () => {
  server = await startSocketIoSignalingServer();
  const url = server.rxdbUrl!;
  const creator = () => getConnectionHandlerSimplePeer({ signalingServerUrl: url, wrtc: wrtc as any, webSocketConstructor: WebSocket as any, config: { iceServers: [] } });
  assert.is(await runLostWriteScenario({ creator, topic: 'repro-rxdb-own' }), 'old');
});

test('the same steps keep it with our socket.io handler under RxDB’s replicateWebRTC', async () => {
  server = await startSocketIoSignalingServer();
  const url = server.url;
  const creator = () => getConnectionHandlerSocketIo({ url, config: { iceServers: [] } });
  assert.is(await runLostWriteScenario({ creator, topic: 'repro-ours-socket-io' }), 'new');
});

test('and with the memory handler', async () => {
  const network = createMemoryNetwork();
  assert.is(await runLostWriteScenario({ creator: () => getConnectionHandlerMemory({ network }), topic: 'repro-ours-memory' }), 'new');
});

test.run();
