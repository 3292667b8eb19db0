/**
 * Production socket.io signaling server for the protocol in `./protocol.ts`: peers join rooms,
 * learn each other's ids and relay WebRTC signals. Everything an instance knows lives in the
 * instance (no module state), so tests and apps can run several side by side.
 *
 * The room registry is in memory: a socket.io adapter (Redis…) on `io` would spread `joined`
 * broadcasts, not the registry, so run one instance per set of rooms.
 */
import { Server, type ExtendedError, type Socket } from 'socket.io';
import { P2PError, P2PErrorCode } from '../../src/errors.js';
import {
  SignalingEvent,
  parseJoin,
  parseLeave,
  parseSignal,
  type ServerToClientEvents,
  type SignalingAck,
  type SignalingErrorMessage,
} from './protocol.js';
import { hostHttp } from './server-http.js';
import { MessageRateLimiter } from './server-limits.js';
import { resolveOptions, type SocketIoSignalingServerOptions } from './server-options.js';
import { RoomRegistry } from './server-rooms.js';
import { attachRxdbSignaling } from './server-rxdb.js';

export type { CorsOrigin, Handshake, SocketIoSignalingServerOptions } from './server-options.js';

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

type ClientSocket = Socket<Record<string, (...args: unknown[]) => void>, ServerToClientEvents>;
type Ack = (result: SignalingAck) => void;
/** What a handler returns: nothing on success, the error to report otherwise. */
type Outcome = SignalingErrorMessage | undefined;

const CLIENT_EVENTS = new Set<unknown>([SignalingEvent.JOIN, SignalingEvent.SIGNAL, SignalingEvent.LEAVE]);

