import { decrypt as nip44Decrypt, encrypt as nip44Encrypt, getConversationKey } from 'nostr-tools/nip44';
import { getEventHash, getPublicKey, type NostrEvent } from 'nostr-tools/pure';
import { BoundedMap, P2PError, P2PErrorCode, randomId, withPeerId, type Clock, type RoomCipher } from '../../src/kit/index.js';
import type { NostrSigner } from './signer.js';
import { PRESENCE_TAG, parseBody, tagValue, type Body, type Decoded, type WireEvent } from './protocol.js';

export interface NostrCodecSettings {
  /** This peer's key; its hex public key is the peer id. */
  secretKey: Uint8Array;
  kind: number;
  /** The room's `x` tag value. */
  roomTag: string;
  /** Seals every body when the room has a secret. */
  cipher: RoomCipher | undefined;
  clock: Clock;
  /** Events whose `created_at` is further than this from now are dropped. */
  maxEventAgeMs: number;
  /** Signs ours and verifies theirs (loadSigner: WebAssembly when it can). */
  signer: NostrSigner;
}

/** Decoding result of one event: `first` is false for a copy already decoded (through another relay). */
export interface DecodeOutcome {
  result: Decoded | P2PError | undefined;
  first: boolean;
}

/** Concurrent joins through several relays within this window share one signed presence. */
const PRESENCE_SHARE_MS = 250;
/** Recently decoded events remembered so a copy from another relay costs no crypto. */
const RECENT_OUTCOMES = 512;
const CONVERSATION_KEYS = 256;
/** NIP-44 ciphertext of the largest plaintext (64 KiB) is ~87 KB; anything longer is junk. */
const MAX_CONTENT_CHARS = 96 * 1024;
/**
 * How long signals to one receiver wait for company before they leave in one event: one
 * timer tick, enough to gather an offer with the candidates found right after it. Longer
 * windows were measured to save nothing on loopback and would add latency on real relays.
 */
const SIGNAL_BATCH_MS = 0;
/** A batch stays under NIP-44's 64 KiB plaintext limit, sealing and JSON overhead included. */
const MAX_BATCH_CHARS = 40 * 1024;
const MAX_BATCH_SIGNALS = 64;

/**
 * One handler's Nostr identity in one room: makes signed, encrypted events and turns
 * received ones back into presence and signals, verifying everything. Shared by the
 * handler's per-relay transports, so an event sent through three relays is signed once and
 * one received three times is verified once.
 */
export class NostrRoomCodec {
  readonly publicKey: string;
  private readonly conversationKeys = new BoundedMap<string, Uint8Array>(CONVERSATION_KEYS);
  private readonly outcomes = new BoundedMap<string, Promise<Decoded | P2PError | undefined>>(RECENT_OUTCOMES);
  /** The core hands every transport the same signal object: sign it once per receiver. */
  private readonly signedSignals = new WeakMap<object, Map<string, Promise<NostrEvent>>>();
  /** Per receiver, signals waiting to leave together in one event. */
  private readonly batches = new Map<string, { signals: unknown[]; chars: number; event: Promise<NostrEvent> }>();
  private readonly presenceEvents = new Map<'here' | 'gone', { at: number; event: Promise<NostrEvent> }>();

  constructor(private readonly settings: NostrCodecSettings) {
    this.publicKey = getPublicKey(settings.secretKey);
  }

  /** REQ filters: the room's presence, and signals addressed to me. */
  filters(): Record<string, unknown>[] {
    const { kind, roomTag, clock, maxEventAgeMs } = this.settings;
    const since = Math.floor((clock.now() - maxEventAgeMs) / 1000);
    return [
      { kinds: [kind], '#x': [roomTag], '#t': [PRESENCE_TAG], since },
      { kinds: [kind], '#x': [roomTag], '#p': [this.publicKey], since },
    ];
  }

  /** Whether the event is one `filters()` asks for (a relay may send more than it should). */
  matches(event: WireEvent): boolean {
    if (event.kind !== this.settings.kind) return false;
    if (!event.tags.some((tag) => tag[0] === 'x' && tag[1] === this.settings.roomTag)) return false;
    const to = tagValue(event, 'p');
    return to === undefined ? event.tags.some((tag) => tag[0] === 't' && tag[1] === PRESENCE_TAG) : to === this.publicKey;
  }

  presence(type: 'here' | 'gone'): Promise<NostrEvent> {
    const now = this.settings.clock.now();
    const cached = this.presenceEvents.get(type);
    if (cached && now - cached.at < PRESENCE_SHARE_MS) return cached.event;
    // A nonce, so two announcements within one second are distinct events (relays dedupe ids).
    const body: Body = { v: 1, type, from: this.publicKey, n: randomId(8) };
    const event = this.seal(body).then((content) => this.sign([['x', this.settings.roomTag], ['t', PRESENCE_TAG]], content));
    this.presenceEvents.set(type, { at: now, event });
    return event;
  }

  signal(to: string, data: unknown): Promise<NostrEvent> {
    const key = typeof data === 'object' && data !== null ? data : undefined;
    const perReceiver = key ? this.signedSignals.get(key) ?? new Map<string, Promise<NostrEvent>>() : undefined;
    const cached = perReceiver?.get(to);
    if (cached) return cached;
    const event = this.batch(to, data);
    if (key && perReceiver) {
      perReceiver.set(to, event);
      this.signedSignals.set(key, perReceiver);
    }
    return event;
  }

