/**
 * What joining and signaling allow, written once for every place membership is kept (one
 * process's registry, a Redis cluster, the RxDB endpoint's registry): the modes differ in where
 * they look things up, never in what they allow.
 */
import { P2PErrorCode } from '../../../src/errors.js';

export interface Refusal {
  code: P2PErrorCode;
  message: string;
}

export interface RoomLimits {
  maxRoomsPerSocket: number;
  maxPeersPerRoom: number;
}

/**
 * First, what the socket itself holds: the same id again is a repeat (answered, nothing else
 * changes), another id in the same room or one room too many is refused.
 */
export function checkOwnRooms(
  held: string | undefined,
  roomsHeld: number,
  room: string,
  peerId: string,
  limits: RoomLimits,
): Refusal | 'rejoined' | undefined {
  if (held === peerId) return 'rejoined';
  if (held !== undefined) return { code: P2PErrorCode.PROTOCOL, message: `already in room "${room}" as "${held}"; leave it first` };
  if (roomsHeld >= limits.maxRoomsPerSocket) {
    return { code: P2PErrorCode.LIMIT_EXCEEDED, message: `at most ${limits.maxRoomsPerSocket} rooms per socket` };
  }
  return undefined;
}

/**
 * Then the id and the room: a held id passes only to the bearer of its holder's token (a
 * takeover), and a room whose `staying` members (everyone but a displaced holder) fill it
 * takes nobody.
 */
export function checkClaim(
  claim: { held: boolean; tokenMatches: boolean; staying: number },
  room: string,
  peerId: string,
  limits: RoomLimits,
): Refusal | 'takeover' | 'join' {
  if (claim.held && !claim.tokenMatches) return { code: P2PErrorCode.ID_TAKEN, message: `peer id "${peerId}" is already taken in room "${room}"` };
  if (claim.staying >= limits.maxPeersPerRoom) {
    return { code: P2PErrorCode.LIMIT_EXCEEDED, message: `room "${room}" is full (${limits.maxPeersPerRoom} peers)` };
  }
  return claim.held ? 'takeover' : 'join';
}

/** A signal goes out only from the room member it names as sender, and only to a member. */
export function checkSignal(own: string | undefined, targetPresent: boolean, from: string, to: string, room: string): Refusal | undefined {
  if (own === undefined) return { code: P2PErrorCode.PROTOCOL, message: `not a member of room "${room}"` };
  if (own !== from) return { code: P2PErrorCode.PROTOCOL, message: `"from" must be your own id "${own}" in room "${room}"` };
  if (!targetPresent) return { code: P2PErrorCode.PEER_NOT_CONNECTED, message: `peer "${to}" is not in room "${room}"` };
  return undefined;
}

export const displacedMessage = (room: string, peerId: string): string =>
  `peer id "${peerId}" in room "${room}" was taken over by a newer connection with its token`;
