import { decode as decodeNip19 } from 'nostr-tools/nip19';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import {
  createMeshHandlerCreator, invalidOption, P2PError, P2PErrorCode, resolveWebSocket, RoomCipher, systemClock,
  type MeshHandlerCreator, type WebRTCMeshOptions, type WebSocketConstructor,
} from '../../src/kit/index.js';
import type { P2PPeer } from '../../src/types.js';
import { NostrRoomCodec } from './codec.js';
import { loadSigner } from './signer.js';
import { DEFAULT_KIND, EPHEMERAL_KIND_MAX, EPHEMERAL_KIND_MIN, PROTOCOL_ID, isPublicKey, nostrRoomTag } from './protocol.js';
import { RelayConnection } from './relay-connection.js';
import { NostrRelaySignaling } from './transport.js';

export { DEFAULT_KIND, nostrRoomTag } from './protocol.js';
export type { WebSocketConstructor, WebSocketLike } from '../../src/kit/websocket.js';

export interface NostrHandlerOptions extends WebRTCMeshOptions {
  /**
   * Relay URLs (`wss://…`, `ws://…`). The room is joined through every one at once; a relay
   * that is down, slow or refusing only loses its own share. Required, at least one.
   */
  relays: readonly string[];
  /**
   * This peer's Nostr secret key: 32 bytes, 64 hex characters or an `nsec1…` string. Its
   * public key (hex) is the peer id. Default: a new random key for every creator (one creator
   * is one peer: all its collections share the key, its links and its relay connections).
   */
  secretKey?: Uint8Array | string;
  /**
   * Room secret: only peers with the same one find and connect to each other (it changes
   * the room tag, and every message is sealed with a key derived from it). Default: none —
   * anyone who knows the topic can join.
   */
  secret?: string;
  /** Ephemeral event kind used for signaling, 20000–29999. Default: `25051`. */
  kind?: number;
  /** Steady-state interval between presence announcements (≥ 1000). Default: `60000` ms. */
  announceIntervalMs?: number;
  /**
   * Events whose `created_at` is further than this from our clock are dropped (replay
   * protection; also the clock skew tolerated between peers, ≥ 2000). Default: `60000` ms.
   */
  maxEventAgeMs?: number;
  /**
   * WebSocket constructor used for relay connections. Default: the global `WebSocket`
   * (browsers, Node ≥ 22); else the `ws` package, loaded on first use.
   */
  WebSocket?: WebSocketConstructor;
}

/** A peer of a Nostr handler: its id is its hex public key, verified by every signature. */
export interface NostrPeer extends P2PPeer {
  readonly publicKey: string;
}

/** An RxDB 17 creator whose handlers also tell their own `peerId` (their public key); combinable with getConnectionHandlerMulti. */
export type NostrHandlerCreator = MeshHandlerCreator;

const DEFAULTS = { kind: DEFAULT_KIND, announceIntervalMs: 60_000, maxEventAgeMs: 60_000 } as const;

interface RoomKeys {
  tag: string;
  cipher: RoomCipher | undefined;
}

/**
 * A creator for RxDB 17's `replicateWebRTC` that signals over Nostr relays: signed ephemeral
 * events, NIP-44-encrypted to their receiver, so relays can neither read nor forge them.
 */
