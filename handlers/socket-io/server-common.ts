/** What the socket.io server's two room directories (one process, or several on Redis) share. */
import type { Socket } from 'socket.io';
import type { P2PErrorCode } from '../../src/errors.js';
import type { JoinMessage, ServerToClientEvents, SignalMessage, SignalingErrorMessage, SignalingEvent } from './protocol.js';

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

/** The signal as relayed: the server's verified identity of the sender, never the client's. */
export function relayed(socket: ClientSocket, message: SignalMessage): SignalMessage {
  const identity: unknown = socket.data.identity;
  return identity === undefined ? message : { ...message, identity };
}
