import { P2PError, P2PErrorCode } from '../errors.js';
import type { SignalingEvents, SignalingTransport } from '../mesh/signaling.js';

/** One join of a room: started once, stopped once, never reused. */
export interface SignalingSession {
  /** Connects, joins and announces; resolves once joined. Rejects with a P2PError (see SignalingTransport.join). */
  start(): Promise<void>;
  send(to: string, signal: unknown): void | Promise<void>;
  /** Releases everything; idempotent, and safe while start() is still running. */
  stop(): Promise<void>;
}

/** Events a session may hear before its join resolves; later ones are dropped (the senders repeat). */
const MAX_HELD_EVENTS = 256;

/**
 * Holds what a session hears before its join resolves and tells the core once it has: the core
 * hands out the handler only when the join resolves, and a link it made earlier could emit
 * connect$ before anyone listens. That is the pre-join rule every kit transport follows:
 * a session may report peers and signals at any time; the core hears them after join().
 */
class GatedEvents implements SignalingEvents {
  private held: Array<() => void> | undefined = [];
  private ended = false;

  constructor(private readonly events: SignalingEvents) {}

  peerJoined(peerId: string): void {
    this.tell(() => this.events.peerJoined(peerId));
  }
  peerLeft(peerId: string): void {
    this.tell(() => this.events.peerLeft(peerId));
  }
  signal(from: string, signal: unknown): void {
    this.tell(() => this.events.signal(from, signal));
  }
  lost(error: P2PError): void {
    // Held like the rest: told once the join resolved, dropped with the gate if it failed
    // (its rejection says it then, and the core must not also re-join).
    this.tell(() => this.events.lost(error), true);
  }
  error(error: P2PError): void {
    // Not held: the core itself keeps errors until the caller holds the handler (error$ is hot).
    if (!this.ended) this.events.error(error);
  }

  open(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const tell of held) tell();
  }

  end(): void {
    this.ended = true;
    this.held = undefined;
  }

  /** `always`: held even past the cap (a lost connection must reach the core). */
  private tell(deliver: () => void, always = false): void {
    if (this.ended) return;
    if (this.held === undefined) deliver();
    else if (always || this.held.length < MAX_HELD_EVENTS) this.held.push(deliver);
  }
}

/**
 * A SignalingTransport as one session per join, which is how every built-in transport works:
 * `join()` after `leave()` (the core re-joins after `lost`) opens a fresh session, a join
 * overtaken by `leave()` opens nothing, sends go to the current session, and no event of an
 * ended session reaches the core. Subclasses say only how a session is made.
 */
export abstract class SessionTransport implements SignalingTransport {
  private session: SignalingSession | undefined;
  private gate: GatedEvents | undefined;
  /** Bumped by every join and leave: a join overtaken by leave() while it waited must not open anything. */
  private generation = 0;

  /** A session joining `room` as `peerId`, reporting to `events` (gated: see GatedEvents). */
  protected abstract openSession(room: string, peerId: string, events: SignalingEvents): SignalingSession | Promise<SignalingSession>;

  async join(room: string, peerId: string, events: SignalingEvents): Promise<void> {
    // Taken before anything is awaited, so a leave() at any point of the join overtakes it.
    const generation = ++this.generation;
    await this.release();
    const gate = new GatedEvents(events);
    const session = generation === this.generation ? await this.openSession(room, peerId, gate) : undefined;
    if (!session || generation !== this.generation) {
      gate.end();
      await session?.stop();
      throw new P2PError(P2PErrorCode.SIGNALING, 'left the room while joining');
    }
    this.session = session;
    this.gate = gate;
    try {
      await session.start();
    } catch (error) {
      if (this.session === session) await this.release();
      throw error;
    }
    if (generation !== this.generation) throw new P2PError(P2PErrorCode.SIGNALING, 'left the room while joining');
    gate.open();
  }

  send(to: string, signal: unknown): void | Promise<void> {
    if (!this.session) return Promise.reject(new P2PError(P2PErrorCode.SIGNALING, 'not joined'));
    return this.session.send(to, signal);
  }

  async leave(): Promise<void> {
    this.generation++;
    await this.release();
  }

  /** Ends the current session, if any; its events stop reaching the core at once. */
  private async release(): Promise<void> {
    const session = this.session;
    this.gate?.end();
    this.session = undefined;
    this.gate = undefined;
    await session?.stop();
  }
}
