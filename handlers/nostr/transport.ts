import {
  BoundedMap, P2PError, P2PErrorCode, PresenceRoster, redactUrl, SerialQueue, SessionTransport, TimerSet, toP2PError,
  type Clock, type SignalingEvents, type SignalingSession,
} from '../../src/kit/index.js';
import type { NostrRoomCodec } from './codec.js';
import { isWireEvent } from './protocol.js';
import type { RelayAttachment, RelayConnection } from './relay-connection.js';

export interface NostrTransportSettings {
  /** The relay, shared with the creator's other rooms (ready once a WebSocket implementation is loaded). */
  connection: Promise<RelayConnection>;
  /** The peer's identity in this room, shared by the room's transports (ready once the room keys are derived). */
  codec: Promise<NostrRoomCodec>;
  clock: Clock;
  /** Steady-state interval between presence announcements. */
  announceIntervalMs: number;
}

/** Event ids remembered per relay to drop replays (events older than the freshness window are dropped anyway). */
const SEEN_IDS = 4_096;

/**
 * The room over one relay: a SignalingTransport for the mesh core. A handler builds one per
 * relay and hands the core the array, so a dead, slow or refusing relay only costs its own
 * transport (the core re-joins it with backoff) and never holds up the others.
 */
export class NostrRelaySignaling extends SessionTransport {
  /** Outlives re-joins, so a relay cannot replay what it delivered before a reconnect. */
  private readonly seen = new BoundedMap<string, true>(SEEN_IDS);

  constructor(private readonly settings: NostrTransportSettings) {
    super();
  }

  protected async openSession(_room: string, peerId: string, events: SignalingEvents): Promise<SignalingSession> {
    const [codec, connection] = await Promise.all([this.settings.codec, this.settings.connection]);
    if (peerId !== codec.publicKey) {
      throw new P2PError(P2PErrorCode.INVALID_OPTION, `a Nostr peer's id is its public key ${codec.publicKey}, not ${peerId}`);
    }
    return new RelaySession(this.settings, connection, codec, this.seen, events);
  }
}

/** One join of one relay: its subscription, announcements and roster. */
class RelaySession implements SignalingSession {
  private readonly relay: RelayAttachment;
  private readonly timers: TimerSet;
  /** The relay as error messages name it: credentials redacted. */
  private readonly shownUrl: string;
  /** Peers heard from through this relay: announcements, and the silent ones dropped. */
  private readonly roster: PresenceRoster;
  private readonly inbound = new SerialQueue();
  /** Signals wait for the subscription to be sent, not for the join. */
  private readonly outbound = new SerialQueue();
  private pendingConfirm: { id: string; settle(error?: P2PError): void } | undefined;
  private joined = false;
  private stopped = false;
  private lastSentSignal = '';

  constructor(
    private readonly settings: NostrTransportSettings,
    connection: RelayConnection,
    private readonly codec: NostrRoomCodec,
    private readonly seen: BoundedMap<string, true>,
    private readonly events: SignalingEvents,
  ) {
    this.timers = new TimerSet(settings.clock);
    this.shownUrl = redactUrl(connection.url);
    this.roster = new PresenceRoster(this.timers, settings.announceIntervalMs, () => void this.announce(), (peerId) => events.peerLeft(peerId));
    this.relay = connection.attach(
      {
        // One at a time: with a room secret opening is async, and offers must stay before their candidates.
        event: (event) => void this.inbound.run(() => this.receive(event)).catch((error: unknown) => this.report(toP2PError(error, P2PErrorCode.SIGNALING, `relay ${this.shownUrl} sent an event we could not read`))),
        ok: (id, accepted, reason) => this.onOk(id, accepted, reason),
        closed: (reason) => this.fail(new P2PError(P2PErrorCode.SIGNALING, `relay ${this.shownUrl} ended our subscription: ${reason}`)),
        problem: (error) => this.report(error),
        lost: (error) => this.fail(error),
      },
      codec.filters(),
    );
    void this.outbound.run(() => this.relay.ready.catch(() => {}));
  }

