import {
  P2PError, P2PErrorCode, TimerSet, toP2PError,
  type Clock, type SignalingEvents, type WebSocketConstructor,
} from '../../src/kit/index.js';
import { listPeers, socketUrl, type PeerServerEndpoint } from './endpoint.js';
import { ENVELOPE_TYPE, MAX_ROSTER, MAX_SLOT, ServerType, classify, memberId, ownerOf, slotId, type Envelope, type ServerMessage } from './protocol.js';
import { SlotKeeper } from './slots.js';
import { PeerServerSocket } from './socket.js';

export interface RoomSettings {
  endpoint: PeerServerEndpoint;
  WebSocket: WebSocketConstructor;
  clock: Clock;
  pingIntervalMs: number;
  openTimeoutMs: number;
  /** Token of our member id: re-joining with it takes over our own stale socket at once. */
  memberToken: string;
  /** Token of our slots, never shared: a shared one would let two handlers hold one slot. */
  slotToken: string;
  /** Ask `GET /peers` first (the server must run with allow_discovery). */
  discovery: boolean;
  /** The server refused discovery: later joins need not ask again. */
  discoveryRefused(): void;
  /** Slots probed above the highest one known, for members behind a gap. */
  probeWindow: number;
}

/** What may arrive (on a slot socket) or be said (hellos) before our member socket is open. */
const MAX_EARLY = 256;

/**
 * One join of one room on one PeerServer (see README, "Rooms on PeerServer"): a member socket
 * that carries every message, a slot newcomers find us by (SlotKeeper), hellos to the slots
 * and members we learn of, and goodbyes when we leave.
 */
export class RoomSession {
  readonly timers: TimerSet;
  private readonly sockets = new Set<PeerServerSocket>();
  private readonly slots: SlotKeeper;
  private member: PeerServerSocket | undefined;
  /** Members we heard from, with the slot each last announced. */
  private readonly known = new Map<string, number | undefined>();
  /** Member ids we said hello to because a roster or listing named them (each once). */
  private readonly greeted = new Set<string>();
  private readonly early = { messages: [] as ServerMessage[], hellos: [] as string[] };
  private probing = false;
  private probedUpTo = -1;
  private disposed = false;
  private lostReported = false;

  constructor(
    private readonly settings: RoomSettings,
    private readonly roomKey: string,
    readonly peerId: string,
    private readonly events: SignalingEvents,
  ) {
    this.timers = new TimerSet(settings.clock);
    this.slots = new SlotKeeper({
      timers: this.timers,
      openSlotSocket: (number) => this.openSocket(slotId(roomKey, number), settings.slotToken),
      release: (socket) => void (this.sockets.delete(socket), socket.close()),
      occupied: (number) => this.hello(slotId(roomKey, number)),
      knownSlots: () => new Set([...this.known.values()].filter((slot): slot is number => slot !== undefined)),
      claimed: (number, moved) => this.claimed(number, moved),
      ensureLive: () => this.ensureLive(),
    });
  }

  /** The slot we hold, once claimed. */
  get slotNumber(): number | undefined {
    return this.slots.number;
  }

  /**
   * Resolves once we hold our member id. The slot claim and the `/peers` listing run alongside,
   * not waited for: a server without discovery would cost every join a refused request first,
   * and ID-TAKEN answers find members too. A claim failure after joining is reported as `lost`.
   */
  async start(): Promise<void> {
    const member = this.openSocket(memberId(this.roomKey, this.peerId), this.settings.memberToken);
    try {
      this.probing = !this.settings.discovery;
      const taken = new Set<number>(); // filled by the listing if it comes; the claim skips those
      const claiming = this.slots.claimFirst(taken);
      claiming.catch(() => {}); // observed below once joined; a failed join leaves anyway
      if (this.settings.discovery) void this.discover(taken);
      await member.open();
      this.ensureLive();
      this.member = member;
      for (const message of this.early.messages.splice(0)) this.onMessage(message);
      for (const dst of this.early.hellos.splice(0)) this.hello(dst);
      void claiming.catch((error: unknown) => this.loseConnection(toP2PError(error, P2PErrorCode.SIGNALING, 'claiming a slot failed')));
    } catch (error) {
      await this.leave();
      throw error;
    }
  }

  sendSignal(to: string, signal: unknown): void {
    this.sendTo(to, { p2ph: 1, kind: 'signal', signal });
  }

  /** Says goodbye to every member, closes every socket and timer. Idempotent. */
  async leave(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    // Members drop us now instead of when a signal to us expires seconds later.
    for (const peer of this.known.keys()) this.member?.send(ServerType.Leave, memberId(this.roomKey, peer));
    const closing = [...this.sockets].map((socket) => socket.close());
    this.sockets.clear();
    await Promise.all(closing);
    this.timers.dispose();
  }

  // ---- sockets ---------------------------------------------------------------------------

  private openSocket(id: string, token: string): PeerServerSocket {
    this.ensureLive();
    const { WebSocket, pingIntervalMs, openTimeoutMs, endpoint } = this.settings;
    const socket: PeerServerSocket = new PeerServerSocket(socketUrl(endpoint, id, token), id, { WebSocket, timers: this.timers, pingIntervalMs, openTimeoutMs }, {
      message: (message) => this.onMessage(message),
      malformed: (error) => this.report(error),
      closed: (error) => {
        this.sockets.delete(socket);
        if (socket === this.member || this.slots.holds(socket)) this.loseConnection(error);
      },
    });
    this.sockets.add(socket);
    return socket;
  }

