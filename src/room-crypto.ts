import { P2PError, P2PErrorCode } from './errors.js';

/**
 * For transports whose brokers or relays anyone may read (public MQTT brokers, Nostr relays):
 * room names that reveal nothing, and signals sealed with a key only room members can derive.
 * Web Crypto only, so it runs unchanged in browsers and Node ≥ 20.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** PBKDF2 rounds: slows guessing a weak `secret` from captured traffic; ~30 ms once per room. */
export const ROOM_KEY_ITERATIONS = 100_000;

/** Hex SHA-256 of the parts, joined unambiguously. */
export async function sha256Hex(...parts: string[]): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', encoder.encode(JSON.stringify(parts)));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * Seals and opens JSON values with AES-GCM under a key derived (PBKDF2-SHA-256, salted with
 * `salt`) from the topic and the optional secret. Peers with a different secret derive another
 * key, so they can neither read nor forge signals: `open` fails with ERR_UNAUTHORIZED.
 */
export class RoomCipher {
  private constructor(
    private readonly key: CryptoKey,
    private readonly context: Uint8Array<ArrayBuffer>,
  ) {}

  /** `iterations`: PBKDF2 rounds, ROOM_KEY_ITERATIONS unless the caller has a reason (see MQTT's empty secret). */
  static async create(topic: string, secret: string, salt: string, iterations = ROOM_KEY_ITERATIONS): Promise<RoomCipher> {
    const material = await crypto.subtle.importKey('raw', encoder.encode(JSON.stringify([topic, secret])), 'PBKDF2', false, ['deriveKey']);
    const key = await crypto.subtle.deriveKey(
      { name: 'PBKDF2', hash: 'SHA-256', salt: encoder.encode(salt), iterations },
      material,
      { name: 'AES-GCM', length: 256 },
      false,
      ['encrypt', 'decrypt'],
    );
    return new RoomCipher(key, encoder.encode(salt));
  }

  /** base64(iv ‖ ciphertext) of the JSON of `value`. */
  async seal(value: unknown): Promise<string> {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: this.context },
      this.key,
      encoder.encode(JSON.stringify(value)),
    );
    const bytes = new Uint8Array(12 + sealed.byteLength);
    bytes.set(iv);
    bytes.set(new Uint8Array(sealed), 12);
    return toBase64(bytes);
  }

  /** The value `seal` sealed; ERR_UNAUTHORIZED if it was sealed under another key or altered. */
  async open(text: unknown): Promise<unknown> {
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      if (typeof text !== 'string') throw new TypeError('not a string');
      bytes = fromBase64(text);
      if (bytes.byteLength < 12 + 16) throw new RangeError('too short');
    } catch (cause) {
      throw new P2PError(P2PErrorCode.PROTOCOL, 'a sealed signal is malformed', { cause });
    }
    let plain: ArrayBuffer;
    try {
      plain = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: bytes.subarray(0, 12), additionalData: this.context },
        this.key,
        bytes.subarray(12),
      );
    } catch (cause) {
      throw new P2PError(
        P2PErrorCode.UNAUTHORIZED,
        'a signal could not be decrypted: the sender uses another room secret, or it was forged',
        { cause },
      );
    }
    try {
      return JSON.parse(decoder.decode(plain));
    } catch (cause) {
      throw new P2PError(P2PErrorCode.PROTOCOL, 'a sealed signal holds no JSON', { cause });
    }
  }
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