export function getConnectionHandlerNostr(options: NostrHandlerOptions): NostrHandlerCreator {
  if (typeof options !== 'object' || options === null) throw invalidOption('options must be an object with `relays`');
  const {
    relays,
    secretKey,
    secret,
    kind = DEFAULTS.kind,
    announceIntervalMs = DEFAULTS.announceIntervalMs,
    maxEventAgeMs = DEFAULTS.maxEventAgeMs,
    WebSocket: webSocketOption,
    ...meshOptions
  } = options;
  const urls = parseRelays(relays);
  const fixedKey = parseSecretKey(secretKey);
  if (secret !== undefined && (typeof secret !== 'string' || secret.length === 0)) throw invalidOption('`secret` must be a non-empty string');
  if (!Number.isInteger(kind) || kind < EPHEMERAL_KIND_MIN || kind > EPHEMERAL_KIND_MAX) {
    throw invalidOption(`\`kind\` must be an ephemeral kind, an integer in ${EPHEMERAL_KIND_MIN}–${EPHEMERAL_KIND_MAX}`);
  }
  if (typeof announceIntervalMs !== 'number' || !(announceIntervalMs >= 1_000) || !Number.isFinite(announceIntervalMs)) {
    throw invalidOption('`announceIntervalMs` must be a number ≥ 1000 (relays ban floods)');
  }
  if (typeof maxEventAgeMs !== 'number' || !(maxEventAgeMs >= 2_000) || !Number.isFinite(maxEventAgeMs)) {
    throw invalidOption('`maxEventAgeMs` must be a number ≥ 2000 (created_at has one-second resolution)');
  }
  if (webSocketOption !== undefined && typeof webSocketOption !== 'function') throw invalidOption('`WebSocket` must be a constructor');
  if (meshOptions.peerId !== undefined && (!fixedKey || meshOptions.peerId !== getPublicKey(fixedKey))) {
    throw invalidOption('the Nostr peer id is the public key of `secretKey`: pass `secretKey` instead of `peerId`');
  }
  const clock = meshOptions.clock ?? systemClock;
  const secretKeyBytes = fixedKey ?? generateSecretKey();
  const publicKey = getPublicKey(secretKeyBytes);

  // Derived once per creator and topic (PBKDF2 with a secret takes ~25 ms), not per join.
  const rooms = new Map<string, Promise<RoomKeys>>();
  const roomKeys = (topic: string): Promise<RoomKeys> => {
    let keys = rooms.get(topic);
    if (!keys) {
      keys = Promise.all([nostrRoomTag(topic, secret), secret === undefined ? undefined : RoomCipher.create(topic, secret, PROTOCOL_ID)]).then(
        ([tag, cipher]) => ({ tag, cipher }),
      );
      keys.catch(() => rooms.delete(topic));
      rooms.set(topic, keys);
    }
    return keys;
  };
  // One connection per relay for all of this peer's rooms, opened on first use.
  let connections: Promise<RelayConnection[]> | undefined;
  const relayConnections = (): Promise<RelayConnection[]> => {
    connections ??= resolveWebSocket(webSocketOption).then((WebSocketImpl) =>
      urls.map((url) => new RelayConnection(url, WebSocketImpl)),
    );
    connections.catch(() => (connections = undefined));
    return connections;
  };

  return createMeshHandlerCreator({
    options: { ...meshOptions, peerId: publicKey },
    signaling: (topic) => {
      const codec = Promise.all([roomKeys(topic), loadSigner()]).then(
        ([{ tag, cipher }, loaded]) =>
          new NostrRoomCodec({ secretKey: secretKeyBytes, kind, roomTag: tag, cipher, clock, maxEventAgeMs, signer: loaded }),
      );
      return urls.map(
        (_url, index) =>
          new NostrRelaySignaling({ connection: relayConnections().then((all) => all[index]!), codec, clock, announceIntervalMs }),
      );
    },
    peerDetails: (peerId) => ({ publicKey: peerId }),
  });
}

/**
 * The remote's hex public key, proven by the signatures of every signal it sent: allow-list
 * peers with RxDB's `isPeerValid`. Undefined for a peer that did not come from this handler.
 */
export function getPeerPublicKey(peer: P2PPeer): string | undefined {
  const publicKey = (peer as Partial<NostrPeer> | null | undefined)?.publicKey;
  return isPublicKey(publicKey) && publicKey === peer.id ? publicKey : undefined;
}

function parseRelays(relays: unknown): string[] {
  if (!Array.isArray(relays) || relays.length === 0) throw invalidOption('`relays` must be a non-empty array of ws:// or wss:// URLs');
  const urls = relays.map((relay) => {
    if (typeof relay !== 'string' || !/^wss?:\/\//i.test(relay)) throw invalidOption(`relay ${String(relay)} is not a ws:// or wss:// URL`);
    try {
      return new URL(relay).href;
    } catch {
      throw invalidOption(`relay ${relay} is not a valid URL`);
    }
  });
  return [...new Set(urls)];
}

function parseSecretKey(value: unknown): Uint8Array | undefined {
  if (value === undefined) return undefined;
  let bytes: Uint8Array | undefined;
  if (value instanceof Uint8Array && value.length === 32) bytes = new Uint8Array(value);
  else if (typeof value === 'string' && /^[0-9a-fA-F]{64}$/.test(value)) bytes = Uint8Array.from(value.match(/../g)!, (pair) => parseInt(pair, 16));
  else if (typeof value === 'string' && value.startsWith('nsec1')) {
    try {
      const decoded = decodeNip19(value);
      if (decoded.type === 'nsec') bytes = decoded.data;
    } catch {
      // Reported below as an invalid key.
    }
  }
  try {
    if (bytes) getPublicKey(bytes);
  } catch {
    bytes = undefined;
  }
  if (!bytes) throw invalidOption('`secretKey` must be a secp256k1 secret key: 32 bytes, 64 hex characters or nsec1…');
  return bytes;
}
