/** What the socket.io server's two room directories (one process, or several on Redis) share. */
import type { Socket } from 'socket.io';
import { P2PErrorCode } from '../../../src/errors.js';
import { SignalingEvent, type JoinMessage, type ServerToClientEvents, type SignalMessage, type SignalingErrorMessage } from '../protocol.js';
import { MessageRateLimiter } from './limits.js';
import { displacedMessage, type Refusal } from './rules.js';

export type ClientSocket = Socket<Record<string, (...args: unknown[]) => void>, ServerToClientEvents>;
/** What a handler returns: nothing on success, the error to report otherwise. */
export type Outcome = SignalingErrorMessage | undefined;

/** socket.io room of a signaling room's members. Socket ids never contain ':', so no clash. */
export const roomKey = (room: string): string => `p2p:${room}`;

/** Who holds which peer id in which room, and the emits that follow from it. */
export interface RoomDirectory {
  join(socket: ClientSocket, message: JoinMessage): Outcome | Promise<Outcome>;
  /** `message` is parsed and within the size limit; checks `from` and delivers it. */
  signal(socket: ClientSocket, message: SignalMessage): Outcome;
  leave(socket: ClientSocket, room: string): Outcome | Promise<Outcome>;
  /** The socket is gone: give up everything it held. */
  disconnected(socket: ClientSocket): void;
  /** Rooms with a member and held peer ids, on this process. */
  stats(): { rooms: number; peers: number };
  /** close() started: the disconnects it causes are not news to broadcast. */
  stop(): Promise<void>;
}

export function failure(
  code: P2PErrorCode,
  event: SignalingEvent | undefined,
  message: string,
  about: { room?: string; peerId?: string } = {},
): SignalingErrorMessage {
  return { code, message, ...(event ? { event } : {}), ...about };
}

/** A signal's refusal, naming the target when it is the target that is missing. */
export function refusedSignal(refusal: Refusal, room: string, to: string): SignalingErrorMessage {
  const about = refusal.code === P2PErrorCode.PEER_NOT_CONNECTED ? { room, peerId: to } : { room };
  return failure(refusal.code, SignalingEvent.SIGNAL, refusal.message, about);
}

/** What the holder of an id hears when the bearer of its token takes the id over. */
export function displaced(room: string, peerId: string): SignalingErrorMessage {
  return failure(P2PErrorCode.ID_TAKEN, SignalingEvent.JOIN, displacedMessage(room, peerId), { room, peerId });
}

/** The signal as relayed: the server's verified identity of the sender, never the client's. */
export function relayed(socket: ClientSocket, message: SignalMessage): SignalMessage {
  const identity: unknown = socket.data.identity;
  return identity === undefined ? message : { ...message, identity };
}

/**
 * What the server keeps per socket (beside socket.io's own): its rate limit and its queue,
 * in one object because each object costs a header and a reference on every socket.
 */
export class SocketState extends MessageRateLimiter {
  /** Messages waiting behind an unfinished asynchronous (Redis) join, in order. */
  queue: Promise<void> | undefined = undefined;
  queued = 0;
}

/** Runs `work` after the socket's earlier messages, then answers with `done`. */
export function enqueue(state: SocketState, work: () => Outcome | Promise<Outcome>, done: (outcome: Outcome) => void, event: SignalingEvent): void {
  state.queued += 1;
  const mine: Promise<void> = state
    .queue!.then(work)
    // A bug here must cost one message, never the process.
    .then(done, () => done(failure(P2PErrorCode.SIGNALING, event, 'internal server error')))
    .finally(() => {
      state.queued -= 1;
      if (state.queue === mine) state.queue = undefined;
    });
  state.queue = mine;
}
