/**
 * `npm start`: a self-contained look at the toolkit on this machine. Starts the hardened
 * socket.io signaling server on loopback, joins three Node peers (real WebRTC) to one topic,
 * shows the full mesh forming, a 1 MiB message crossing it, and every peer closing cleanly.
 * Press Ctrl-C to stop early.
 */
import { startSocketIoSignalingServer } from '../handlers/socket-io/server.js';
import { getConnectionHandlerSocketIo } from '../handlers/socket-io/client.js';
import type { P2PPeer, WebRTCMeshHandler } from '../src/index.js';

const server = await startSocketIoSignalingServer({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
console.log(`socket.io signaling server: ${server.url}`);
const topic = `demo-${Date.now()}`;
const names = ['alice', 'bob', 'carol'];
const handlers: WebRTCMeshHandler[] = [];
const links = new Map<string, Map<string, P2PPeer>>();
const started = performance.now();

const meshFormed = new Promise<void>((resolve) => {
  for (const name of names) links.set(name, new Map());
  const check = () => [...links.values()].every((peers) => peers.size === names.length - 1) && resolve();
  const stop = () => void shutdown();
  process.once('SIGINT', stop);
  void (async () => {
    for (const name of names) {
      // Loopback only (no STUN); the names double as peer ids so the log reads easily.
      const creator = getConnectionHandlerSocketIo({ url: server.url, config: { iceServers: [] }, peerId: name });
      const handler = await creator({ topic });
      handlers.push(handler);
      handler.connect$.subscribe((peer) => {
        links.get(name)!.set(peer.id, peer);
        console.log(`${name}: connected to ${peer.id} after ${Math.round(performance.now() - started)} ms`);
        check();
      });
      handler.disconnect$.subscribe((peer) => console.log(`${name}: ${peer.id} disconnected`));
      handler.message$.subscribe(({ peer, message }) =>
        console.log(`${name}: got "${message.method}" with ${JSON.stringify(message.params).length} bytes from ${peer.id}`),
      );
    }
  })();
});

let closing: Promise<void> | undefined;
function shutdown(): Promise<void> {
  closing ??= (async () => {
    await Promise.all(handlers.map((handler) => handler.close()));
    await server.close();
    console.log('all peers and the server closed');
  })();
  return closing;
}

await meshFormed;
console.log(`full mesh of ${names.length} peers in ${Math.round(performance.now() - started)} ms`);
const [first] = handlers;
const received = new Promise<void>((resolve) => handlers[1]!.message$.subscribe(() => resolve()));
const target = links.get('alice')!.get(handlers[1]!.peerId);
await first!.send(target!, { id: 'demo-1', method: 'hello', params: ['x'.repeat(1024 * 1024)] });
await received;
await shutdown();
