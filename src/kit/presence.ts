import type { TimerSet } from '../mesh/timers.js';

/**
 * After joining, presence is repeated at these times (ms after the join) in case a peer missed
 * the first one, then only every interval: peers that hear an announcement answer it, so a room
 * never needs a stream of announcements.
 */
export const ANNOUNCE_REPEATS_MS: readonly number[] = [500, 2_000, 8_000];
/** A peer not heard from for this many intervals is reported gone (it crashed unheard). */
const SILENT_INTERVALS_BEFORE_GONE = 3;

/**
 * Presence on a broadcast service that keeps no roster of its own (a Nostr relay, a y-webrtc
 * signaling server): who was heard when, announcements on a schedule, and peers that fell
 * silent forgotten, for transports whose server never says that someone left.
 */
export class PresenceRoster {
  private readonly heard = new Map<string, number>();

  constructor(
    private readonly timers: TimerSet,
    private readonly intervalMs: number,
    private readonly announce: () => void,
    private readonly gone: (peerId: string) => void,
  ) {}

  /** Starts the schedule (the first announcement is the caller's, made while joining). */
  start(): void {
    this.schedule(0);
  }

  /** Records `peerId` as heard now; true when it was not in the roster. */
  heardFrom(peerId: string): boolean {
    const known = this.heard.has(peerId);
    this.heard.set(peerId, this.timers.clock.now());
    return !known;
  }

  /** Drops `peerId` (it said goodbye); true when it was in the roster. */
  forget(peerId: string): boolean {
    return this.heard.delete(peerId);
  }

  private schedule(round: number): void {
    const repeats = ANNOUNCE_REPEATS_MS;
    const delay = round < repeats.length ? repeats[round]! - (repeats[round - 1] ?? 0) : this.intervalMs;
    this.timers.after(delay, () => {
      if (round >= repeats.length) this.forgetSilent();
      this.announce();
      this.schedule(round + 1);
    });
  }

  private forgetSilent(): void {
    const oldest = this.timers.clock.now() - SILENT_INTERVALS_BEFORE_GONE * this.intervalMs;
    for (const [peerId, at] of this.heard) {
      if (at >= oldest) continue;
      this.heard.delete(peerId);
      this.gone(peerId);
    }
  }
}
