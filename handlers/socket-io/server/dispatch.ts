/**
 * Every client message of the socket.io protocol, from the wire to the room directory: the rate
 * limit, the event name, parsing and size checks, and the per-socket order while a join is
 * still being decided. One instance per server; its listeners are shared by every socket.
 */
import type { Server } from 'socket.io';
import { P2PErrorCode } from '../../../src/errors.js';
import { JOIN_AUTH_FIELD, SignalingEvent, parseJoin, parseLeave, parseSignal, type SignalingAck } from '../protocol.js';
import { SocketState, enqueue, failure, type ClientSocket, type Outcome, type RoomDirectory } from './common.js';
import { listenToAll, releaseConnection } from './engine.js';
import { RatePolicy, limiterNow, type AddressCounter } from './limits.js';
import type { ResolvedOptions } from './options.js';

type Ack = (result: SignalingAck) => void;

const CLIENT_EVENTS = new Set<unknown>([SignalingEvent.JOIN, SignalingEvent.SIGNAL, SignalingEvent.LEAVE]);
/** Messages one socket may have waiting behind an unfinished Redis join; more are refused. */
const MAX_QUEUED_MESSAGES = 64;

export class SocketDispatcher {
  // Per-socket state lives here, not in `socket.data` (which crosses Redis in cluster mode),
  // and the listeners are made once per server: closures per socket cost ~1 KiB each.
  private readonly states = new WeakMap<ClientSocket, SocketState>();
  private readonly policy: RatePolicy;

  constructor(
    private readonly config: ResolvedOptions,
    private readonly directory: RoomDirectory,
    /** Shared with the RxDB endpoint: the cap is per address over both protocols. */
    private readonly addresses: AddressCounter,
  ) {
    this.policy = new RatePolicy({ ...config, now: limiterNow(config.clock) });
  }

  /** Events go through onAny, which socket.io calls before dispatching them to named listeners (there are none). */
  attach(io: Server): void {
    const dispatcher = this;
    const onEvent = function (this: ClientSocket, event: unknown, ...args: unknown[]) {
      dispatcher.onEvent(this, event, args);
    };
    const onDisconnect = function (this: ClientSocket) {
      dispatcher.onDisconnect(this);
    };
    io.on('connection', (socket: ClientSocket) => {
      releaseConnection(socket); // after the middlewares (authenticate) read the handshake
      if (!this.addresses.acquire(socket.handshake.address)) {
        const message = `over ${this.config.maxConnectionsPerAddress} connections from one address`;
        socket.emit(SignalingEvent.ERROR, { code: P2PErrorCode.LIMIT_EXCEEDED, message });
        socket.disconnect(true);
        return;
      }
      this.states.set(socket, new SocketState(this.policy));
      listenToAll(socket, onEvent);
      socket.on('disconnect', onDisconnect);
      const early = (socket.handshake.auth as Record<string, unknown> | undefined)?.[JOIN_AUTH_FIELD];
      // No error event for it: the client's own `join`, which follows, gets the answer.
      if (early !== undefined) this.onEvent(socket, SignalingEvent.JOIN, [early, ignoreAck]);
    });
  }

  private onEvent(socket: ClientSocket, event: unknown, args: unknown[]): void {
    const state = this.states.get(socket);
    if (!state) return;
    const ack = ackOf(args);
    const verdict = state.take();
    const known = CLIENT_EVENTS.has(event) ? (event as SignalingEvent) : undefined;
    if (verdict !== 'accept') {
      const text = `rate limit of ${this.config.messagesPerSecond} messages per second exceeded; message dropped`;
      reply(socket, ack, failure(P2PErrorCode.LIMIT_EXCEEDED, known, text));
      if (verdict === 'disconnect') socket.disconnect(true);
      return;
    }
    if (!known) return reply(socket, ack, failure(P2PErrorCode.PROTOCOL, undefined, 'unknown event; expected join, signal or leave'));
    if (state.queued >= MAX_QUEUED_MESSAGES) {
      return reply(socket, ack, failure(P2PErrorCode.LIMIT_EXCEEDED, known, 'too many messages waiting; dropped'));
    }
    const run = (): Outcome | Promise<Outcome> => {
      try {
        return this.handle(socket, known, args[0]);
      } catch {
        return failure(P2PErrorCode.SIGNALING, known, 'internal server error');
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

  private handle(socket: ClientSocket, event: SignalingEvent, payload: unknown): Outcome | Promise<Outcome> {
    if (event === SignalingEvent.JOIN) {
      const parsed = parseJoin(payload);
      return parsed.ok ? this.directory.join(socket, parsed.value) : failure(P2PErrorCode.PROTOCOL, event, parsed.message);
    }
    if (event === SignalingEvent.LEAVE) {
      const parsed = parseLeave(payload);
      return parsed.ok ? this.directory.leave(socket, parsed.value.room) : failure(P2PErrorCode.PROTOCOL, event, parsed.message);
    }
    const parsed = parseSignal(payload);
    if (!parsed.ok) return failure(P2PErrorCode.PROTOCOL, event, parsed.message);
    const { room, to } = parsed.value;
    const size = jsonSize(parsed.value);
    if (size === undefined) return failure(P2PErrorCode.PROTOCOL, event, '"signal" is not JSON-serializable', { room });
    if (size > this.config.maxPayloadBytes) {
      const text = `signal message is ${size} bytes, more than the ${this.config.maxPayloadBytes} allowed`;
      return failure(P2PErrorCode.PAYLOAD_TOO_LARGE, event, text, { room, peerId: to });
    }
    return this.directory.signal(socket, parsed.value);
  }

  private onDisconnect(socket: ClientSocket): void {
    if (socket.connected) return; // only socket.io's own disconnect, never a client's event of that name
    this.states.delete(socket);
    this.addresses.release(socket.handshake.address);
    this.directory.disconnected(socket);
  }
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
