import { P2PError, P2PErrorCode } from '../../src/errors.js';
import type { SignalingEvents, SignalingTransport } from '../../src/mesh/signaling.js';

interface Member {
  peerId: string;
  events: SignalingEvents;
}

/**
 * An in-process SignalingTransport for testing the mesh core on its own: rooms, presence,
 * and asynchronous delivery, plus knobs to drop a member's connection or lose signals.
 */
export class SignalingBus {
  private readonly rooms = new Map<string, Map<SignalingTransport, Member>>();
  /** Signals are dropped while this returns true. */
  lose: (from: string, to: string, signal: unknown) => boolean = () => false;
  readonly log: Array<{ from: string; to: string; signal: any }> = [];

  /** `sharedRoster`: what the transport tells the core about its presence (see SignalingTransport). */
  transport({ sharedRoster = false } = {}): SignalingTransport {
    let room: string | undefined;
    const transport: SignalingTransport = {
      sharedRoster,
      join: async (roomName, peerId, events) => {
        room = roomName;
        const members = this.rooms.get(roomName) ?? new Map<SignalingTransport, Member>();
        this.rooms.set(roomName, members);
        const others = [...members.values()];
        members.set(transport, { peerId, events });
        await Promise.resolve();
        for (const other of others) {
          other.events.peerJoined(peerId);
          events.peerJoined(other.peerId);
        }
      },
      send: (to, signal) => {
        const members = room === undefined ? undefined : this.rooms.get(room);
        const self = members?.get(transport);
        if (!members || !self) throw new P2PError(P2PErrorCode.SIGNALING, 'not joined');
        this.log.push({ from: self.peerId, to, signal });
        if (this.lose(self.peerId, to, signal)) return;
        const target = [...members.values()].find((member) => member.peerId === to);
        const copy = JSON.parse(JSON.stringify(signal));
        if (target) queueMicrotask(() => target.events.signal(self.peerId, copy));
      },
      leave: async () => {
        const members = room === undefined ? undefined : this.rooms.get(room);
        const self = members?.get(transport);
        if (!members || !self) return;
        members.delete(transport);
        for (const other of members.values()) other.events.peerLeft(self.peerId);
      },
    };
    return transport;
  }

  /** Simulates the signaling connection of `peerId` dropping (the others see it leave). */
  dropConnection(peerId: string): void {
    for (const members of this.rooms.values()) {
      for (const [transport, member] of members) {
        if (member.peerId !== peerId) continue;
        members.delete(transport);
        for (const other of members.values()) other.events.peerLeft(peerId);
        member.events.lost(new P2PError(P2PErrorCode.SIGNALING, 'dropped by the test'));
      }
    }
  }

  memberCount(room: string): number {
    return this.rooms.get(room)?.size ?? 0;
  }
}
