import { isP2PError, P2PError, P2PErrorCode, type TimerSet } from '../../src/kit/index.js';
import { MAX_SLOT } from './protocol.js';
import type { PeerServerSocket } from './socket.js';

/** What the slot keeper needs from its room session. */
export interface SlotHost {
  readonly timers: TimerSet;
  /** A socket claiming slot `number` with our slot token, tracked (and closed on leave) by the session. */
  openSlotSocket(number: number): PeerServerSocket;
  /** Stops tracking `socket` and closes it. */
  release(socket: PeerServerSocket): void;
  /** Slot `number` answered ID-TAKEN: someone is there, maybe a member we do not know yet. */
  occupied(number: number): void;
  /** Slots the members we know announced last. */
  knownSlots(): ReadonlySet<number>;
  /** We hold slot `number` now: first claimed, or moved into. */
  claimed(number: number, moved: boolean): void;
  /** Throws ERR_DESTROYED once the session has left. */
  ensureLive(): void;
}

interface HeldSlot {
  socket: PeerServerSocket;
  number: number;
}

/**
 * The numbered slot a member holds so newcomers can find it. A slot is an id on PeerServer
 * (`<roomKey>-<n>`): the server's ID-TAKEN answer makes it a lock. We claim the lowest free
 * one, and move down when members below us leave, so the room's slots stay dense: a newcomer
 * who claims the lowest free slot and probes a few above it finds everyone, however many left.
 */
export class SlotKeeper {
  private held: HeldSlot | undefined;
  private compacting = false;
  private compactAgain = false;

  constructor(private readonly host: SlotHost) {}

  get number(): number | undefined {
    return this.held?.number;
  }

  holds(socket: PeerServerSocket): boolean {
    return this.held?.socket === socket;
  }

  /** Claims the lowest free slot, skipping those a listing showed taken; greets every taken one on the way. */
  async claimFirst(skip: ReadonlySet<number>): Promise<void> {
    const held = await this.claim(0, MAX_SLOT + 1, skip);
    if (!held) throw new P2PError(P2PErrorCode.SIGNALING, `every slot of the room is taken (${MAX_SLOT + 1})`);
    this.held = held;
    this.host.claimed(held.number, false);
  }

  /** A member below us (or at an unknown slot) left: try to move down. */
  scheduleCompaction(): void {
    if (this.compacting) {
      this.compactAgain = true;
      return;
    }
    if (!this.held || this.held.number === 0) return;
    this.compacting = true;
    // A random pause batches several departures and keeps members that all saw the same
    // departure from racing for the same slot in lockstep.
    this.host.timers.after(50 + Math.random() * 200, () => void this.compact());
  }

  private async compact(): Promise<void> {
    try {
      do {
        this.compactAgain = false;
        const current = this.held;
        if (!current) return;
        const lower = await this.claim(0, current.number, this.host.knownSlots());
        if (!lower) continue;
        this.held = lower;
        this.host.release(current.socket);
        this.host.claimed(lower.number, true);
      } while (this.compactAgain);
    } catch {
      // We left meanwhile, or the server failed us (the member socket reports that itself).
    } finally {
      this.compacting = false;
    }
  }

  /** The lowest free slot in [from, below) not in `skip`; every taken one is reported occupied. */
  private async claim(from: number, below: number, skip: ReadonlySet<number>): Promise<HeldSlot | undefined> {
    for (let number = from; number < below; number++) {
      if (skip.has(number)) continue;
      const socket = this.host.openSlotSocket(number);
      try {
        await socket.open();
        this.host.ensureLive();
        return { socket, number };
      } catch (error) {
        this.host.release(socket);
        this.host.ensureLive();
        if (!isP2PError(error, P2PErrorCode.ID_TAKEN)) throw error;
        this.host.occupied(number);
      }
    }
    return undefined;
  }
}
