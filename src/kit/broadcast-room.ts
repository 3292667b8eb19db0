import { P2PError, P2PErrorCode } from '../errors.js';
import type { SignalingEvents } from '../mesh/signaling.js';
import type { TimerSet } from '../mesh/timers.js';
import type { OpenedSignal, SealedRoom } from '../room-seal.js';
import { PresenceRoster } from './presence.js';
import { SerialQueue } from './serial-queue.js';

/** What travels inside a seal: a presence, a goodbye, or a signal for the mesh core. */
type Envelope = { t: 'here' } | { t: 'gone' } | { t: 'signal'; s: unknown };
const EVERYONE = '*';

/**
 * One peer's room on a service that relays every message to every member and names no sender
 * (a y-webrtc signaling server, a pub/sub topic, a chat channel…), so a transport over such a
 * service only moves texts. Every text is sealed with the room cipher and names sender and
 * recipient inside the seal; presence is announced on joining (members answer the newcomer
 * directly), repeated on a schedule, and ended with a goodbye; a member that falls silent is
 * dropped. What cannot be opened (junk, another secret) is reported once per session.
 */
export class BroadcastRoomSession {
  private readonly roster: PresenceRoster;
  private readonly inbound = new SerialQueue();
  private readonly outbound = new SerialQueue();
  private reportedJunk = false;
  private left = false;

  constructor(
    private readonly room: SealedRoom,
    private readonly peerId: string,
    private readonly events: SignalingEvents,
    timers: TimerSet,
    announceIntervalMs: number,
    /** Hands one text to the service for every member; may drop it (signals are best effort). */
    private readonly publish: (text: string) => void,
  ) {
    this.roster = new PresenceRoster(timers, announceIntervalMs, () => this.announce(EVERYONE), (id) => events.peerLeft(id));
  }

  /** Announces us and starts the schedule; resolves once the announcement is handed over. */
  async join(): Promise<void> {
    await this.write(EVERYONE, { t: 'here' });
    this.roster.start();
  }

  send(to: string, signal: unknown): Promise<void> {
    return this.write(to, { t: 'signal', s: signal });
  }

  /** A text the service delivered, whoever it came from (our own echo included). */
  receive(text: unknown): void {
    this.inbound.run(() => this.room.openBroadcast(text)).then(
      (opened) => this.deliver(opened),
      (error: P2PError) => this.junk(error.message, error.code),
    );
  }

  /** A text the service delivered for this room that is not even a message. */
  junk(message: string, code: P2PErrorCode = P2PErrorCode.SIGNALING): void {
    if (this.reportedJunk || this.left) return;
    this.reportedJunk = true;
    this.events.error(new P2PError(code, message));
  }

  /** Says goodbye, so members see peerLeft at once; nothing is reported afterwards. */
  async leave(): Promise<void> {
    if (this.left) return;
    this.left = true;
    await this.write(EVERYONE, { t: 'gone' }).catch(() => undefined);
  }

  private deliver({ from, to, signal }: OpenedSignal): void {
    if (this.left || from === this.peerId || (to !== EVERYONE && to !== this.peerId)) return;
    const envelope = signal as Partial<Envelope> | null;
    if (envelope?.t === 'gone') {
      if (this.roster.forget(from)) this.events.peerLeft(from);
      return;
    }
    // Answered directly, so a newcomer learns the room now, not at our next announcement.
    if (this.roster.heardFrom(from) && to === EVERYONE) this.announce(from);
    this.events.peerJoined(from);
    if (envelope?.t === 'signal') this.events.signal(from, envelope.s);
  }

  /** A presence nobody waits for: a failed one is as good as a lost one (the next repeats it). */
  private announce(to: string): void {
    this.write(to, { t: 'here' }).catch(() => undefined);
  }

  /** Sealed in order (sealing is async), so an offer still leaves before its candidates. */
  private write(to: string, envelope: Envelope): Promise<void> {
    return this.outbound.run(async () => this.publish(await this.room.seal(this.peerId, to, envelope)));
  }
}