const roomKey = (room: string) => `p2p:${room}`; // socket ids never contain ':', so no clash

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
  const registry = new RoomRegistry<ClientSocket>(config);
  let closing: Promise<void> | undefined;
  // Set synchronously when close() starts: the disconnects it causes must not broadcast.
  let shuttingDown = false;

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

  const broadcastJoined = (room: string, peerIds = registry.peerIds(room)) => {
    if (!shuttingDown && peerIds.length > 0) io.to(roomKey(room)).emit(SignalingEvent.JOINED, peerIds, room);
  };

  function onJoin(socket: ClientSocket, payload: unknown): Outcome {
    const parsed = parseJoin(payload);
    if (!parsed.ok) return failure(P2PErrorCode.PROTOCOL, SignalingEvent.JOIN, parsed.message);
    const { room, peerId, token } = parsed.value;
    const result = registry.join(socket, room, peerId, token);
    if (!result.ok) return failure(result.code, SignalingEvent.JOIN, result.message, { room, peerId });
    if (result.kind === 'rejoined') {
      socket.emit(SignalingEvent.JOINED, registry.peerIds(room), room);
      return undefined;
    }
    if (result.kind === 'takeover') {
      const { displaced } = result;
      void displaced.leave(roomKey(room));
      const message = `peer id "${peerId}" in room "${room}" was taken over by a newer connection with its token`;
      displaced.emit(SignalingEvent.ERROR, failure(P2PErrorCode.ID_TAKEN, SignalingEvent.JOIN, message, { room, peerId }));
      // The others see the stale holder leave before the new one joins, so clients that diff
      // the lists tear down the dead link instead of keeping it under the same id.
      broadcastJoined(room, registry.peerIds(room).filter((id) => id !== peerId));
    }
    // Synchronous with the in-memory adapter, so the broadcast below reaches the joiner too.
    void socket.join(roomKey(room));
    broadcastJoined(room);
    return undefined;
  }

  function onSignal(socket: ClientSocket, payload: unknown): Outcome {
    const parsed = parseSignal(payload);
    const event = SignalingEvent.SIGNAL;
    if (!parsed.ok) return failure(P2PErrorCode.PROTOCOL, event, parsed.message);
    const message = parsed.value;
    const { from, to, room } = message;
    const size = jsonSize(message);
    if (size === undefined) return failure(P2PErrorCode.PROTOCOL, event, '"signal" is not JSON-serializable', { room });
    if (size > maxPayloadBytes) {
      const text = `signal message is ${size} bytes, more than the ${maxPayloadBytes} allowed`;
      return failure(P2PErrorCode.PAYLOAD_TOO_LARGE, event, text, { room, peerId: to });
    }
    const own = registry.peerIdOf(socket, room);
    if (own === undefined) return failure(P2PErrorCode.PROTOCOL, event, `not a member of room "${room}"`, { room });
    if (own !== from) {
      return failure(P2PErrorCode.PROTOCOL, event, `"from" must be your own id "${own}" in room "${room}"`, { room });
    }
    const target = registry.holder(room, to);
    if (!target) {
      return failure(P2PErrorCode.PEER_NOT_CONNECTED, event, `peer "${to}" is not in room "${room}"`, { room, peerId: to });
    }
    const identity: unknown = socket.data.identity;
    target.emit(event, identity === undefined ? message : { ...message, identity });
    return undefined;
  }

  function onLeave(socket: ClientSocket, payload: unknown): Outcome {
    const parsed = parseLeave(payload);
    if (!parsed.ok) return failure(P2PErrorCode.PROTOCOL, SignalingEvent.LEAVE, parsed.message);
    const { room } = parsed.value;
    // Leaving a room one is not in is a no-op: a displaced or racing client may well do it.
    if (registry.leave(socket, room) === undefined) return undefined;
    void socket.leave(roomKey(room));
    broadcastJoined(room);
    return undefined;
  }

  const handlers = { join: onJoin, signal: onSignal, leave: onLeave } as const;

  io.on('connection', (socket: ClientSocket) => {
    const limiter = new MessageRateLimiter(config);
    socket.use((packet, next) => {
      const [event] = packet;
      const ack = ackOf(packet);
      const verdict = limiter.take();
      if (verdict !== 'accept') {
        const known = CLIENT_EVENTS.has(event) ? (event as SignalingEvent) : undefined;
        const text = `rate limit of ${config.messagesPerSecond} messages per second exceeded; message dropped`;
        reply(socket, ack, failure(P2PErrorCode.LIMIT_EXCEEDED, known, text));
        if (verdict === 'disconnect') socket.disconnect(true);
        return;
      }
      if (!CLIENT_EVENTS.has(event)) {
        reply(socket, ack, failure(P2PErrorCode.PROTOCOL, undefined, 'unknown event; expected join, signal or leave'));
        return;
      }
      next();
    });
    for (const [event, handler] of Object.entries(handlers)) {
      socket.on(event, (...args: unknown[]) => {
        const ack = ackOf(args);
        let outcome: Outcome;
        try {
          outcome = handler(socket, args[0]);
        } catch {
          // A bug here must cost one message, never the process.
          outcome = failure(P2PErrorCode.SIGNALING, event as SignalingEvent, 'internal server error');
        }
        reply(socket, ack, outcome);
      });
    }
    socket.on('disconnect', () => {
      for (const room of registry.leaveAll(socket)) broadcastJoined(room);
    });
  });

  const rxdb = config.rxdbPath === false ? undefined : attachRxdbSignaling(http.server, config);
  let origin: { url: string; port: number };
  try {
    origin = await http.start(config.port, config.host);
  } catch (error) {
    await rxdb?.close();
    await http.close(io);
    throw error;
  }

  async function shutdown(): Promise<void> {
    shuttingDown = true;
    await rxdb?.close();
    // An explicit disconnect tells clients "io server disconnect" instead of a bare transport close.
    io.local.disconnectSockets(true);
    await http.close(io);
  }

  return {
    ...origin,
    path,
    rxdbUrl: config.rxdbPath === false ? undefined : origin.url.replace(/^http/, 'ws') + config.rxdbPath,
    io,
    stats: () => ({ sockets: io.of('/').sockets.size, rooms: registry.roomCount, peers: registry.peerCount }),
    close: () => (closing ??= shutdown()),
  };
}

function failure(
  code: P2PErrorCode,
  event: SignalingEvent | undefined,
  message: string,
  about: { room?: string; peerId?: string } = {},
): SignalingErrorMessage {
  return { code, message, ...(event ? { event } : {}), ...about };
}

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
