/**
 * A TCP proxy that holds every chunk for a fixed time in each direction: a signaling server
 * that many milliseconds away, the same for every contender. This machine's kernel has no
 * `netem`, and a proxy in user space delays whatever rides on TCP (socket.io, WebSocket,
 * MQTT) without touching the WebRTC traffic, which stays on loopback.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { ServerInfo, ServerKind } from './lib.js';

/** One way; a round trip costs twice this. 25 ms is a signaling server in the same region. */
export const WAN_DELAY_MS = 25;

export interface LatencyProxy {
  /** Loopback port that reaches the target `delayMs` later, each way. */
  port: number;
  close(): Promise<void>;
}

/** Forwards `from` to `to`, each chunk (and the end) `delayMs` after it arrived, in order. */
function delayedPipe(from: Socket, to: Socket, delayMs: number): void {
  const due: Array<{ at: number; chunk: Buffer | null }> = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    const now = performance.now();
    while (due.length && due[0]!.at <= now) {
      const { chunk } = due.shift()!;
      if (to.destroyed) return;
      if (chunk === null) to.end();
      else to.write(chunk);
    }
    if (due.length) timer = setTimeout(flush, due[0]!.at - now);
  };
  const hold = (chunk: Buffer | null) => {
    due.push({ at: performance.now() + delayMs, chunk });
    timer ??= setTimeout(flush, delayMs);
  };
  from.on('data', (chunk: Buffer) => hold(chunk));
  from.on('end', () => hold(null));
  from.on('close', () => {
    // A reset cannot be delayed without holding the socket: the far side hears it at once,
    // and whatever was still held is dropped with it.
    if (!from.readableEnded) {
      clearTimeout(timer);
      to.destroy();
    }
  });
}

export async function startLatencyProxy(targetPort: number, delayMs: number): Promise<LatencyProxy> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    track(client);
    track(upstream);
    delayedPipe(client, upstream, delayMs);
    delayedPipe(upstream, client, delayMs);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('latency proxy: no port');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** `url` with its port replaced by `port`. */
export function viaPort(url: string, port: number): string {
  const parsed = new URL(url);
  parsed.port = String(port);
  return parsed.href.replace(/\/$/, url.endsWith('/') ? '/' : '');
}

/** Every server reached through its own latency proxy (pushed to `proxies` for closing), as `contendersFor` takes them. */
export async function proxiedInfos(infos: ReadonlyMap<ServerKind, ServerInfo>, delayMs: number, proxies: LatencyProxy[]): Promise<Map<ServerKind, ServerInfo>> {
  const byPort = new Map<number, Promise<LatencyProxy>>();
  const proxyPort = async (port: number) => {
    let proxy = byPort.get(port);
    if (!proxy) {
      proxy = startLatencyProxy(port, delayMs).then((started) => (proxies.push(started), started));
      byPort.set(port, proxy);
    }
    return (await proxy).port;
  };
  const via = async (url: string) => viaPort(url, await proxyPort(Number(new URL(url).port)));
  const proxied = new Map<ServerKind, ServerInfo>();
  for (const [kind, info] of infos) {
    proxied.set(kind, {
      url: await via(info.url),
      ...(info.rxdbUrl ? { rxdbUrl: await via(info.rxdbUrl) } : {}),
      ...(info.clientOptions ? { clientOptions: { ...info.clientOptions, port: await proxyPort(info.clientOptions.port) } } : {}),
    });
  }
  return proxied;
}
