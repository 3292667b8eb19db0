/**
 * Production socket.io signaling server for the protocol in `./protocol.ts`: peers join rooms,
 * learn each other's ids and relay WebRTC signals. Everything an instance knows lives in the
 * instance (no module state), so tests and apps can run several side by side.
 *
 * One process keeps its rooms in memory (local.ts); with the `redis` option several
 * processes share them through socket.io's Redis adapter (cluster.ts).
 */
import type { ExtendedError, Server } from 'socket.io';
import { P2PError, P2PErrorCode } from '../../../src/errors.js';
import { loadOptional } from '../../../src/optional.js';
import { ClusterDirectory } from './cluster.js';
import { SocketDispatcher } from './dispatch.js';
import { dropUpgradeResponses } from './engine.js';
import { hostHttp } from './http.js';
import { AddressCounter } from './limits.js';
import { LocalDirectory } from './local.js';
import { resolveOptions, type Handshake, type SocketIoSignalingServerOptions } from './options.js';
import { attachRedis, type RedisLink } from './redis.js';
import { attachRxdbSignaling } from './rxdb.js';

export type { CorsOrigin, Handshake, SocketIoSignalingServerOptions } from './options.js';

export interface SocketIoSignalingServerStats {
  /** Connected sockets. */
  sockets: number;
  /** Rooms with at least one peer. */
  rooms: number;
  /** Held (room, peer id) pairs across all rooms. */
  peers: number;
}

export interface SocketIoSignalingServer {
  /** Origin to pass to `io()`, e.g. `http://127.0.0.1:PORT` (no path: socket.io reads a URL path as a namespace). */
  readonly url: string;
  readonly port: number;
  /** socket.io path; clients pass it as the `path` option when it is not `/socket.io`. */
  readonly path: string;
  /** Where RxDB's own `getConnectionHandlerSimplePeer` connects (`ws://…/`); undefined with `rxdbPath: false`. */
  readonly rxdbUrl: string | undefined;
  /** The socket.io server, for advanced use (middleware, adapters, metrics). */
  readonly io: Server;
  stats(): SocketIoSignalingServerStats;
  /** Disconnects every socket and closes (or, if borrowed, detaches from) the HTTP server. Idempotent. */
  close(): Promise<void>;
}

const ENTRY = 'p2p-handlers/socket-io/server';

export async function startSocketIoSignalingServer(
  options?: SocketIoSignalingServerOptions,
): Promise<SocketIoSignalingServer> {
  const config = resolveOptions(options);
  const { path, maxPayloadBytes, authenticate } = config;
  const [{ Server }, ws] = await Promise.all([
    loadOptional(ENTRY, ['socket.io'], () => import('socket.io')),
    config.rxdbPath === false ? undefined : loadOptional(ENTRY, ['ws'], () => import('ws')),
  ]);
  const http = hostHttp(config.httpServer);
  const io = new Server(http.server, {
    path,
    serveClient: false,
    // Twice the signal bound plus room for a join with escaped ids and token: a slightly
    // oversize signal gets a clean ERR_PAYLOAD_TOO_LARGE, a grossly oversize frame is dropped
    // by engine.io together with its socket before anything parses it.
    maxHttpBufferSize: maxPayloadBytes * 2 + 16 * 1024,
    // Other upgrades (RxDB's plain-WebSocket protocol) are answered by attachRxdbSignaling.
    destroyUpgrade: config.rxdbPath === false,
    ...(config.corsOrigin === undefined ? {} : { cors: { origin: config.corsOrigin } }),
  });
  dropUpgradeResponses(io);
  let redis: RedisLink | undefined;
  try {
    redis = config.redis === undefined ? undefined : await attachRedis(io, config.redis, config.clock);
  } catch (error) {
    await http.close(io);
    throw error;
  }
  const directory = redis ? new ClusterDirectory(io, config, redis) : new LocalDirectory(io, config);

  if (authenticate) requireAuthentication(io, authenticate);

  // Shared with the RxDB endpoint: the cap is per address over both protocols.
  const addresses = new AddressCounter(config.maxConnectionsPerAddress);
  new SocketDispatcher(config, directory, addresses).attach(io);

  const rxdb = config.rxdbPath === false ? undefined : attachRxdbSignaling(http.server, config, addresses, ws!.WebSocketServer);
  const shutdown = async (): Promise<void> => {
    await directory.stop();
    await rxdb?.close();
    // An explicit disconnect tells clients "io server disconnect" instead of a bare transport close.
    io.local.disconnectSockets(true);
    await http.close(io);
    await redis?.close();
  };
  let origin: { url: string; port: number };
  try {
    origin = await http.start(config.port, config.host);
  } catch (error) {
    await shutdown();
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    ...origin,
    path,
    rxdbUrl: config.rxdbPath === false ? undefined : origin.url.replace(/^http/, 'ws') + config.rxdbPath,
    io,
    stats: () => ({ sockets: io.of('/').sockets.size, ...directory.stats() }),
    close: () => (closing ??= shutdown()),
  };
}

/** Runs `authenticate` on every handshake; its identity, if it gives one, rides on the socket. */
function requireAuthentication(io: Server, authenticate: (handshake: Handshake) => unknown): void {
  io.use((socket, next) => {
    Promise.resolve()
      .then(() => authenticate(socket.handshake))
      .then(
        (accepted) => {
          if (accepted && (typeof accepted === 'object' || typeof accepted === 'string')) socket.data.identity = accepted;
          next(accepted ? undefined : unauthorized());
        },
        // The hook's own error stays here: its message may hold secrets.
        () => next(unauthorized()),
      );
  });
}

function unauthorized(): ExtendedError {
  const error: ExtendedError = new P2PError(P2PErrorCode.UNAUTHORIZED, 'unauthorized');
  error.data = { code: P2PErrorCode.UNAUTHORIZED, message: 'authentication failed' };
  return error;
}
