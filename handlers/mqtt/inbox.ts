import { P2PError, P2PErrorCode, toP2PError, type SignalingEvents } from '../../src/kit/index.js';
import { HASH_PATTERN, type RoomKeys } from './room.js';

/** Sealed SDP is at most ~90 KB; anything far larger is an attack on our memory. */
export const MAX_PAYLOAD_BYTES = 256 * 1024;
/** Messages waiting to be opened; beyond it a flood is dropped, reported once. */
const MAX_BACKLOG = 512;
/** Distinct offenders reported per connection, so a flood of forgeries is not a flood of errors. */
const MAX_REPORTED = 256;

export interface InboxOwner {
  readonly keys: RoomKeys;
  readonly peerId: string;
  readonly events: SignalingEvents;
  /** Someone (a late will of ours, a stranger) wiped our presence while we are joined. */
  presenceWiped(): Promise<void>;
}

/**
 * Everything one connection receives, turned into core events: in the broker's order (opening
 * is async, and a peer's "here" must not overtake its "gone"), bounded, and with each kind
 * of bad input from one source reported once (a peer with the wrong secret, a forger).
 */
export class RoomInbox {
  /** Presence topic hash → the peer id it announced, to name whom an empty payload removed. */
  private readonly ids = new Map<string, string>();
  private readonly reported = new Set<string>();
  /** Opening is async: each message waits for the one before it. */
  private queue: Promise<void> = Promise.resolve();
  private backlog = 0;
  private stopped = false;

  constructor(
    private readonly owner: InboxOwner,
    private readonly selfHash: string,
    private readonly signalTopic: string,
  ) {}

  /** No event after this, whatever is still queued. */
  stop(): void {
    this.stopped = true;
  }

  push(topic: string, payload: Buffer): void {
    if (this.stopped) return;
    const source = this.owner.keys.presenceHashOf(topic)?.slice(0, 64) ?? 'signal';
    if (payload.byteLength > MAX_PAYLOAD_BYTES) {
      const error = new P2PError(P2PErrorCode.PAYLOAD_TOO_LARGE, `an MQTT message of ${payload.byteLength} bytes was dropped`);
      return this.report(`${source}:size`, error);
    }
    if (this.backlog >= MAX_BACKLOG) {
      return this.report('backlog', new P2PError(P2PErrorCode.LIMIT_EXCEEDED, 'too many MQTT messages at once: some were dropped'));
    }
    this.backlog++;
    this.queue = this.queue.then(async () => {
      try {
        if (!this.stopped) await this.handle(topic, payload);
      } catch (error) {
        const reason = toP2PError(error, P2PErrorCode.PROTOCOL, 'an MQTT message could not be read');
        this.report(`${source}:${reason.code}`, reason);
      } finally {
        this.backlog--;
      }
    });
  }

  /** Reports `error` unless this `key` was already reported (or too many keys were). */
  report(key: string, error: P2PError): void {
    if (this.stopped || this.reported.has(key) || this.reported.size >= MAX_REPORTED) return;
    this.reported.add(key);
    this.owner.events.error(error);
  }

  private async handle(topic: string, payload: Buffer): Promise<void> {
    const hash = this.owner.keys.presenceHashOf(topic);
    if (hash !== undefined) return this.onPresence(hash, payload);
    if (topic !== this.signalTopic || payload.byteLength === 0) return;
    const envelope = await this.owner.keys.openSignal(this.owner.peerId, payload.toString('utf8'));
    if (!this.stopped) this.owner.events.signal(envelope.from, envelope.signal);
  }

  private async onPresence(hash: string, payload: Buffer): Promise<void> {
    if (!HASH_PATTERN.test(hash)) throw new P2PError(P2PErrorCode.PROTOCOL, 'a presence topic is not a peer hash');
    if (hash === this.selfHash) {
      if (payload.byteLength === 0) await this.owner.presenceWiped();
      return;
    }
    if (payload.byteLength === 0) {
      const id = this.ids.get(hash);
      this.ids.delete(hash);
      if (id !== undefined && !this.stopped) this.owner.events.peerLeft(id);
      return;
    }
    let id: string;
    try {
      id = await this.owner.keys.openPresence(hash, payload.toString('utf8'));
    } catch (error) {
      if ((error as P2PError).code !== P2PErrorCode.UNAUTHORIZED) throw error;
      throw new P2PError(P2PErrorCode.UNAUTHORIZED, 'a peer in this room uses another secret (or forged its presence): it is ignored', {
        cause: error,
      });
    }
    this.ids.set(hash, id);
    if (!this.stopped) this.owner.events.peerJoined(id);
  }
}