  /**
   * An offer and its ICE candidates leave within milliseconds of each other: one event
   * carries all the signals for a receiver made within one timer tick, which saves a
   * signature, a relay verification and a receiver verification for each signal folded in.
   */
  private batch(to: string, data: unknown): Promise<NostrEvent> {
    const chars = JSON.stringify(data)?.length ?? 0;
    let batch = this.batches.get(to);
    if (batch && (batch.chars + chars > MAX_BATCH_CHARS || batch.signals.length >= MAX_BATCH_SIGNALS)) {
      this.batches.delete(to);
      batch = undefined;
    }
    if (!batch) {
      const signals: unknown[] = [];
      const event = new Promise<void>((resolve) => this.settings.clock.setTimeout(resolve, SIGNAL_BATCH_MS)).then(() => {
        if (this.batches.get(to)?.signals === signals) this.batches.delete(to);
        return this.makeSignal(to, signals);
      });
      batch = { signals, chars: 0, event };
      this.batches.set(to, batch);
    }
    batch.signals.push(data);
    batch.chars += chars;
    return batch.event;
  }

  /** Verifies and opens an event that `matches()`; undefined means "drop silently" (stale). */
  decode(event: WireEvent): Promise<DecodeOutcome> {
    // Keyed by claimed id, recomputed hash and signature: a copy with any field altered gets
    // its own entry and can never stand in for (or poison) the genuine event from another relay.
    let key: string;
    try {
      key = event.id + getEventHash(event) + event.sig;
    } catch {
      return Promise.resolve({ result: this.forged(event), first: true });
    }
    const known = this.outcomes.get(key);
    if (known) return known.then((result) => ({ result, first: false }));
    const outcome = this.open(event);
    this.outcomes.set(key, outcome);
    return outcome.then((result) => ({ result, first: true }));
  }

  private async open(event: WireEvent): Promise<Decoded | P2PError | undefined> {
    const { clock, maxEventAgeMs, cipher } = this.settings;
    if (Math.abs(clock.now() - event.created_at * 1000) > maxEventAgeMs) return undefined;
    if (!this.settings.signer.verify(event as NostrEvent)) return this.forged(event);
    const author = event.pubkey;
    const protocolError = (why: string, cause?: unknown) =>
      new P2PError(P2PErrorCode.PROTOCOL, `peer ${author} sent a Nostr event that ${why}`, { peerId: author, cause });
    if (event.content.length > MAX_CONTENT_CHARS) return protocolError('is too large');
    const addressed = tagValue(event, 'p') !== undefined;
    let text = event.content;
    if (addressed) {
      try {
        text = nip44Decrypt(event.content, this.conversationKey(author));
      } catch (cause) {
        return protocolError('cannot be decrypted (NIP-44)', cause);
      }
    }
    let body: unknown;
    try {
      body = cipher ? await cipher.open(text) : JSON.parse(text);
    } catch (cause) {
      // RoomCipher says ERR_UNAUTHORIZED for another secret, ERR_PROTOCOL for junk.
      return cause instanceof P2PError ? withPeerId(cause, author) : protocolError('holds no JSON', cause);
    }
    return parseBody(body, author, this.publicKey, addressed);
  }

  private forged(event: WireEvent): P2PError {
    // No peerId: the claimed author is exactly what cannot be trusted here.
    return new P2PError(
      P2PErrorCode.UNAUTHORIZED,
      `a Nostr event claiming to come from ${event.pubkey} has an invalid id or signature (forged or altered)`,
    );
  }

  private async makeSignal(to: string, signals: unknown[]): Promise<NostrEvent> {
    const plain = await this.seal({ v: 1, type: 'signal', from: this.publicKey, to, signals });
    let content: string;
    try {
      content = nip44Encrypt(plain, this.conversationKey(to));
    } catch (cause) {
      const tooLarge = new TextEncoder().encode(plain).length > 65_535;
      throw new P2PError(
        tooLarge ? P2PErrorCode.PAYLOAD_TOO_LARGE : P2PErrorCode.SIGNALING,
        tooLarge ? 'a signal is over the 64 KiB NIP-44 limit' : `cannot encrypt a signal to ${to}`,
        { peerId: to, cause },
      );
    }
    return this.sign([['x', this.settings.roomTag], ['p', to]], content);
  }

  private seal(body: Body): Promise<string> {
    const { cipher } = this.settings;
    return cipher ? cipher.seal(body) : Promise.resolve(JSON.stringify(body));
  }

  private sign(tags: string[][], content: string): NostrEvent {
    const created_at = Math.floor(this.settings.clock.now() / 1000);
    return this.settings.signer.finalize({ kind: this.settings.kind, created_at, tags, content }, this.settings.secretKey);
  }

  /** ECDH per remote key costs ~3 ms: keep the recent ones. */
  private conversationKey(remote: string): Uint8Array {
    let key = this.conversationKeys.get(remote);
    if (!key) {
      key = getConversationKey(this.settings.secretKey, remote);
      this.conversationKeys.set(remote, key);
    }
    return key;
  }
}
