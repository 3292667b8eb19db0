/**
 * What a socket holds in a Redis cluster, kept in `socket.data` so that `fetchSockets()` on
 * any process reads it: one claim per room, and the socket.io room of each (room, peer id).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export interface Claim {
  room: string;
  peerId: string;
  /** Join time, orders the list as one process's registry would. */
  at: number;
  /** sha256 of room, id and token: enough to compare a takeover token, useless to replay. */
  hash?: string;
}

/** The `room.length` prefix keeps room and id apart whatever characters they hold. */
export const peerKey = (room: string, peerId: string) => `p2p-peer:${room.length}:${room}${peerId}`;
export const tokenHash = (room: string, peerId: string, token: string) =>
  createHash('sha256').update(`${room}\0${peerId}\0${token}`).digest('hex');

/** The claims in a socket's `data` (created empty on a local socket). */
export function claimsOf(data: unknown): Claim[] {
  if (typeof data !== 'object' || data === null) return [];
  const holder = data as { claims?: Claim[] };
  // An array, not an object keyed by room: a room named "__proto__" must stay a plain key.
  if (!Array.isArray(holder.claims)) holder.claims = [];
  return holder.claims;
}

/** Constant-time comparison of two token hashes; a missing one never matches. */
export function sameHash(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
