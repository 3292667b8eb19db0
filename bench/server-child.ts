/**
 * One signaling server in its own process, driven by bench/lib.ts over IPC:
 *   → { type: 'ready', info } or { type: 'ready', error }
 *   ← { type: 'memory', connections? }  → { type: 'memory', memory }  (after the server holds
 *      that many TCP connections, and two forced GCs: run with --expose-gc)
 *   ← { type: 'close' }                  → { type: 'closed' }; then the process exits on its own
 * stdout is discarded by the parent: RxDB's server logs every disconnect.
 *
 *   node --expose-gc --import tsx bench/server-child.ts socket.io|rxdb|mqtt|nostr|peerjs|seed
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import type { ServerInfo, ServerKind, ServerMemory } from './lib.js';

interface Running {
  info: ServerInfo;
  /** TCP connections held, or undefined if this server cannot tell. */
  connections(): Promise<number | undefined>;
  close(): Promise<void>;
}

const connectionsOf = (http: HttpServer) => () =>
  new Promise<number | undefined>((resolve) => http.getConnections((error, count) => resolve(error ? undefined : count)));

async function start(kind: ServerKind): Promise<Running> {
  if (kind === 'socket.io') {
    const { startSocketIoSignalingServer } = await import('../handlers/socket-io/server/index.js');
    // Every benchmark client comes from 127.0.0.1: the per-address cap would refuse most of P5's.
    const server = await startSocketIoSignalingServer({ port: 0, host: '127.0.0.1', maxConnectionsPerAddress: 1_000_000 });
    return { info: { url: server.url, rxdbUrl: server.rxdbUrl }, connections: connectionsOf(server.io.httpServer as HttpServer), close: () => server.close() };
  }
  if (kind === 'seed') {
    const { startSeedSignalingServer } = await import('../test/fixtures/seed-server.js');
    const server = await startSeedSignalingServer();
    return { info: { url: server.url }, connections: connectionsOf(server.httpServer), close: () => server.close() };
  }
  if (kind === 'rxdb') {
    // The file `rxdb/plugins/replication-webrtc` re-exports it from, without RxDB's whole
    // replication stack (seconds to load); the entry itself if the package layout differs.
    type Entry = typeof import('rxdb/plugins/replication-webrtc');
    const file = new URL('../node_modules/rxdb/dist/esm/plugins/replication-webrtc/signaling-server.js', import.meta.url).href;
    const { startSignalingServerSimplePeer } = await (import(file) as Promise<Pick<Entry, 'startSignalingServerSimplePeer'>>).catch(
      () => import('rxdb/plugins/replication-webrtc'),
    );
    // Our own HTTP server under RxDB's ws server, so connections can be counted and closed.
    const http = createServer();
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { server: wss } = await startSignalingServerSimplePeer({ server: http } as any);
    const { port } = http.address() as { port: number };
    return {
      info: { url: `ws://127.0.0.1:${port}` },
      connections: connectionsOf(http),
      async close() {
        // ws 8 leaves accepted sockets open on close(); RxDB's ping loop ends within 5 s of it.
        for (const client of wss.clients) client.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        http.closeAllConnections();
        await new Promise<void>((resolve) => http.close(() => resolve()));
      },
    };
  }
  if (kind === 'mqtt') {
    const { startMqttBroker } = await import('../handlers/mqtt/broker.js');
    const broker = await startMqttBroker({ host: '127.0.0.1' });
    return { info: { url: broker.url }, connections: async () => undefined, close: () => broker.close() };
  }
  if (kind === 'nostr') {
    const { startNostrRelay } = await import('../handlers/nostr/relay/index.js');
    const relay = await startNostrRelay({ host: '127.0.0.1' });
    return { info: { url: relay.url }, connections: async () => undefined, close: () => relay.close() };
  }
  if (kind === 'peerjs') {
    const { startPeerServer } = await import('../handlers/peerjs/server.js');
    const server = await startPeerServer({ host: '127.0.0.1' });
    return { info: { url: server.url, clientOptions: server.clientOptions }, connections: async () => undefined, close: () => server.close() };
  }
  throw new Error(`unknown server kind ${String(kind)}`);
}

const send = (message: object) => process.send?.(message);

/** Waits (bounded) for the server to have seen every client connect or go. */
async function settle(running: Running, expected: number | undefined): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const count = await running.connections();
    if (expected === undefined || count === undefined || count === expected) return count ?? -1;
    if (Date.now() > deadline) throw new Error(`the server holds ${count} connections, expected ${expected}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function measure(): Omit<ServerMemory, 'connections'> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  gc();
  gc();
  const { heapUsed, external, rss } = process.memoryUsage();
  return { heapUsed, external, rss };
}

let running: Running | undefined;
let snapshots = 0;
let closing: Promise<void> | undefined;
const close = () => (closing ??= running ? running.close() : Promise.resolve());

try {
  running = await start(process.argv[2] as ServerKind);
  send({ type: 'ready', info: running.info });
} catch (error) {
  send({ type: 'ready', error: `cannot start ${process.argv[2]}: ${error instanceof Error ? error.message : String(error)}` });
  process.disconnect?.();
}

process.on('message', async (message: { type?: string; connections?: number }) => {
  if (message.type === 'memory' && running) {
    try {
      const connections = await settle(running, message.connections);
      const memory = { ...measure(), connections };
      // For finding where a server's memory goes: BENCH_HEAP_SNAPSHOTS=/some/dir.
      if (process.env.BENCH_HEAP_SNAPSHOTS) writeHeapSnapshot(join(process.env.BENCH_HEAP_SNAPSHOTS, `${process.argv[2]}-${process.pid}-${++snapshots}-${connections}.heapsnapshot`));
      send({ type: 'memory', memory });
    } catch (error) {
      send({ type: 'memory', error: String(error) });
    }
  }
  if (message.type === 'close') {
    await close().catch(() => {});
    send({ type: 'closed' });
    process.disconnect?.();
    // RxDB's server sleeps in a 5 s loop until it sees its close; nothing can cancel the sleep,
    // so its host ends here instead of idling. Every other server must let the process exit.
    if (process.argv[2] === 'rxdb') process.exit(0);
  }
});
// The parent went away without asking: stop anyway, so nothing outlives the bench.
process.on('disconnect', () => void close());
