import { P2PError, P2PErrorCode, readJsonFrame, sha256Hex } from '../../src/kit/index.js';

/**
 * What travels through a PeerServer, and the ids we use on it. PeerServer has no rooms, so a
 * room is a namespace of ids derived from the topic: `<roomKey>_<peerId>` for each member's
 * signaling socket (the server stamps it as `src`, so a member cannot speak under another's
 * id) and `<roomKey>-<n>` for the numbered slots members hold so newcomers can find them.
 */

/**
 * Message types PeerServer 1.x relays or sends: the wire names of peerjs's `ServerMessageType`,
 * written here so a PeerJS room needs no peerjs package (~60 KiB in a bundle); the PeerJS
 * server tests check them against the installed peerjs.
 */
export const ServerType = Object.freeze({
  Heartbeat: 'HEARTBEAT',
  Candidate: 'CANDIDATE',
  Offer: 'OFFER',
  Answer: 'ANSWER',
  Open: 'OPEN',
  Error: 'ERROR',
  IdTaken: 'ID-TAKEN',
  InvalidKey: 'INVALID-KEY',
  Leave: 'LEAVE',
  Expire: 'EXPIRE',
} as const);

/** The public PeerJS cloud's address, as peerjs's `util.CLOUD_HOST` and `util.CLOUD_PORT` say it. */
export const CLOUD_HOST = '0.peerjs.com';
export const CLOUD_PORT = 443;

/** peerjs's `util.validateId`, whose rule PeerServer's clients follow. */
const PEERJS_ID = /^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$/;

/** Hex characters of the topic hash in every id: 96 bits, so unrelated rooms never meet. */
const ROOM_KEY_CHARS = 24;
/** Longest peer id we accept from the network (the mesh core's own bound). */
const MAX_PEER_ID_CHARS = 128;
/** Largest slot number anyone may claim or announce. */
export const MAX_SLOT = 100_000;
/** At most this many ids are taken from one welcome's roster (a hostile member could send millions). */
export const MAX_ROSTER = 256;

/** The id rule of PeerServer's official client (peerjs `util.validateId`), non-empty. */
export function isPeerJsId(id: unknown): id is string {
  return typeof id === 'string' && PEERJS_ID.test(id);
}

export async function roomKeyOf(topic: string): Promise<string> {
  return (await sha256Hex('p2p-handlers/peerjs/v1', topic)).slice(0, ROOM_KEY_CHARS);
}

export const slotId = (roomKey: string, slot: number): string => `${roomKey}-${slot}`;
export const memberId = (roomKey: string, peerId: string): string => `${roomKey}_${peerId}`;

/** Who a server id belongs to, seen from the room `roomKey`. */
export type IdOwner = { kind: 'member'; peerId: string } | { kind: 'slot'; slot: number } | { kind: 'foreign' };

export function ownerOf(roomKey: string, id: string): IdOwner {
  if (id.startsWith(`${roomKey}_`)) {
    const peerId = id.slice(roomKey.length + 1);
    if (peerId.length <= MAX_PEER_ID_CHARS && isPeerJsId(peerId)) return { kind: 'member', peerId };
  } else if (id.startsWith(`${roomKey}-`)) {
    const slot = parseSlot(id.slice(roomKey.length + 1));
    if (slot !== undefined) return { kind: 'slot', slot };
  }
  return { kind: 'foreign' };
}

function parseSlot(text: string): number | undefined {
  if (!/^(0|[1-9]\d{0,5})$/.test(text)) return undefined;
  const slot = Number(text);
  return slot <= MAX_SLOT ? slot : undefined;
}

const isSlot = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_SLOT;

/** A message from PeerServer: `{ type, src?, dst?, payload? }`, `src` stamped by the server. */
export interface ServerMessage {
  type: string;
  src?: string;
  payload?: unknown;
}

/** Parses one WebSocket frame from the server; anything unusable is an ERR_SIGNALING error. */
export function parseServerMessage(data: unknown): ServerMessage | P2PError {
  const malformed = (why: string) => new P2PError(P2PErrorCode.SIGNALING, `PeerServer sent a malformed message: ${why}`);
  const frame = readJsonFrame(data, Number.POSITIVE_INFINITY);
  if ('problem' in frame) return malformed(frame.problem);
  const { value } = frame;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return malformed('not an object');
  const { type, src, payload } = value as Record<string, unknown>;
  if (typeof type !== 'string' || type.length === 0 || type.length > 32) return malformed('no type');
  if (src !== undefined && (typeof src !== 'string' || src.length > 512)) return malformed('bad src');
  return { type, ...(src === undefined ? {} : { src }), payload };
}

