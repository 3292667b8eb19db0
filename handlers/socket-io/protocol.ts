/**
 * Wire protocol of the socket.io signaling server, shared with the client. It is the seed's
 * protocol (so the seed's example client and RxDB 14's socket.io handler work unchanged) plus
 * three additive extensions that old clients ignore: `leave`, the `error` event, and an
 * optional socket.io acknowledgement on every client event.
 *
 * Client → server:
 *   `join`   {@link JoinMessage}    — claim `peerId` in `room`.
 *   `signal` {@link SignalMessage}  — relayed to the socket holding `to` in `room`.
 *   `leave`  {@link LeaveMessage}   — give up this socket's id in `room`.
 *   Each may pass an ack callback as last argument: it then receives a {@link SignalingAck}
 *   and the server emits no `error` event for that message.
 * Server → client:
 *   `joined` (peerIds: string[], room: string) — every id in `room` (including the receiver's),
 *            sent to every member whenever the list changes. Old clients read only the first
 *            argument; `room` tells a socket that is in several rooms which list this is.
 *   `signal` {@link SignalMessage}  — exactly the four fields, `from` checked by the server.
 *   `error`  {@link SignalingErrorMessage}.
 *
 * Dependency-free (our own error codes only) so browser bundles of the client can import it.
 */
import { P2PErrorCode } from '../../src/errors.js';

/** Event names. 'error' is not reserved for server → client emits in socket.io 4. */
export const SignalingEvent = {
  JOIN: 'join',
  JOINED: 'joined',
  SIGNAL: 'signal',
  LEAVE: 'leave',
  ERROR: 'error',
} as const;
export type SignalingEvent = (typeof SignalingEvent)[keyof typeof SignalingEvent];

/**
 * A client may also put its first room's {@link JoinMessage} in the handshake, as
 * `auth[JOIN_AUTH_FIELD]`: the server then joins it at connection, one round trip sooner, as
 * if a `join` event had come (the same checks and rate limit, but no `error` event; the client
 * still sends `join`, answered as a repeat, and the seed's server ignores the field).
 */
export const JOIN_AUTH_FIELD = 'p2pJoin';

/** Longest accepted room or peer id, in UTF-16 code units. */
export const MAX_ID_LENGTH = 256;
/** Longest accepted takeover token, in UTF-16 code units. */
export const MAX_TOKEN_LENGTH = 1024;

export interface JoinMessage {
  room: string;
  peerId: string;
  /**
   * Secret that lets a later socket take this id over (e.g. a reloaded page with a persisted
   * id). A join naming an id held by another socket succeeds only with the same token.
   */
  token?: string;
}

export interface SignalMessage<TSignal = unknown> {
  from: string;
  to: string;
  room: string;
  signal: TSignal;
  /**
   * Server → client only: the sender's identity as the server's `authenticate` hook verified
   * it. Never taken from a client (the server rebuilds every message from the four fields).
   */
  identity?: unknown;
}

export interface LeaveMessage {
  room: string;
}

export interface SignalingErrorMessage {
  code: P2PErrorCode;
  message: string;
  /** The client event that caused the error, when there was one. */
  event?: SignalingEvent;
  room?: string;
  peerId?: string;
}

export type SignalingAck = { ok: true } | { ok: false; error: SignalingErrorMessage };

/** Typed event maps for `socket.io-client`'s `Socket<ServerToClientEvents, ClientToServerEvents>`. */
export interface ServerToClientEvents {
  joined: (peerIds: string[], room: string) => void;
  signal: (message: SignalMessage) => void;
  error: (error: SignalingErrorMessage) => void;
}
export interface ClientToServerEvents {
  join: (message: JoinMessage, ack?: (result: SignalingAck) => void) => void;
  signal: (message: SignalMessage, ack?: (result: SignalingAck) => void) => void;
  leave: (message: LeaveMessage, ack?: (result: SignalingAck) => void) => void;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const fail = (message: string): { ok: false; message: string } => ({ ok: false, message });

function checkIds(record: Record<string, unknown>, fields: readonly string[]): string | undefined {
  for (const field of fields) {
    if (!isValidId(record[field])) return `"${field}" must be a string of 1 to ${MAX_ID_LENGTH} characters`;
  }
  return undefined;
}

export function parseJoin(input: unknown): Parsed<JoinMessage> {
  if (!isRecord(input)) return fail('join expects an object { room, peerId, token? }');
  const problem = checkIds(input, ['room', 'peerId']);
  if (problem) return fail(problem);
  const { room, peerId, token } = input as { room: string; peerId: string; token?: unknown };
  if (token === undefined) return { ok: true, value: { room, peerId } };
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
    return fail(`"token" must be a string of 1 to ${MAX_TOKEN_LENGTH} characters`);
  }
  return { ok: true, value: { room, peerId, token } };
}

/** Rebuilds the message from its four fields so nothing else is ever relayed. */
export function parseSignal(input: unknown): Parsed<SignalMessage> {
  if (!isRecord(input)) return fail('signal expects an object { from, to, room, signal }');
  const problem = checkIds(input, ['from', 'to', 'room']);
  if (problem) return fail(problem);
  if (input.signal === undefined) return fail('"signal" is missing');
  const { from, to, room, signal } = input as unknown as SignalMessage;
  return { ok: true, value: { from, to, room, signal } };
}

export function parseLeave(input: unknown): Parsed<LeaveMessage> {
  if (!isRecord(input)) return fail('leave expects an object { room }');
  const problem = checkIds(input, ['room']);
  return problem ? fail(problem) : { ok: true, value: { room: input.room as string } };
}

/** For clients: validates the first argument of `joined`. */
export function parseJoined(input: unknown): Parsed<string[]> {
  if (!Array.isArray(input) || !input.every(isValidId)) return fail('joined expects an array of peer ids');
  return { ok: true, value: input };
}

const ERROR_CODES = new Set<unknown>(Object.values(P2PErrorCode));

/** For clients: validates an `error` event payload. */
export function parseSignalingError(input: unknown): Parsed<SignalingErrorMessage> {
  if (!isRecord(input) || !ERROR_CODES.has(input.code) || typeof input.message !== 'string') {
    return fail('error expects { code, message }');
  }
  return { ok: true, value: input as unknown as SignalingErrorMessage };
}
