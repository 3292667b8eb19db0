import { P2PError, P2PErrorCode, ROOM_KEY_ITERATIONS, RoomCipher, isPeerId, sha256Hex } from '../../src/kit/index.js';

/**
 * What a public broker sees of a room, and how peers read it. Anyone may subscribe to `#`,
 * so topic levels are hashes (of the topic, and of each peer id) and every payload is
 * sealed with the room cipher: an observer learns neither the topic, nor peer ids, nor SDP.
 *
 *   {prefix}/{roomHash}/p/{peerHash}   retained presence: sealed { v, id }; empty = gone
 *   {prefix}/{roomHash}/s/{peerHash}   signals to that peer: sealed { v, from, to, signal }
 *
 * The room hash comes from the topic alone, so peers holding a different secret share the
 * room, fail to open each other's presence and report ERR_UNAUTHORIZED instead of silently
 * never meeting.
 */

/** Versions the scheme: peers on another version never share a topic (v2: one round without a secret). */
const SCHEME = 'p2p-handlers/mqtt/v2';
/** 128 bits: collision-free for any room, and shorter topics for the broker. */
const HASH_CHARS = 32;
export const HASH_PATTERN = /^[0-9a-f]{32}$/;

export interface PresencePayload {
  v: 1;
  id: string;
}

export interface SignalPayload {
  v: 1;
  from: string;
  to: string;
  signal: unknown;
}

export class RoomKeys {
  private readonly peerHashes = new Map<string, Promise<string>>();

  private constructor(
    /** The application topic these keys were derived for. */
    readonly topic: string,
    /** `{prefix}/{roomHash}`: every topic of the room starts with it. */
    readonly base: string,
    /** Still being derived while the connection is made: only sealing and opening wait for it. */
    private readonly cipher: Promise<RoomCipher>,
  ) {}

  /** Hashes the topic at once and starts deriving the cipher (PBKDF2, ~30 ms with a secret): once per creator and topic. */
  static async derive(topic: string, secret: string, prefix: string): Promise<RoomKeys> {
    const roomHash = (await sha256Hex(SCHEME, 'room', topic)).slice(0, HASH_CHARS);
    // Without a secret the key comes from the topic alone, and the public room hash already
    // lets anyone test a guessed topic with one SHA-256: stretching would add ~30-50 ms to
    // every join and no security. With a secret, the full ROOM_KEY_ITERATIONS apply.
    const iterations = secret === '' ? 1 : ROOM_KEY_ITERATIONS;
    const cipher = RoomCipher.create(topic, secret, `${SCHEME}/${roomHash}`, iterations);
    // Whoever seals or opens sees a failure; it must not also be an unhandled rejection.
    cipher.catch(() => {});
    return new RoomKeys(topic, `${prefix}/${roomHash}`, cipher);
  }

  /** Subscribes to every peer's presence. */
  get presenceFilter(): string {
    return `${this.base}/p/+`;
  }

  /** The peer hash of `topic` when it is a presence topic of this room, else undefined. */
  presenceHashOf(topic: string): string | undefined {
    const prefix = `${this.base}/p/`;
    return topic.startsWith(prefix) ? topic.slice(prefix.length) : undefined;
  }

  /** Hash of a peer id inside this room (memoized: the same ids come up for every signal). */
  peerHash(peerId: string): Promise<string> {
    let hash = this.peerHashes.get(peerId);
    if (!hash) {
      hash = sha256Hex(SCHEME, 'peer', this.base, peerId).then((hex) => hex.slice(0, HASH_CHARS));
      this.peerHashes.set(peerId, hash);
    }
    return hash;
  }

  async presenceTopic(peerId: string): Promise<string> {
    return `${this.base}/p/${await this.peerHash(peerId)}`;
  }

  async signalTopic(peerId: string): Promise<string> {
    return `${this.base}/s/${await this.peerHash(peerId)}`;
  }

  async sealPresence(peerId: string): Promise<string> {
    return (await this.cipher).seal({ v: 1, id: peerId } satisfies PresencePayload);
  }

  async sealSignal(from: string, to: string, signal: unknown): Promise<string> {
    return (await this.cipher).seal({ v: 1, from, to, signal } satisfies SignalPayload);
  }

  /** The peer id announced on presence topic `hash`; a typed error for anything else. */
  async openPresence(hash: string, text: string): Promise<string> {
    const value = await (await this.cipher).open(text);
    if (!isRecord(value) || value.v !== 1 || !isPeerId(value.id)) throw protocol('a presence payload is malformed');
    // Binds the id to the topic, so a member cannot announce someone else's id elsewhere.
    if ((await this.peerHash(value.id)) !== hash) throw protocol('a presence payload names another topic\'s peer');
    return value.id;
  }

  /** A signal addressed to `self`; a typed error for anything else. */
  async openSignal(self: string, text: string): Promise<SignalPayload> {
    const value = await (await this.cipher).open(text);
    if (!isRecord(value) || value.v !== 1 || !isPeerId(value.from) || value.to !== self || !('signal' in value)) {
      throw protocol('a signal envelope is malformed or addressed to another peer');
    }
    return value as unknown as SignalPayload;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);


const protocol = (message: string): P2PError => new P2PError(P2PErrorCode.PROTOCOL, message);
