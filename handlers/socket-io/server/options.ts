/** Options of the socket.io signaling server: their defaults and their validation. */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'socket.io';
import { P2PError, P2PErrorCode } from '../../../src/errors.js';
import { systemClock, type Clock } from '../../../src/mesh/timers.js';

export type Handshake = Socket['handshake'];
export type CorsOrigin = boolean | string | RegExp | Array<string | RegExp>;

export interface SocketIoSignalingServerOptions {
  /** TCP port; used only when we start listening. Default `0`: an ephemeral port (see `port` of the result). */
  port?: number;
  /** Interface to bind. Default `'127.0.0.1'`: exposing the server beyond this host must be a choice. */
  host?: string;
  /** socket.io path; clients must pass the same `path`. Default `'/socket.io'`. */
  path?: string;
  /**
   * Called once per connection with its handshake (`auth`, `headers`, `query`, `address`).
   * Return a truthy value (or a Promise of one) to accept; falsy, a throw or a rejection refuses
   * the connection with a `connect_error` whose `data.code` is `'ERR_UNAUTHORIZED'`. Also the
   * place to check `headers.origin`, which CORS does not cover for WebSocket connections.
   * Return an object or a string instead of `true` to give the socket a verified identity: the
   * server stamps it on every signal the socket sends, and clients show it as `peer.identity`
   * (for RxDB's `isPeerValid`). Default: none, every connection is accepted.
   */
  authenticate?: (handshake: Handshake) => unknown;
  /**
   * Path of the plain-WebSocket endpoint speaking RxDB's own signaling protocol (for RxDB's
   * `getConnectionHandlerSimplePeer({ signalingServerUrl })`), or `false` for none.
   * Default `'/'`: RxDB apps point `signalingServerUrl` at this server's `rxdbUrl`.
   */
  rxdbPath?: string | false;
  /** Rooms one socket may be in at once. Default `32`. */
  maxRoomsPerSocket?: number;
  /** Peers one room may hold. Default `512`. */
  maxPeersPerRoom?: number;
  /** Largest accepted `signal` message, in bytes of its JSON. Default `65536` (64 KiB). */
  maxPayloadBytes?: number;
  /** Sustained messages per second one socket may send (token bucket refill rate). Default `200`. */
  messagesPerSecond?: number;
  /** Messages one socket may send in a burst (token bucket size). Default `2 × messagesPerSecond`. */
  messageBurst?: number;
  /**
   * Rate-limited (dropped) messages after which the socket is disconnected; the count restarts
   * after 10 s without a drop. Default `100`.
   */
  maxDroppedMessages?: number;
  /**
   * Joins one socket may send per second (a budget of its own, within `messagesPerSecond`):
   * every join can make the server write to a whole room. Burst: twice as many. Default `5`.
   */
  joinsPerSecond?: number;
  /**
   * Connections one IP address may hold at once, over socket.io and the RxDB endpoint together;
   * more are refused (`ERR_LIMIT_EXCEEDED`). Default `256`. Clients behind one NAT share an
   * address: raise it for such deployments.
   */
  maxConnectionsPerAddress?: number;
  /** CORS `origin` for the HTTP long-polling transport (see the `cors` package). Default: none (same origin only). */
  corsOrigin?: CorsOrigin;
  /**
   * Existing HTTP(S) server to attach to instead of creating one. If it is not listening yet,
   * it is started on `port`/`host`. It stays the caller's: `close()` detaches from it and
   * never closes it. Default: none, a server is created and closed with us.
   */
  httpServer?: HttpServer | HttpsServer;
  /**
   * `redis://host:port` (or `rediss://`) of a Redis server shared by several server processes:
   * socket.io's Redis adapter makes them act as one (rooms, peer ids, signals and leaves span
   * all of them), so clients may connect to any. The `rxdbUrl` endpoint stays per process.
   * Needs the optional packages `redis` and `@socket.io/redis-adapter`, loaded only when set.
   * Default: undefined, a single process keeps everything in memory.
   */
  redis?: string;
  /**
   * What the server schedules its timers with and stamps joins by (wall-clock time: processes
   * of a cluster order their lists by it). Default: the system clock. Tests inject their own.
   */
  clock?: Clock;
}

export interface ResolvedOptions
  extends Required<Omit<SocketIoSignalingServerOptions, 'authenticate' | 'corsOrigin' | 'httpServer' | 'rxdbPath' | 'redis' | 'clock'>> {
  redis: string | undefined;
  rxdbPath: string | false;
  authenticate: SocketIoSignalingServerOptions['authenticate'];
  corsOrigin: CorsOrigin | undefined;
  httpServer: HttpServer | HttpsServer | undefined;
  clock: Clock;
}

const KNOWN = new Set([
  'port', 'host', 'path', 'rxdbPath', 'authenticate', 'maxRoomsPerSocket', 'maxPeersPerRoom', 'maxPayloadBytes',
  'messagesPerSecond', 'messageBurst', 'maxDroppedMessages', 'joinsPerSecond', 'maxConnectionsPerAddress', 'corsOrigin', 'httpServer', 'redis', 'clock',
]);

