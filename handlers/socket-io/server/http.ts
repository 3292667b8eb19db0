/**
 * The HTTP server under socket.io: created and owned by us, or borrowed from the caller.
 * An owned one is closed with us; a borrowed one is given back exactly as we found it.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket as NetSocket } from 'node:net';
import type { Server as SocketIoServer } from 'socket.io';
import { P2PError, P2PErrorCode, toP2PError } from '../../../src/errors.js';

/** Left to sockets to finish the WebSocket close handshake before close() destroys them. */
const CLOSE_GRACE_MS = 1000;
/** Events engine.io hooks on the server it attaches to (it also rewires 'request'). */
const HOOKED_EVENTS = ['request', 'upgrade', 'close', 'listening'] as const;

export interface HttpHost {
  readonly server: HttpServer | HttpsServer;
  /** Listens if the server is not listening yet; returns the origin clients connect to. */
  start(port: number, host: string): Promise<{ url: string; port: number }>;
  /** Closes `io` and, if we own it, the server; otherwise only detaches `io` from it. */
  close(io: SocketIoServer): Promise<void>;
}

export function hostHttp(borrowed: HttpServer | HttpsServer | undefined): HttpHost {
  const server = borrowed ?? createServer();
  const connections = new Set<NetSocket>();
  if (!borrowed) {
    // Only for an owned server: a client that never completes the close handshake must not
    // keep close() (and the process) waiting for ws's 30 s close timeout. One listener for
    // every connection: a `once` closure per connection costs ~250 bytes while it is open.
    function forget(this: NetSocket): void {
      connections.delete(this);
    }
    server.on('connection', (connection: NetSocket) => {
      connections.add(connection);
      connection.on('close', forget);
    });
  }
  const restoreListeners = snapshotListeners(server);

  async function close(io: SocketIoServer): Promise<void> {
    if (borrowed) {
      io.engine.close();
      restoreListeners();
      return;
    }
    const force = setTimeout(() => connections.forEach((connection) => connection.destroy()), CLOSE_GRACE_MS);
    try {
      await io.close(); // closes the HTTP server too, once its connections are gone
    } finally {
      clearTimeout(force);
    }
  }

  async function start(port: number, host: string): Promise<{ url: string; port: number }> {
    const listenHere = !server.listening;
    if (listenHere) await listen(server, port, host);
    const address = server.address();
    if (address === null || typeof address !== 'object') {
      throw new P2PError(P2PErrorCode.INVALID_OPTION, 'option "httpServer" must listen on a TCP port');
    }
    const scheme = server instanceof HttpsServer ? 'https' : 'http';
    const { port: actual, address: bound } = address as AddressInfo;
    return { url: `${scheme}://${urlHost(listenHere ? host : bound)}:${actual}`, port: actual };
  }

  return { server, start, close };
}

function urlHost(host: string): string {
  // A wildcard bind is reachable on loopback; clients cannot dial the wildcard itself.
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function listen(server: HttpServer | HttpsServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) =>
      reject(toP2PError(error, P2PErrorCode.SIGNALING, `cannot listen on ${host}:${port}`));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function snapshotListeners(server: HttpServer | HttpsServer): () => void {
  const before = HOOKED_EVENTS.map((event) => [event, server.listeners(event)] as const);
  return () => {
    for (const [event, original] of before) {
      for (const listener of server.listeners(event)) {
        if (!original.includes(listener)) server.removeListener(event, listener as (...args: unknown[]) => void);
      }
      const current = server.listeners(event);
      for (const listener of original) {
        if (!current.includes(listener)) server.on(event, listener as (...args: unknown[]) => void);
      }
    }
  };
}
