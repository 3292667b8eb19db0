import { P2PError, P2PErrorCode } from './errors.js';
import { ROOM_KEY_ITERATIONS, RoomCipher, sha256Hex } from './room-crypto.js';
import type { SignalingEvents } from './mesh/signaling.js';
import { SerialQueue } from './kit/serial-queue.js';

/**
 * A room on a server that relays signals between its members (socket.io, PeerServer): the server
 * sees a room name that is a hash of the topic, and signals sealed with the room cipher, so its
 * operator can neither read an offer nor alter one (an altered DTLS fingerprint would put the
 * operator in the middle of the link) nor pass one member's signal off as another's.
 */
export class SealedRoom {
  private constructor(
    /** What the server calls the room: a hash of the scheme and the topic. */
    readonly name: string,
    /** Still being derived while the connection is made: only sealing and opening wait for it. */
    private readonly cipher: Promise<RoomCipher>,
  ) {}

  /** `scheme` versions the wire format (peers on another one never share a room); `secret` may be ''. */
  static async derive(scheme: string, topic: string, secret: string): Promise<SealedRoom> {
    const name = (await sha256Hex(scheme, 'room', topic)).slice(0, 32);
    // Without a secret the key comes from the topic alone, which the room name already lets
    // anyone test with one SHA-256: stretching would slow every join and protect nothing.
    const iterations = secret === '' ? 1 : ROOM_KEY_ITERATIONS;
    const cipher = RoomCipher.create(topic, secret, `${scheme}/${name}`, iterations);
    // Whoever seals or opens sees a failure; it must not also be an unhandled rejection.
    cipher.catch(() => {});
    return new SealedRoom(name, cipher);
  }

  seal(from: string, to: string, signal: unknown): Promise<string> {
    return this.cipher.then((cipher) => cipher.seal({ v: 1, from, to, signal }));
  }

  /**
   * The signal `from` sealed for `self`; ERR_UNAUTHORIZED when sealed under another key or
   * altered, ERR_PROTOCOL when sealed for someone else or by someone else than the server says.
   */
  async open(self: string, from: string, sealed: unknown): Promise<unknown> {
    const value = (await (await this.cipher).open(sealed)) as Record<string, unknown> | null;
    if (typeof value !== 'object' || value === null || value.v !== 1 || value.from !== from || value.to !== self || !('signal' in value)) {
      throw new P2PError(P2PErrorCode.PROTOCOL, 'a sealed signal names another sender or recipient than the server relayed it for', { peerId: from });
    }
    return value.signal;
  }

  /**
   * Opens what a broadcast server (one that relays everything to every member and names no
   * sender) delivered: ERR_UNAUTHORIZED when sealed under another key or altered, ERR_PROTOCOL
   * when malformed. The caller drops what was sealed for someone else.
   */
  async openBroadcast(sealed: unknown): Promise<OpenedSignal> {
    const value = (await (await this.cipher).open(sealed)) as Record<string, unknown> | null;
    if (typeof value !== 'object' || value === null || value.v !== 1 || !isPeerId(value.from) || !isPeerId(value.to) || !('signal' in value)) {
      throw new P2PError(P2PErrorCode.PROTOCOL, 'a sealed broadcast is malformed');
    }
    return { from: value.from, to: value.to, signal: value.signal };
  }
}

/** A peer id as a seal may name it: a non-empty string of at most 128 characters. */
export const isPeerId = (value: unknown): value is string => typeof value === 'string' && value.length > 0 && value.length <= 128;

/** What a sealed broadcast said, for whom and from whom (the seal vouches for all three). */
export interface OpenedSignal {
  from: string;
  to: string;
  signal: unknown;
}

/** `SealedRoom.derive` memoized per topic: the key derivation (PBKDF2 with a secret: ~30 ms) runs once per creator and topic. */
export function sealedRooms(scheme: string, secret: string): (topic: string) => Promise<SealedRoom> {
  const rooms = new Map<string, Promise<SealedRoom>>();
  return (topic) => {
    let room = rooms.get(topic);
    if (!room) rooms.set(topic, (room = SealedRoom.derive(scheme, topic, secret)));
    return room;
  };
}

/** One member's signals through a sealed room. Sealing and opening are asynchronous: each direction keeps the order signals came in. */
export class SealedSignals {
  private readonly outgoing = new SerialQueue();
  private readonly incoming = new SerialQueue();

  constructor(
    private readonly room: SealedRoom,
    private readonly self: string,
  ) {}

  /** Seals `signal` for `to` and hands the sealed text to `emit`. */
  send(to: string, signal: unknown, emit: (sealed: string) => void): void {
    this.outgoing
      .run(async () => emit(await this.room.seal(this.self, to, signal)))
      // A seal that failed is a signal lost, as on any lossy transport: the mesh retries links.
      .catch(() => {});
  }

  /** Opens what the server relayed from `from`: the signal to `events.signal`, a typed refusal to `events.error`. */
  receive(from: string, sealed: unknown, events: Pick<SignalingEvents, 'signal' | 'error'>): void {
    this.incoming
      .run(() => this.room.open(this.self, from, sealed))
      .then((signal) => events.signal(from, signal), (error: P2PError) => events.error(error));
  }
}
