/**
 * Production socket.io signaling server for the protocol in `./protocol.ts`: peers join rooms,
 * learn each other's ids and relay WebRTC signals. Everything an instance knows lives in the
 * instance (no module state), so tests and apps can run several side by side.
 *
 * One process keeps its rooms in memory (local.ts); with the `redis` option several
 * processes share them through socket.io's Redis adapter (cluster.ts).
 */
import { Server, type ExtendedError } from 'socket.io';
import { P2PError, P2PErrorCode } from '../../../src/errors.js';
import {
  JOIN_AUTH_FIELD,
  SignalingEvent,
  parseJoin,
  parseLeave,
  parseSignal,
  type SignalingAck,
  type SignalingErrorMessage,
} from '../protocol.js';
import { hostHttp } from './http.js';
import { AddressCounter, RatePolicy } from './limits.js';
import { resolveOptions, type SocketIoSignalingServerOptions } from './options.js';
import { clusterDirectory } from './cluster.js';
import { SocketState, enqueue, failure, type ClientSocket, type Outcome } from './common.js';
import { localDirectory } from './local.js';
import { attachRedis, type RedisLink } from './redis.js';
import { attachRxdbSignaling } from './rxdb.js';
import { dropUpgradeResponses, listenToAll, releaseConnection } from './engine.js';

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

type Ack = (result: SignalingAck) => void;
type Handler = (socket: ClientSocket, payload: unknown) => Outcome | Promise<Outcome>;

const CLIENT_EVENTS = new Set<unknown>([SignalingEvent.JOIN, SignalingEvent.SIGNAL, SignalingEvent.LEAVE]);
/** Messages one socket may have waiting behind an unfinished Redis join; more are refused. */
const MAX_QUEUED_MESSAGES = 64;