/** The reason in a PeerServer ERROR message, as a typed error (refusals are final, the rest retried). */
export function serverRefusal(payload: unknown): P2PError {
  const reason = typeof payload === 'object' && payload !== null ? (payload as { msg?: unknown }).msg : undefined;
  const text = typeof reason === 'string' ? reason.slice(0, 200) : 'no reason given';
  const code = /invalid (key|token)/i.test(text) ? P2PErrorCode.UNAUTHORIZED : P2PErrorCode.SIGNALING;
  return new P2PError(code, `PeerServer refused the connection: ${text}`);
}

// ---- what a message from the server means to one room member -----------------------------

/** What one server message means to us. */
export type Incoming =
  | { kind: 'ignore' }
  | { kind: 'error'; error: P2PError }
  /** The member's id is gone: it said LEAVE, or a message to it EXPIREd unread. */
  | { kind: 'gone'; peer: string }
  | { kind: 'envelope'; peer: string; envelope: Envelope };

const IGNORE: Incoming = { kind: 'ignore' };
const RELAYED: ReadonlySet<string> = new Set([ServerType.Offer, ServerType.Answer, ServerType.Candidate]);

/** Sorts a server message for member `self` of the room `roomKey`; bad input is a typed error. */
export function classify(message: ServerMessage, roomKey: string, self: string): Incoming {
  const { type, src } = message;
  const signaling = (why: string): Incoming => ({ kind: 'error', error: new P2PError(P2PErrorCode.SIGNALING, `PeerServer ${why}`) });
  if (type === ServerType.Heartbeat || type === ServerType.Open) return IGNORE;
  if (src === undefined) return signaling(`sent a message of type ${type} with no src`);
  const owner = ownerOf(roomKey, src);
  if (owner.kind === 'foreign') return signaling(`relayed a message of type ${type} from ${JSON.stringify(src.slice(0, 80))}, an id outside this room`);
  // Slots never speak: this is a probe to an empty slot expiring, or our own slot's echo.
  if (owner.kind === 'slot' || owner.peerId === self) return IGNORE;
  const peer = owner.peerId;
  if (type === ServerType.Expire || type === ServerType.Leave) return { kind: 'gone', peer };
  if (!RELAYED.has(type)) return signaling(`sent a message of unexpected type ${JSON.stringify(type)}`);
  const envelope = parseEnvelope(message.payload, peer);
  return envelope instanceof P2PError ? { kind: 'error', error: envelope } : { kind: 'envelope', peer, envelope };
}

// ---- our envelope, carried in the payload of relayed messages --------------------------

/** "I am in the room (at slot n); welcome me." Sent to slots and to members named in rosters. */
export interface Hello {
  p2ph: 1;
  kind: 'hello';
  slot?: number;
}
/** The answer to a hello, also sent to every member when one moves to another slot. */
export interface Welcome {
  p2ph: 1;
  kind: 'welcome';
  slot?: number;
  /** Other members the sender knows: a newcomer says hello to each (never trusted as present). */
  peers: string[];
}
/** An opaque mesh-core signal. */
export interface Signal {
  p2ph: 1;
  kind: 'signal';
  signal: unknown;
}
/** Sent to our own id right after connecting: seeing it come back proves the id is ours. */
export interface Echo {
  p2ph: 1;
  kind: 'echo';
}
export type Envelope = Hello | Welcome | Signal | Echo;

/** The PeerServer message type our envelopes travel in: relayed and queued like any signal. */
export const ENVELOPE_TYPE = ServerType.Candidate;

/** Validates an envelope from a member; anything else is an ERR_PROTOCOL error naming it. */
export function parseEnvelope(payload: unknown, from: string): Envelope | P2PError {
  const invalid = (why: string) => new P2PError(P2PErrorCode.PROTOCOL, `peer ${from} sent an invalid PeerJS envelope: ${why}`, { peerId: from });
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return invalid('not an object');
  const value = payload as Record<string, unknown>;
  if (value.p2ph !== 1) return invalid('not a version 1 envelope');
  if (value.slot !== undefined && !isSlot(value.slot)) return invalid('bad slot');
  switch (value.kind) {
    case 'hello':
    case 'echo':
      return value as unknown as Hello | Echo;
    case 'signal':
      return 'signal' in value ? (value as unknown as Signal) : invalid('no signal');
    case 'welcome':
      if (!Array.isArray(value.peers)) return invalid('no roster');
      return { p2ph: 1, kind: 'welcome', ...(value.slot === undefined ? {} : { slot: value.slot as number }), peers: rosterOf(value.peers) };
    default:
      return invalid(`unknown kind ${JSON.stringify(value.kind)?.slice(0, 40)}`);
  }
}

function rosterOf(peers: unknown[]): string[] {
  return peers.slice(0, MAX_ROSTER).filter((id): id is string => isPeerJsId(id) && id.length <= MAX_PEER_ID_CHARS);
}
