import { P2PError, P2PErrorCode, ROOM_KEY_ITERATIONS, sha256Hex } from '../../src/kit/index.js';

/**
 * The wire format. Every event is ephemeral (relays forward it and never store it) and signed
 * by the sender's key, whose hex public key is its peer id.
 *
 *   presence  tags [["x", roomTag], ["t", PRESENCE_TAG]]   content: body {type: here|gone}
 *   signal    tags [["x", roomTag], ["p", receiver]]       content: NIP-44(body {type: signal})
 *
 * With a room secret each body is first sealed with the RoomCipher (AES-GCM under a key
 * derived from topic and secret), so only members can make or read one.
 */

/** NIP-01 ephemeral range: relays forward these kinds and never store them. */
export const EPHEMERAL_KIND_MIN = 20_000;
export const EPHEMERAL_KIND_MAX = 29_999;
/** RxDB 17's handler uses 25050; another kind keeps the two protocols from reading each other. */
export const DEFAULT_KIND = 25_051;
export const PROTOCOL_ID = 'p2p-handlers/nostr/v1';
/** `t` tag value of presence events, so a member subscribes to presence and to its own signals only. */
export const PRESENCE_TAG = 'p2p-presence';

export type Body =
  | { v: 1; type: 'here' | 'gone'; from: string; n: string }
  | { v: 1; type: 'signal'; from: string; to: string; signals: unknown[] };

/** What a verified event means to the transport. */
export type Decoded = { type: 'here' | 'gone'; from: string } | { type: 'signal'; from: string; signals: unknown[] };

/** Most signals one event may carry. */
export const MAX_SIGNALS_PER_EVENT = 64;

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;

export const isPublicKey = (value: unknown): value is string => typeof value === 'string' && HEX64.test(value);

/**
 * The `x` tag of a room. Without a secret: SHA-256 of the topic. With one: PBKDF2 of topic
 * and secret, as slow as the RoomCipher key, so the public tag does not offer a faster way
 * to guess a weak secret than the cipher does; peers with another secret are in another room.
 */
export async function nostrRoomTag(topic: string, secret?: string): Promise<string> {
  if (secret === undefined) return sha256Hex(PROTOCOL_ID, topic);
  const encoder = new TextEncoder();
  const material = await crypto.subtle.importKey('raw', encoder.encode(JSON.stringify([topic, secret])), 'PBKDF2', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits(
    { name: 'PBKDF2', hash: 'SHA-256', salt: encoder.encode(`${PROTOCOL_ID}/room-tag`), iterations: ROOM_KEY_ITERATIONS },
    material,
    256,
  );
  return Array.from(new Uint8Array(bits), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** The shape NIP-01 promises; anything else from a relay is dropped before any crypto runs. */
export interface WireEvent {
  id: string;
  pubkey: string;
  sig: string;
  kind: number;
  created_at: number;
  tags: string[][];
  content: string;
}

export function isWireEvent(value: unknown): value is WireEvent {
  if (typeof value !== 'object' || value === null) return false;
  const event = value as Record<string, unknown>;
  return (
    isPublicKey(event.id) &&
    isPublicKey(event.pubkey) &&
    typeof event.sig === 'string' &&
    HEX128.test(event.sig) &&
    Number.isInteger(event.kind) &&
    Number.isInteger(event.created_at) &&
    typeof event.content === 'string' &&
    Array.isArray(event.tags) &&
    event.tags.every((tag) => Array.isArray(tag) && tag.every((part) => typeof part === 'string'))
  );
}

export function tagValue(event: WireEvent, name: string): string | undefined {
  return event.tags.find((tag) => tag[0] === name)?.[1];
}

/**
 * Checks a decrypted body against the signed envelope: the claimed sender must be the
 * event's author (else someone re-wrapped another peer's words) and a signal must be meant
 * for us. Returns what it means, or a typed error.
 */
export function parseBody(value: unknown, author: string, self: string, addressed: boolean): Decoded | P2PError {
  const invalid = (why: string) => new P2PError(P2PErrorCode.PROTOCOL, `peer ${author} sent an invalid Nostr event: ${why}`, { peerId: author });
  if (typeof value !== 'object' || value === null || (value as { v?: unknown }).v !== 1) return invalid('not a version 1 body');
  const body = value as Partial<Record<string, unknown>>;
  if (body.from !== author) {
    return new P2PError(P2PErrorCode.UNAUTHORIZED, `an event signed by ${author} claims to come from ${String(body.from).slice(0, 64)}`, {
      peerId: author,
    });
  }
  if (addressed) {
    if (body.type !== 'signal') return invalid('an addressed event is not a signal');
    if (body.to !== self) return invalid('a signal addressed to someone else');
    const signals = body.signals;
    if (!Array.isArray(signals) || signals.length === 0 || signals.length > MAX_SIGNALS_PER_EVENT) return invalid('no list of signals');
    return { type: 'signal', from: author, signals };
  }
  if (body.type !== 'here' && body.type !== 'gone') return invalid('a presence event of unknown type');
  return { type: body.type, from: author };
}
