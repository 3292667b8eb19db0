import { P2PError, P2PErrorCode, redactUrl, toP2PError } from '../../src/errors.js';
import type { SignalingEvents, SignalingTransport } from '../../src/mesh/signaling.js';
import { TimerSet, type Clock } from '../../src/mesh/timers.js';
import { BoundedMap } from '../../src/kit/bounded-map.js';
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

/**
 * After joining, presence is repeated at these times (ms after the join) in case a peer
 * missed the first one, then only every `announceIntervalMs`: peers that hear an
 * announcement answer with signals, so the room never needs a stream of announcements.
 */
export const ANNOUNCE_REPEATS_MS: readonly number[] = [500, 2_000, 8_000];
/** A peer not heard from for this many announce intervals is reported gone (it crashed unheard). */
const SILENT_INTERVALS_BEFORE_GONE = 3;
/** Event ids remembered per relay to drop replays (events older than the freshness window are dropped anyway). */
const SEEN_IDS = 4_096;
/** Events held while the relay has not confirmed our join; past this, later ones wait for the senders' repeats. */
const MAX_HELD_EVENTS = 256;

/**
 * The room over one relay: a SignalingTransport for the mesh core. A handler builds one per
 * relay and hands the core the array, so a dead, slow or refusing relay only costs its own
 * transport (the core re-joins it with backoff) and never holds up the others.
 */
export class NostrRelaySignaling implements SignalingTransport {
  private session: RelaySession | undefined;
  /** Bumped by every join and leave: a join overtaken by leave() while it waited must not open anything. */
  private generation = 0;
  /** Outlives re-joins, so a relay cannot replay what it delivered before a reconnect. */
  private readonly seen = new BoundedMap<string, true>(SEEN_IDS);

  constructor(private readonly settings: NostrTransportSettings) {}

  async join(_room: string, peerId: string, events: SignalingEvents): Promise<void> {
    await this.leave();
    const generation = ++this.generation;
    const [codec, connection] = await Promise.all([this.settings.codec, this.settings.connection]);
    if (generation !== this.generation) throw new P2PError(P2PErrorCode.SIGNALING, 'left the room while joining');
    if (peerId !== codec.publicKey) {
      throw new P2PError(P2PErrorCode.INVALID_OPTION, `a Nostr peer's id is its public key ${codec.publicKey}, not ${peerId}`);
    }
    const session = new RelaySession(this.settings, connection, codec, this.seen, events);
    this.session = session;
    await session.start();
  }

  send(to: string, signal: unknown): Promise<void> {
    return this.session?.send(to, signal) ?? Promise.resolve();
  }

  async leave(): Promise<void> {
    this.generation++;
    const session = this.session;
    this.session = undefined;
    await session?.stop();
  }
}

/** One join of one relay: its subscription, announcements and roster. */
class RelaySession {
  private readonly relay: RelayAttachment;
  private readonly timers: TimerSet;
  /** The relay as error messages name it: credentials redacted. */
  private readonly shownUrl: string;
  /** Peers heard from through this relay, with when they were last heard. */
  private readonly roster = new Map<string, number>();
  private inbound: Promise<void> = Promise.resolve();
  /** What the relay delivered before it confirmed our announcement, told to the core once it has. */
  private readonly held: (() => void)[] = [];
  /** Signals wait for the subscription to be sent, not for the join. */
  private outbound: Promise<void>;
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
    this.relay = connection.attach(
      {
        // One at a time: with a room secret opening is async, and offers must stay before their candidates.
        event: (event) => (this.inbound = this.inbound.then(() => this.receive(event))),
        ok: (id, accepted, reason) => this.onOk(id, accepted, reason),
        closed: (reason) => this.fail(new P2PError(P2PErrorCode.SIGNALING, `relay ${this.shownUrl} ended our subscription: ${reason}`)),
        problem: (error) => this.report(error),
        lost: (error) => this.fail(error),
      },
      codec.filters(),
    );
    this.outbound = this.relay.ready.catch(() => {});
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
    for (const tell of this.held.splice(0)) tell();
    this.announceLater(0);
  }

  send(to: string, signal: unknown): Promise<void> {
    // Never dropped for want of the join: a signal lost here strands its link until the connect timeout.
    if (this.stopped) return Promise.resolve();
    const event = this.codec.signal(to, signal);
    // Chained, so signals leave in the order the core sent them even when sealing is async.
    const sent = this.outbound.then(async () => {
      const signed = await event;
      // Signals batched into one event share it: publish it once.
      if (this.stopped || signed.id === this.lastSentSignal) return;
      this.lastSentSignal = signed.id;
      this.relay.publish(signed);
    });
    this.outbound = sent.catch(() => {});
    return sent;
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
    this.roster.set(result.from, clock.now());
    if (result.type === 'gone') this.roster.delete(result.from);
    const tell = () => {
      if (this.stopped) return;
      if (result.type === 'here') this.events.peerJoined(result.from);
      else if (result.type === 'signal') for (const signal of result.signals) this.events.signal(result.from, signal);
      else this.events.peerLeft(result.from);
    };
    // Our subscription is live well before the relay's OK (50–500 ms on a busy relay). Until
    // then the join has not resolved and the handler is not handed out: a link the core made
    // now could connect, and emit connect$, before anyone listens.
    if (this.joined) tell();
    else if (this.held.length < MAX_HELD_EVENTS) this.held.push(tell);
  }

  private onOk(id: string, accepted: boolean, reason: string): void {
    if (this.pendingConfirm?.id === id) {
      const settle = this.pendingConfirm.settle;
      this.pendingConfirm = undefined;
      return settle(accepted ? undefined : new P2PError(P2PErrorCode.SIGNALING, `relay ${this.shownUrl} refused our announcement: ${reason}`));
    }
    if (!accepted) this.report(new P2PError(P2PErrorCode.SIGNALING, `relay ${this.shownUrl} refused an event: ${reason}`));
  }

  private announceLater(round: number): void {
    const repeats = ANNOUNCE_REPEATS_MS;
    const delay = round < repeats.length ? repeats[round]! - (repeats[round - 1] ?? 0) : this.settings.announceIntervalMs;
    this.timers.after(delay, () => {
      if (round >= repeats.length) this.forgetSilentPeers();
      void this.announce();
      this.announceLater(round + 1);
    });
  }

  private async announce(): Promise<void> {
    try {
      const presence = await this.codec.presence('here');
      if (!this.stopped) this.relay.publish(presence);
    } catch (error) {
      this.report(toP2PError(error, P2PErrorCode.SIGNALING, 'cannot make a presence announcement'));
    }
  }

  private forgetSilentPeers(): void {
    const limit = SILENT_INTERVALS_BEFORE_GONE * this.settings.announceIntervalMs;
    const now = this.settings.clock.now();
    for (const [peerId, heard] of this.roster) {
      if (now - heard <= limit) continue;
      this.roster.delete(peerId);
      this.events.peerLeft(peerId);
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