  private claimed(number: number, moved: boolean): void {
    this.probedUpTo = Math.max(this.probedUpTo, number);
    if (moved) {
      for (const peer of this.known.keys()) this.sendTo(peer, { p2ph: 1, kind: 'welcome', slot: number, peers: [] });
    } else {
      // The slots below ours answered ID-TAKEN during the claim and were greeted; look past
      // ours too, for members behind a gap that departures left (none with a listing).
      this.probeUpTo(number + this.settings.probeWindow);
    }
  }

  /** Greets the members `/peers` names; without a listing, probes above our slot as a room without discovery does. */
  private async discover(taken: Set<number>): Promise<void> {
    const result = await listPeers(this.settings.endpoint, this.timers, this.settings.openTimeoutMs);
    if (this.disposed) return;
    if (!result.ok) {
      if (result.refused) this.settings.discoveryRefused();
      this.probing = true;
      return this.probeUpTo((this.slots.number ?? 0) + this.settings.probeWindow);
    }
    for (const id of result.ids) {
      const owner = ownerOf(this.roomKey, id);
      if (owner.kind === 'slot') taken.add(owner.slot);
      if (owner.kind === 'member' && owner.peerId !== this.peerId) this.hello(id);
    }
  }

  // ---- messages --------------------------------------------------------------------------

  private onMessage(message: ServerMessage): void {
    if (this.disposed) return;
    if (!this.member) {
      // A slot socket can open before the member socket: answer once we can.
      if (this.early.messages.length < MAX_EARLY) this.early.messages.push(message);
      return;
    }
    const incoming = classify(message, this.roomKey, this.peerId);
    if (incoming.kind === 'error') this.report(incoming.error);
    else if (incoming.kind === 'gone') this.lose(incoming.peer);
    else if (incoming.kind === 'envelope') this.dispatch(incoming.peer, incoming.envelope);
  }

  private dispatch(peer: string, envelope: Envelope): void {
    switch (envelope.kind) {
      case 'hello':
        this.present(peer, envelope.slot);
        const peers = [...this.known.keys()].filter((other) => other !== peer).slice(0, MAX_ROSTER);
        this.sendTo(peer, { p2ph: 1, kind: 'welcome', slot: this.slots.number, peers });
        break;
      case 'welcome':
        this.present(peer, envelope.slot);
        for (const other of envelope.peers) {
          if (other !== this.peerId && !this.known.has(other)) this.hello(memberId(this.roomKey, other));
        }
        break;
      case 'signal':
        if (!this.known.has(peer)) this.present(peer, undefined);
        this.events.signal(peer, envelope.signal);
        break;
      case 'echo':
        break;
    }
  }

  private present(peer: string, slot: number | undefined): void {
    this.known.set(peer, slot ?? this.known.get(peer));
    this.events.peerJoined(peer);
    if (slot !== undefined) this.probeUpTo(slot + this.settings.probeWindow);
  }

  private lose(peer: string): void {
    const slot = this.known.get(peer);
    const wasKnown = this.known.delete(peer);
    this.greeted.delete(memberId(this.roomKey, peer));
    this.events.peerLeft(peer);
    const ours = this.slots.number;
    if (wasKnown && ours !== undefined && (slot === undefined || slot < ours)) this.slots.scheduleCompaction();
  }

  /** Hello to a slot (whoever holds it answers) or, once, to a member a roster named. */
  private hello(dst: string): void {
    if (!this.member) {
      if (this.early.hellos.length < MAX_EARLY) this.early.hellos.push(dst);
      return;
    }
    if (ownerOf(this.roomKey, dst).kind === 'member') {
      if (this.greeted.has(dst)) return;
      this.greeted.add(dst);
    }
    this.member.send(ENVELOPE_TYPE, dst, { p2ph: 1, kind: 'hello', slot: this.slots.number });
  }

  private probeUpTo(limit: number): void {
    if (!this.probing || this.slots.number === undefined) return;
    // One announcement moves the frontier by one window at most: a hello claiming slot 100,000
    // must not make us greet every slot below it (slots are dense, rosters name the rest).
    const top = Math.min(limit, this.probedUpTo + this.settings.probeWindow, MAX_SLOT);
    const knownSlots = new Set(this.known.values());
    for (let number = this.probedUpTo + 1; number <= top; number++) {
      if (number !== this.slots.number && !knownSlots.has(number)) this.hello(slotId(this.roomKey, number));
    }
    this.probedUpTo = Math.max(this.probedUpTo, top);
  }

  private sendTo(peer: string, envelope: Envelope): void {
    this.member?.send(ENVELOPE_TYPE, memberId(this.roomKey, peer), envelope);
  }

  private loseConnection(error: P2PError): void {
    if (this.disposed || this.lostReported) return;
    this.lostReported = true;
    this.events.lost(error);
  }

  private ensureLive(): void {
    if (this.disposed) throw new P2PError(P2PErrorCode.DESTROYED, 'left the room');
  }

  private report(error: P2PError): void {
    if (!this.disposed) this.events.error(error);
  }
}
