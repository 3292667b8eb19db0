/**
 * What a socket holds in a Redis cluster, kept in `socket.data` so that `fetchSockets()` on
 * any process reads it: one claim per room, and the socket.io room of each (room, peer id).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface Claim {
  room: string;
  peerId: string;
  /** Join time, orders the list as one process's registry would. */
  at: number;
  /** The takeover token, salted and hashed: enough to compare a later token, useless to replay. */
  token?: SealedToken;
}

/** Claims travel through Redis to every process: a per-claim salt keeps precomputed tables out. */
export interface SealedToken {
  salt: string;
  hash: string;
}

/** The `room.length` prefix keeps room and id apart whatever characters they hold. */
export const peerKey = (room: string, peerId: string) => `p2p-peer:${room.length}:${room}${peerId}`;
const hashToken = (salt: string, room: string, peerId: string, token: string) =>
  createHash('sha256').update(`${salt}\0${room}\0${peerId}\0${token}`).digest('hex');

export function sealToken(room: string, peerId: string, token: string): SealedToken {
  const salt = randomBytes(16).toString('hex');
  return { salt, hash: hashToken(salt, room, peerId, token) };
}

/** The claims in a socket's `data` (created empty on a local socket). */
export function claimsOf(data: unknown): Claim[] {
  if (typeof data !== 'object' || data === null) return [];
  const holder = data as { claims?: Claim[] };
  // An array, not an object keyed by room: a room named "__proto__" must stay a plain key.
  if (!Array.isArray(holder.claims)) holder.claims = [];
  return holder.claims;
}

/** Whether `token` is the one `sealed` was made from, in constant time; a missing one never matches. */
export function tokenMatches(token: string | undefined, room: string, peerId: string, sealed: SealedToken | undefined): boolean {
  if (token === undefined || typeof sealed?.salt !== 'string' || typeof sealed.hash !== 'string') return false;
  const candidate = Buffer.from(hashToken(sealed.salt, room, peerId, token));
  const held = Buffer.from(sealed.hash);
  return candidate.length === held.length && timingSafeEqual(candidate, held);
}