  /** Connects (or shares the connection), subscribes and announces; resolves once the relay accepted the announcement. */
  async start(): Promise<void> {
    await this.relay.ready;
    const presence = await this.codec.presence('here');
    await new Promise<void>((resolve, reject) => {
      if (this.stopped) return reject(this.leftEarly());
      this.pendingConfirm = { id: presence.id, settle: (error) => (error ? reject(error) : resolve()) };
      if (!this.relay.publish(presence)) this.fail(new P2PError(P2PErrorCode.SIGNALING, `relay ${this.shownUrl} closed the connection while we joined`));
    });
    this.joined = true;
    this.roster.start();
  }

  send(to: string, signal: unknown): Promise<void> {
    // Never dropped for want of the join: a signal lost here strands its link until the connect timeout.
    if (this.stopped) return Promise.resolve();
    const event = this.codec.signal(to, signal);
    // Chained, so signals leave in the order the core sent them even when sealing is async.
    return this.outbound.run(async () => {
      const signed = await event;
      // Signals batched into one event share it: publish it once.
      if (this.stopped || signed.id === this.lastSentSignal) return;
      this.lastSentSignal = signed.id;
      this.relay.publish(signed);
    });
  }

  /** Says goodbye (so others see peerLeft at once) when it can, then closes. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timers.dispose();
    this.pendingConfirm?.settle(this.leftEarly());
    if (this.joined && this.relay.isOpen) {
      try {
        this.relay.publish(await this.codec.presence('gone'));
      } catch {
        // Best effort: peers still notice through the link or the roster expiry.
      }
    }
    this.relay.detach();
  }

  private async receive(raw: unknown): Promise<void> {
    if (this.stopped) return;
    const { codec, shownUrl: url } = this;
    const { clock } = this.settings;
    if (!isWireEvent(raw)) return this.report(new P2PError(P2PErrorCode.SIGNALING, `relay ${url} sent a malformed event`));
    // Our own echo, a replay, or an event we did not ask for (not every relay applies tag filters).
    if (raw.pubkey === codec.publicKey || this.seen.has(raw.id) || !codec.matches(raw)) return;
    const { result, first } = await codec.decode(raw);
    if (this.stopped || result === undefined) return;
    if (result instanceof P2PError) {
      if (first) this.report(result);
      return;
    }
    if (this.seen.has(raw.id)) return;
    this.seen.set(raw.id, true);
    // Our subscription is live well before the relay's OK (50–500 ms on a busy relay): what
    // comes before it goes to the core once the join resolves (the kit's pre-join rule).
    if (result.type === 'gone') {
      this.roster.forget(result.from);
      this.events.peerLeft(result.from);
      return;
    }
    this.roster.heardFrom(result.from);
    if (result.type === 'signal') for (const signal of result.signals) this.events.signal(result.from, signal);
    else this.events.peerJoined(result.from);
  }

  private onOk(id: string, accepted: boolean, reason: string): void {
    if (this.pendingConfirm?.id === id) {
      const settle = this.pendingConfirm.settle;
      this.pendingConfirm = undefined;
      return settle(accepted ? undefined : new P2PError(P2PErrorCode.SIGNALING, `relay ${this.shownUrl} refused our announcement: ${reason}`));
    }
    if (!accepted) this.report(new P2PError(P2PErrorCode.SIGNALING, `relay ${this.shownUrl} refused an event: ${reason}`));
  }

  private async announce(): Promise<void> {
    try {
      const presence = await this.codec.presence('here');
      if (!this.stopped) this.relay.publish(presence);
    } catch (error) {
      this.report(toP2PError(error, P2PErrorCode.SIGNALING, 'cannot make a presence announcement'));
    }
  }

  /** Before the join is confirmed a failure rejects it; after, the core hears the relay is lost. */
  private fail(error: P2PError): void {
    if (this.stopped) return;
    if (this.pendingConfirm) {
      const settle = this.pendingConfirm.settle;
      this.pendingConfirm = undefined;
      settle(error);
    } else if (this.joined) {
      this.events.lost(error);
    }
  }

  private report(error: P2PError): void {
    if (!this.stopped) this.events.error(error);
  }

  private leftEarly(): P2PError {
    return new P2PError(P2PErrorCode.SIGNALING, `left relay ${this.shownUrl} before it confirmed the join`);
  }
}
