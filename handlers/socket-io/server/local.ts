/** The room directory of a single server process: an in-memory registry, synchronous emits. */
import type { Server } from 'socket.io';
import { SignalingEvent, type JoinMessage, type SignalMessage } from '../protocol.js';
import { displaced, failure, refusedSignal, roomKey, relayed, type ClientSocket, type Outcome, type RoomDirectory } from './common.js';
import type { ResolvedOptions } from './options.js';
import { RoomRegistry } from './rooms.js';
import { checkSignal } from './rules.js';

export class LocalDirectory implements RoomDirectory {
  private readonly registry: RoomRegistry<ClientSocket>;
  private stopped = false;

  constructor(
    private readonly io: Server,
    config: ResolvedOptions,
  ) {
    this.registry = new RoomRegistry<ClientSocket>(config);
  }

  join(socket: ClientSocket, { room, peerId, token }: JoinMessage): Outcome {
    const result = this.registry.join(socket, room, peerId, token);
    if (!result.ok) return failure(result.code, SignalingEvent.JOIN, result.message, { room, peerId });
    if (result.kind === 'rejoined') {
      socket.emit(SignalingEvent.JOINED, this.registry.peerIds(room), room);
      return undefined;
    }
    if (result.kind === 'takeover') {
      void result.displaced.leave(roomKey(room));
      result.displaced.emit(SignalingEvent.ERROR, displaced(room, peerId));
      // The others see the stale holder leave before the new one joins, so clients that diff
      // the lists tear down the dead link instead of keeping it under the same id.
      this.broadcastJoined(room, this.registry.peerIds(room).filter((id) => id !== peerId));
    }
    // Synchronous with the in-memory adapter, so the broadcast below reaches the joiner too.
    void socket.join(roomKey(room));
    this.broadcastJoined(room);
    return undefined;
  }

  signal(socket: ClientSocket, message: SignalMessage): Outcome {
    const { from, to, room } = message;
    const target = this.registry.holder(room, to);
    const refusal = checkSignal(this.registry.peerIdOf(socket, room), target !== undefined, from, to, room);
    if (refusal) return refusedSignal(refusal, room, to);
    target!.emit(SignalingEvent.SIGNAL, relayed(socket, message));
    return undefined;
  }

  leave(socket: ClientSocket, room: string): Outcome {
    // Leaving a room one is not in is a no-op: a displaced or racing client may well do it.
    if (this.registry.leave(socket, room) === undefined) return undefined;
    void socket.leave(roomKey(room));
    this.broadcastJoined(room);
    return undefined;
  }

  disconnected(socket: ClientSocket): void {
    for (const room of this.registry.leaveAll(socket)) this.broadcastJoined(room);
  }

  stats(): { rooms: number; peers: number } {
    return { rooms: this.registry.roomCount, peers: this.registry.peerCount };
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }

  private broadcastJoined(room: string, peerIds = this.registry.peerIds(room)): void {
    if (!this.stopped && peerIds.length > 0) this.io.to(roomKey(room)).emit(SignalingEvent.JOINED, peerIds, room);
  }
}
