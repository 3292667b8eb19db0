import { P2PError, P2PErrorCode, toP2PError } from '../errors.js';
import { signalKind, trace } from '../trace.js';
import type { SignalingEvents, SignalingTransport } from './signaling.js';
import { TimerSet, backoffDelay, type Clock } from './timers.js';

export interface SignalingSetSettings {
  clock: Clock;
  signalingTimeoutMs: number;
  reconnectMinDelayMs: number;
  reconnectMaxDelayMs: number;
}

/** What the set reports to the mesh: presence merged over every transport. */
export interface SignalingSetEvents {
  /** `sharedRoster`: the transport that told us also tells `peerId` about us (see SignalingTransport). */
  peerJoined(peerId: string, sharedRoster: boolean): void;
  peerLeft(peerId: string): void;
  /** `via`: the transport it came through (what it says of the sender is only that transport's word). */
  signal(from: string, signal: unknown, via: SignalingTransport): void;
  error(error: P2PError): void;
}

interface Slot {
  transport: SignalingTransport;
  /** Bumped on every (re)join and on leave: events of an older join are ignored. */
  generation: number;
  failures: number;
  joined: boolean;
  everJoined: boolean;
  /** Peers this transport can reach: announced by it, or heard from through it. */
  reachable: Set<string>;
}

/**
 * One room joined over one or several transports at once (redundant signaling): each
 * transport joins, fails and re-joins with its own backoff, a peer is present while any
 * transport reaches it, and signals go out through every transport that reaches the target.
 */
export class SignalingSet {
  private readonly slots: Slot[];
  private readonly timers: TimerSet;
  private stopped = false;
  /** Settles when leave() is called, so a join that can no longer finish does not hang start(). */
  private readonly whenStopped: Promise<void>;
  private markStopped = () => {};

  constructor(
    transports: readonly SignalingTransport[],
    private readonly room: string,
    private readonly selfId: string,
    private readonly settings: SignalingSetSettings,
    private readonly events: SignalingSetEvents,
  ) {
    this.timers = new TimerSet(settings.clock);
    this.whenStopped = new Promise((resolve) => (this.markStopped = resolve));
    this.slots = transports.map((transport) => ({ transport, generation: 0, failures: 0, joined: false, everJoined: false, reachable: new Set() }));
  }

  /**
   * Joins through every transport. Resolves with undefined once one has joined; if all fail
   * first, with a final error when every failure was final, else with the first error (the
   * retries go on).
   */
  start(): Promise<P2PError | undefined> {
    return new Promise((resolve) => {
      let failed = 0;
      const errors: P2PError[] = [];
      for (const slot of this.slots) {
        void this.join(slot).then((error) => {
          if (!error) return resolve(undefined);
          errors.push(error);
          if (++failed === this.slots.length) resolve(errors.find(isRetryable) ?? errors[0]);
        });
      }
    });
  }

  send(to: string, signal: unknown): void {
    // A transport that already reported the peer can carry signals even before its join resolved.
    const reaching = this.slots.filter((slot) => slot.reachable.has(to));
    for (const slot of reaching.length ? reaching : this.slots.filter((each) => each.joined)) {
      trace.signaling('%s sends %s to %s via %s', this.selfId, signalKind(signal), to, nameOf(slot));
      const reportFailure = (cause: unknown) =>
        this.events.error(toP2PError(cause, P2PErrorCode.SIGNALING, `signal to ${to} failed`, to));
      try {
        const sent = slot.transport.send(to, signal);
        if (sent) sent.catch(reportFailure);
      } catch (cause) {
        reportFailure(cause);
      }
    }
  }

  /** Leaves every transport; no event follows. */
  async leave(): Promise<void> {
    this.stopped = true;
    this.markStopped();
    this.timers.dispose();
    await Promise.all(
      this.slots.map((slot) => {
        slot.generation++;
        return this.release(slot);
      }),
    );
  }