export async function startSocketIoSignalingServer(
  options?: SocketIoSignalingServerOptions,
): Promise<SocketIoSignalingServer> {
  const config = resolveOptions(options);
  const { path, maxPayloadBytes, authenticate } = config;
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
    redis = config.redis === undefined ? undefined : await attachRedis(io, config.redis);
  } catch (error) {
    await http.close(io);
    throw error;
  }
  const directory = redis ? clusterDirectory(io, config, redis) : localDirectory(io, config);
  let closing: Promise<void> | undefined;

  if (authenticate) {
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

  const handlers: Record<string, Handler> = {
    join(socket, payload) {
      const parsed = parseJoin(payload);
      if (!parsed.ok) return failure(P2PErrorCode.PROTOCOL, SignalingEvent.JOIN, parsed.message);
      return directory.join(socket, parsed.value);
    },
    signal(socket, payload) {
      const parsed = parseSignal(payload);
      const event = SignalingEvent.SIGNAL;
      if (!parsed.ok) return failure(P2PErrorCode.PROTOCOL, event, parsed.message);
      const { room, to } = parsed.value;
      const size = jsonSize(parsed.value);
      if (size === undefined) return failure(P2PErrorCode.PROTOCOL, event, '"signal" is not JSON-serializable', { room });
      if (size > maxPayloadBytes) {
        const text = `signal message is ${size} bytes, more than the ${maxPayloadBytes} allowed`;
        return failure(P2PErrorCode.PAYLOAD_TOO_LARGE, event, text, { room, peerId: to });
      }
      return directory.signal(socket, parsed.value);
    },
    leave(socket, payload) {
      const parsed = parseLeave(payload);
      if (!parsed.ok) return failure(P2PErrorCode.PROTOCOL, SignalingEvent.LEAVE, parsed.message);
      return directory.leave(socket, parsed.value.room);
    },
  };

  // Per-socket state lives here, not in `socket.data` (which crosses Redis in cluster mode),
  // and the listeners below are made once per server: closures per socket cost ~1 KiB each.
  const states = new WeakMap<ClientSocket, SocketState>();
  // Shared with the RxDB endpoint: the cap is per address over both protocols.
  const addresses = new AddressCounter(config.maxConnectionsPerAddress);
  const policy = new RatePolicy(config);

  function onEvent(this: ClientSocket, event: unknown, ...args: unknown[]): void {
    const socket = this;
    const state = states.get(socket);
    if (!state) return;
    const ack = ackOf(args);
    const verdict = state.take();
    const known = CLIENT_EVENTS.has(event) ? (event as SignalingEvent) : undefined;
    if (verdict !== 'accept') {
      const text = `rate limit of ${config.messagesPerSecond} messages per second exceeded; message dropped`;
      reply(socket, ack, failure(P2PErrorCode.LIMIT_EXCEEDED, known, text));
      if (verdict === 'disconnect') socket.disconnect(true);
      return;
    }
    if (!known) return reply(socket, ack, failure(P2PErrorCode.PROTOCOL, undefined, 'unknown event; expected join, signal or leave'));
    if (state.queued >= MAX_QUEUED_MESSAGES) {
      return reply(socket, ack, failure(P2PErrorCode.LIMIT_EXCEEDED, known, 'too many messages waiting; dropped'));
    }
    const handler = handlers[known]!;
    const run = (): Outcome | Promise<Outcome> => {
      try {
        return handler(socket, args[0]);
      } catch {
        return internalError(known);
      }
    };
    const done = (outcome: Outcome) => reply(socket, ack, outcome);
    // A Redis directory answers joins asynchronously: later messages of the socket wait for
    // it, so a signal is never checked against a membership that is still being decided.
    if (!state.queue) {
      const outcome = run();
      if (!(outcome instanceof Promise)) return done(outcome);
      state.queue = Promise.resolve();
      return enqueue(state, () => outcome, done, known);
    }
    enqueue(state, run, done, known);
  }

  function onDisconnect(this: ClientSocket): void {
    if (this.connected) return; // only socket.io's own disconnect, never a client's event of that name
    states.delete(this);
    addresses.release(this.handshake.address);
    directory.disconnected(this);
  }

  // Events go through onAny, which socket.io calls before dispatching them to named listeners
  // (there are none): one shared function checks the rate, the name and the queue.
  io.on('connection', (socket: ClientSocket) => {
    releaseConnection(socket); // after the middlewares (authenticate) read the handshake
    if (!addresses.acquire(socket.handshake.address)) {
      socket.emit(SignalingEvent.ERROR, { code: P2PErrorCode.LIMIT_EXCEEDED, message: `over ${config.maxConnectionsPerAddress} connections from one address` });
      socket.disconnect(true);
      return;
    }
    states.set(socket, new SocketState(policy));
    listenToAll(socket, onEvent);
    socket.on('disconnect', onDisconnect);
    const early = (socket.handshake.auth as Record<string, unknown> | undefined)?.[JOIN_AUTH_FIELD];
    // No error event for it: the client's own `join`, which follows, gets the answer.
    if (early !== undefined) onEvent.call(socket, SignalingEvent.JOIN, early, ignoreAck);
  });

  const rxdb = config.rxdbPath === false ? undefined : attachRxdbSignaling(http.server, config, addresses);
  let origin: { url: string; port: number };
  try {
    origin = await http.start(config.port, config.host);
  } catch (error) {
    await directory.stop();
    await rxdb?.close();
    await http.close(io);
    await redis?.close();
    throw error;
  }

  async function shutdown(): Promise<void> {
    await directory.stop();
    await rxdb?.close();
    // An explicit disconnect tells clients "io server disconnect" instead of a bare transport close.
    io.local.disconnectSockets(true);
    await http.close(io);
    await redis?.close();
  }

  return {
    ...origin,
    path,
    rxdbUrl: config.rxdbPath === false ? undefined : origin.url.replace(/^http/, 'ws') + config.rxdbPath,
    io,
    stats: () => ({ sockets: io.of('/').sockets.size, ...directory.stats() }),
    close: () => (closing ??= shutdown()),
  };
}

function internalError(event: string): SignalingErrorMessage {
  return failure(P2PErrorCode.SIGNALING, event as SignalingEvent, 'internal server error');
}

const ignoreAck: Ack = () => {};

function reply(socket: ClientSocket, ack: Ack | undefined, error: Outcome): void {
  if (ack) ack(error ? { ok: false, error } : { ok: true });
  else if (error) socket.emit(SignalingEvent.ERROR, error);
}

/** socket.io appends the acknowledgement callback as last argument when the client asked for one. */
function ackOf(args: unknown[]): Ack | undefined {
  const last = args[args.length - 1];
  return typeof last === 'function' ? (last as Ack) : undefined;
}

function jsonSize(value: unknown): number | undefined {
  try {
    return Buffer.byteLength(JSON.stringify(value));
  } catch {
    return undefined;
  }
}

function unauthorized(): ExtendedError {
  const error: ExtendedError = new P2PError(P2PErrorCode.UNAUTHORIZED, 'unauthorized');
  error.data = { code: P2PErrorCode.UNAUTHORIZED, message: 'authentication failed' };
  return error;
}
