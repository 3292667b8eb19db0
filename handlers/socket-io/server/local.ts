/** The room directory of a single server process: an in-memory registry, synchronous emits. */
import type { Server } from 'socket.io';
import { P2PErrorCode } from '../../../src/errors.js';
import { SignalingEvent, type JoinMessage, type SignalMessage } from '../protocol.js';
import { failure, relayed, roomKey, type ClientSocket, type Outcome, type RoomDirectory } from './common.js';
import type { ResolvedOptions } from './options.js';
import { RoomRegistry } from './rooms.js';

export function localDirectory(io: Server, config: ResolvedOptions): RoomDirectory {
  const registry = new RoomRegistry<ClientSocket>(config);
  let stopped = false;

  const broadcastJoined = (room: string, peerIds = registry.peerIds(room)) => {
    if (!stopped && peerIds.length > 0) io.to(roomKey(room)).emit(SignalingEvent.JOINED, peerIds, room);
  };

  return {
    join(socket: ClientSocket, { room, peerId, token }: JoinMessage): Outcome {
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
    },

    signal(socket: ClientSocket, message: SignalMessage): Outcome {
      const { from, to, room } = message;
      const event = SignalingEvent.SIGNAL;
      const own = registry.peerIdOf(socket, room);
      if (own === undefined) return failure(P2PErrorCode.PROTOCOL, event, `not a member of room "${room}"`, { room });
      if (own !== from) {
        return failure(P2PErrorCode.PROTOCOL, event, `"from" must be your own id "${own}" in room "${room}"`, { room });
      }
      const target = registry.holder(room, to);
      if (!target) {
        return failure(P2PErrorCode.PEER_NOT_CONNECTED, event, `peer "${to}" is not in room "${room}"`, { room, peerId: to });
      }
      target.emit(event, relayed(socket, message));
      return undefined;
    },

    leave(socket: ClientSocket, room: string): Outcome {
      // Leaving a room one is not in is a no-op: a displaced or racing client may well do it.
      if (registry.leave(socket, room) === undefined) return undefined;
      void socket.leave(roomKey(room));
      broadcastJoined(room);
      return undefined;
    },

    disconnected(socket: ClientSocket): void {
      for (const room of registry.leaveAll(socket)) broadcastJoined(room);
    },

    stats: () => ({ rooms: registry.roomCount, peers: registry.peerCount }),

    stop: async () => {
      stopped = true;
    },
  };
}
