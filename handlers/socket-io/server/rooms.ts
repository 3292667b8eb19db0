/**
 * Who holds which peer id in which room. Pure bookkeeping, no I/O: the server turns the
 * results into emits. Peer ids are scoped to a room, so one socket can be in several rooms
 * (one per topic) with different ids, and signals never cross rooms.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { P2PErrorCode } from '../../../src/errors.js';
import { checkClaim, checkOwnRooms, type RoomLimits } from './rules.js';

export type { RoomLimits } from './rules.js';

interface Member<C> {
  client: C;
  /** HMAC of the join token under a per-registry key: a memory dump reveals no usable token. */
  tokenHash: Buffer | undefined;
}

export type JoinResult<C> =
  | { ok: true; kind: 'joined' | 'rejoined' }
  | { ok: true; kind: 'takeover'; displaced: C }
  | { ok: false; code: P2PErrorCode; message: string };

export class RoomRegistry<C extends object> {
  /** room → peer id → member. Insertion order gives a stable `joined` list. */
  private readonly rooms = new Map<string, Map<string, Member<C>>>();
  /**
   * client → [room, peer id it holds there, room, peer id, …]. A flat array, not a Map per
   * client: most clients hold one room, and an array of two costs a third of a Map.
   */
  private readonly clients = new Map<C, string[]>();
  private readonly key = randomBytes(32);
  private members = 0;

  constructor(private readonly limits: RoomLimits) {}

  get roomCount(): number {
    return this.rooms.size;
  }

  get peerCount(): number {
    return this.members;
  }

  join(client: C, room: string, peerId: string, token?: string): JoinResult<C> {
    const own = checkOwnRooms(this.peerIdOf(client, room), (this.clients.get(client)?.length ?? 0) / 2, room, peerId, this.limits);
    if (own === 'rejoined') return { ok: true, kind: 'rejoined' };
    if (own) return { ok: false, ...own };
    const members = this.rooms.get(room);
    const holder = members?.get(peerId);
    const tokenHash = token === undefined ? undefined : this.hash(token);
    const tokenMatches = !!tokenHash && !!holder?.tokenHash && timingSafeEqual(tokenHash, holder.tokenHash);
    const verdict = checkClaim({ held: !!holder, tokenMatches, staying: (members?.size ?? 0) - (holder ? 1 : 0) }, room, peerId, this.limits);
    if (typeof verdict === 'object') return { ok: false, ...verdict };
    if (members && holder) {
      this.forget(holder.client, room);
      members.set(peerId, { client, tokenHash: holder.tokenHash });
      this.remember(client, room, peerId);
      return { ok: true, kind: 'takeover', displaced: holder.client };
    }
    const target = members ?? new Map<string, Member<C>>();
    if (!members) this.rooms.set(room, target);
    target.set(peerId, { client, tokenHash });
    this.remember(client, room, peerId);
    this.members += 1;
    return { ok: true, kind: 'joined' };
  }

  /** Returns the peer id the client gave up, or undefined when it was not in the room. */
  leave(client: C, room: string): string | undefined {
    const peerId = this.peerIdOf(client, room);
    if (peerId === undefined) return undefined;
    this.forget(client, room);
    const members = this.rooms.get(room);
    members?.delete(peerId);
    this.members -= 1;
    // Empty rooms are dropped so memory returns to baseline under join/leave churn.
    if (members?.size === 0) this.rooms.delete(room);
    return peerId;
  }

  /** Removes the client from every room; returns the rooms it was in. */
  leaveAll(client: C): string[] {
    const held = this.clients.get(client) ?? [];
    const rooms = held.filter((_, index) => index % 2 === 0);
    for (const room of rooms) this.leave(client, room);
    return rooms;
  }

  peerIds(room: string): string[] {
    return [...(this.rooms.get(room)?.keys() ?? [])];
  }

  holder(room: string, peerId: string): C | undefined {
    return this.rooms.get(room)?.get(peerId)?.client;
  }

  peerIdOf(client: C, room: string): string | undefined {
    const held = this.clients.get(client);
    if (!held) return undefined;
    for (let index = 0; index < held.length; index += 2) if (held[index] === room) return held[index + 1];
    return undefined;
  }

  private hash(token: string): Buffer {
    return createHmac('sha256', this.key).update(token).digest();
  }

  /** Only for a room the client does not hold yet. */
  private remember(client: C, room: string, peerId: string): void {
    const held = this.clients.get(client);
    if (held) held.push(room, peerId);
    else this.clients.set(client, [room, peerId]);
  }

  private forget(client: C, room: string): void {
    const held = this.clients.get(client);
    if (!held) return;
    for (let index = 0; index < held.length; index += 2) {
      if (held[index] === room) {
        held.splice(index, 2);
        break;
      }
    }
    if (held.length === 0) this.clients.delete(client);
  }
}