function invalid(name: string, expected: string, value: unknown): P2PError {
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return new P2PError(P2PErrorCode.INVALID_OPTION, `option "${name}" must be ${expected}, got ${shown}`);
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw invalid(name, 'a positive integer', value);
  return value;
}

function isCorsOrigin(value: unknown): boolean {
  const single = (v: unknown) => typeof v === 'string' || v instanceof RegExp;
  return typeof value === 'boolean' || single(value) || (Array.isArray(value) && value.every(single));
}

export function resolveOptions(options: SocketIoSignalingServerOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'an object', options);
  // Typos such as `messagePerSecond` would otherwise silently leave a limit at its default.
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new P2PError(P2PErrorCode.INVALID_OPTION, `unknown option "${key}"`);
  }
  const {
    port = 0,
    host = '127.0.0.1',
    path = '/socket.io',
    rxdbPath = '/',
    authenticate,
    maxRoomsPerSocket = 32,
    maxPeersPerRoom = 512,
    maxPayloadBytes = 64 * 1024,
    messagesPerSecond = 200,
    messageBurst = Math.ceil(2 * messagesPerSecond),
    maxDroppedMessages = 100,
    joinsPerSecond = 5,
    maxConnectionsPerAddress = 256,
    corsOrigin,
    httpServer,
    redis,
    clock = systemClock,
  } = options;
  checkShapes({ port, host, path, rxdbPath, authenticate, messagesPerSecond, joinsPerSecond, corsOrigin, redis, httpServer, clock });

  return {
    port,
    host,
    path,
    rxdbPath,
    authenticate,
    maxRoomsPerSocket: positiveInteger('maxRoomsPerSocket', maxRoomsPerSocket),
    maxPeersPerRoom: positiveInteger('maxPeersPerRoom', maxPeersPerRoom),
    maxPayloadBytes: positiveInteger('maxPayloadBytes', maxPayloadBytes),
    messagesPerSecond,
    messageBurst: positiveInteger('messageBurst', messageBurst),
    maxDroppedMessages: positiveInteger('maxDroppedMessages', maxDroppedMessages),
    joinsPerSecond,
    maxConnectionsPerAddress: positiveInteger('maxConnectionsPerAddress', maxConnectionsPerAddress),
    corsOrigin,
    httpServer,
    redis,
    clock,
  };
}

/** The options that are more than a positive integer: each of the right type and shape. */
function checkShapes(options: Omit<ResolvedOptions, 'maxRoomsPerSocket' | 'maxPeersPerRoom' | 'maxPayloadBytes' | 'messageBurst' | 'maxDroppedMessages' | 'maxConnectionsPerAddress'>): void {
  const { port, host, path, rxdbPath, authenticate, messagesPerSecond, joinsPerSecond, corsOrigin, redis, httpServer, clock } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalid('port', 'an integer in 0..65535', port);
  if (typeof host !== 'string' || host.length === 0) throw invalid('host', 'a non-empty string', host);
  if (typeof path !== 'string' || !path.startsWith('/')) throw invalid('path', 'a string starting with "/"', path);
  if (rxdbPath !== false && (typeof rxdbPath !== 'string' || !rxdbPath.startsWith('/') || rxdbPath.startsWith(path))) {
    throw invalid('rxdbPath', `false or a path starting with "/" outside "${path}"`, rxdbPath);
  }
  if (authenticate !== undefined && typeof authenticate !== 'function') {
    throw invalid('authenticate', 'a function', authenticate);
  }
  if (typeof messagesPerSecond !== 'number' || !Number.isFinite(messagesPerSecond) || messagesPerSecond <= 0) {
    throw invalid('messagesPerSecond', 'a positive finite number', messagesPerSecond);
  }
  if (typeof joinsPerSecond !== 'number' || !Number.isFinite(joinsPerSecond) || joinsPerSecond <= 0) {
    throw invalid('joinsPerSecond', 'a positive finite number', joinsPerSecond);
  }
  if (corsOrigin !== undefined && !isCorsOrigin(corsOrigin)) {
    throw invalid('corsOrigin', 'a boolean, string, RegExp or an array of strings and RegExps', corsOrigin);
  }
  if (redis !== undefined && (typeof redis !== 'string' || !/^rediss?:\/\/[^/\s]/.test(redis))) {
    throw invalid('redis', 'a redis:// or rediss:// URL', redis);
  }
  const server = httpServer as { listen?: unknown; on?: unknown } | undefined;
  if (server !== undefined && (typeof server?.listen !== 'function' || typeof server.on !== 'function')) {
    throw invalid('httpServer', 'an http.Server or https.Server', httpServer);
  }
  if (typeof clock?.now !== 'function' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function') {
    throw invalid('clock', 'an object with now, setTimeout and clearTimeout', clock);
  }
}