  private async join(slot: Slot): Promise<P2PError | undefined> {
    const generation = ++slot.generation;
    let cancelTimeout = () => {};
    const timeout = new Promise<never>((_, reject) => {
      cancelTimeout = this.timers.after(this.settings.signalingTimeoutMs, () =>
        reject(new P2PError(P2PErrorCode.TIMEOUT, `joining the signaling room took over ${this.settings.signalingTimeoutMs} ms`)),
      );
    });
    trace.signaling('%s joining %s via %s', this.selfId, this.room, nameOf(slot));
    try {
      await Promise.race([slot.transport.join(this.room, this.selfId, this.slotEvents(slot, generation)), timeout, this.whenStopped]);
      if (this.stopped) return new P2PError(P2PErrorCode.DESTROYED, 'left the room while joining');
      if (generation !== slot.generation) return undefined;
      slot.joined = true;
      slot.everJoined = true;
      slot.failures = 0;
      trace.signaling('%s joined %s via %s', this.selfId, this.room, nameOf(slot));
      return undefined;
    } catch (cause) {
      const error = toP2PError(cause, P2PErrorCode.SIGNALING, 'joining the signaling room failed');
      trace.signaling('%s could not join %s via %s: %s %s', this.selfId, this.room, nameOf(slot), error.code, error.message);
      if (generation === slot.generation && !this.stopped) {
        this.events.error(error);
        // Only a first join can fail for good; once in, a refusal (an id still held by our
        // half-closed old connection, a full server) is a reason to retry, not to give up.
        this.retryLater(slot, !isRetryable(error) && !slot.everJoined);
      }
      return error;
    } finally {
      cancelTimeout();
    }
  }

  private slotEvents(slot: Slot, generation: number): SignalingEvents {
    const live = () => generation === slot.generation && !this.stopped;
    return {
      peerJoined: (peerId) => {
        if (live() && typeof peerId === 'string' && peerId !== this.selfId) this.markReachable(slot, peerId);
      },
      peerLeft: (peerId) => {
        if (!live() || !slot.reachable.delete(peerId)) return;
        trace.signaling('%s hears %s left %s via %s', this.selfId, peerId, this.room, nameOf(slot));
        if (!this.slots.some((other) => other.reachable.has(peerId))) this.events.peerLeft(peerId);
      },
      signal: (from, signal) => {
        if (!live() || typeof from !== 'string' || from === this.selfId) return;
        trace.signaling('%s receives %s from %s via %s', this.selfId, signalKind(signal), from, nameOf(slot));
        // Signal first: an offer makes the link, so the presence news below sends no needless hello.
        this.events.signal(from, signal, slot.transport);
        this.markReachable(slot, from);
      },
      lost: (cause) => {
        if (!live()) return;
        trace.signaling('%s lost %s via %s: %s', this.selfId, this.room, nameOf(slot), cause?.message);
        this.events.error(toP2PError(cause, P2PErrorCode.SIGNALING, 'the signaling connection was lost'));
        this.retryLater(slot, false);
      },
      error: (cause) => live() && this.events.error(toP2PError(cause, P2PErrorCode.SIGNALING, 'signaling error')),
    };
  }

  private markReachable(slot: Slot, peerId: string): void {
    const known = this.slots.some((other) => other.reachable.has(peerId));
    slot.reachable.add(peerId);
    if (known) return;
    trace.signaling('%s hears of %s in %s via %s', this.selfId, peerId, this.room, nameOf(slot));
    this.events.peerJoined(peerId, slot.transport.sharedRoster === true);
  }

  /** Forgets what this transport reached, releases it, and (unless final) re-joins after backoff. */
  private retryLater(slot: Slot, final: boolean): void {
    const generation = ++slot.generation;
    void this.release(slot);
    if (final) return;
    const delay = backoffDelay(slot.failures++, this.settings.reconnectMinDelayMs, this.settings.reconnectMaxDelayMs);
    trace.signaling('%s re-joins %s via %s in %d ms', this.selfId, this.room, nameOf(slot), delay);
    this.timers.after(delay, () => {
      if (generation === slot.generation && !this.stopped) void this.join(slot);
    });
  }

  /** The caller bumps `generation` first, so the released join's late events are ignored. */
  private async release(slot: Slot): Promise<void> {
    slot.joined = false;
    const lost = [...slot.reachable];
    slot.reachable.clear();
    if (!this.stopped) {
      for (const peerId of lost) if (!this.slots.some((other) => other.reachable.has(peerId))) this.events.peerLeft(peerId);
    }
    await slot.transport.leave().catch((cause) => {
      if (!this.stopped) this.events.error(toP2PError(cause, P2PErrorCode.SIGNALING, 'leaving the signaling room failed'));
    });
  }
}

export function isRetryable(error: P2PError): boolean {
  return error.code === P2PErrorCode.SIGNALING || error.code === P2PErrorCode.TIMEOUT;
}

/** The transport's class name, for the trace. */
const nameOf = (slot: Slot): string => slot.transport.constructor?.name || 'transport';
