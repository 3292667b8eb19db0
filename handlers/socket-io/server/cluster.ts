/**
 * The room directory of several server processes on one Redis (socket.io's Redis adapter).
 * socket.io rooms are the shared truth: a socket is in `roomKey(room)` for each room it
 * joined and in `peerKey(room, peerId)` for the id it holds there, and its claims ride in
 * `socket.data`, which `fetchSockets()` reads on every process. So `io.to(peerKey)` reaches a
 * peer on any process, and a dead process's sockets vanish from every answer with it.
 *
 * A claim is checked and made under a Redis lock of its id (SET NX), so two processes racing
 * for one id take turns: one accepts, the other sees it. Lists are recomputed after every change and shown by
 * each process to its own members, newest computation first-come: a list whose computation
 * started before another's is dropped, so the last word is a list that saw every change. A
 * second, settling list a moment later covers a change whose own list got lost.
 */
import type { Server } from 'socket.io';
import { P2PErrorCode } from '../../../src/errors.js';
import { TimerSet, type Clock } from '../../../src/mesh/timers.js';
import { SignalingEvent, type JoinMessage, type SignalMessage } from '../protocol.js';
import { displaced, failure, refusedSignal, relayed, roomKey, type ClientSocket, type Outcome, type RoomDirectory } from './common.js';
import type { ResolvedOptions } from './options.js';
import { claimsOf, peerKey, sealToken, tokenMatches } from './claims.js';
import { CLUSTER_REQUEST_TIMEOUT_MS, withDeadline, type RedisLink } from './redis.js';
import { checkClaim, checkOwnRooms, checkSignal } from './rules.js';

/** Delay of the settling re-broadcast after a change. */
const SETTLE_MS = 300;
/** How often a process checks whether another one vanished or came (every list is then redone). */
const PEER_PROCESS_CHECK_MS = 2_000;
/** Server-side events between processes. */
const ROSTER = 'p2p:roster';
const DISPLACE = 'p2p:displace';

type RemoteSocket = { id: string; data: unknown };

export class ClusterDirectory implements RoomDirectory {
  /** Rooms with members on this process → their members on every process, as last computed. */
  private readonly rosters = new Map<string, Set<string>>();
  /** Rooms with members on this process → how many. */
  private readonly localMembers = new Map<string, number>();
  /** Rooms with members on this process → when the computation of the list they saw last started. */
  private readonly appliedAt = new Map<string, number>();
  /** Rooms whose settling re-broadcast is scheduled. */
  private readonly settling = new Set<string>();
  private readonly timers: TimerSet;
  private readonly clock: Clock;
  private stopped = false;
  private processes = 0;

  constructor(
    private readonly io: Server,
    private readonly config: ResolvedOptions,
    private readonly redis: RedisLink,
  ) {
    this.clock = config.clock;
    this.timers = new TimerSet(config.clock);
    io.on(ROSTER, (room: unknown, ids: unknown, startedAt: unknown) => {
      if (typeof room !== 'string' || !Array.isArray(ids) || typeof startedAt !== 'number') return;
      this.apply(room, ids.filter((id): id is string => typeof id === 'string'), startedAt);
    });
    io.on(DISPLACE, (socketId: unknown, room: unknown, peerId: unknown) => this.displaceHere(socketId, room, peerId));
    this.watchProcesses();
  }

  async join(socket: ClientSocket, { room, peerId, token }: JoinMessage): Promise<Outcome> {
    const claims = claimsOf(socket.data);
    const held = claims.find((claim) => claim.room === room)?.peerId;
    const own = checkOwnRooms(held, claims.length, room, peerId, this.config);
    if (own === 'rejoined') {
      socket.emit(SignalingEvent.JOINED, [...(this.rosters.get(room) ?? [peerId])], room);
      return undefined;
    }
    if (own) return failure(own.code, SignalingEvent.JOIN, own.message, { room, peerId });
    let release: () => Promise<void>;
    try {
      release = await this.redis.lock(peerKey(room, peerId));
    } catch {
      return failure(P2PErrorCode.SIGNALING, SignalingEvent.JOIN, 'the server cluster did not answer in time; retry', { room, peerId });
    }
    let outcome: Outcome;
    try {
      outcome = await this.claim(socket, room, peerId, token);
    } finally {
      await release();
    }
    if (outcome) return outcome;
    await this.broadcast(room);
    this.settleLater(room);
    return undefined;
  }

  signal(socket: ClientSocket, message: SignalMessage): Outcome {
    const { from, to, room } = message;
    const own = claimsOf(socket.data).find((claim) => claim.room === room)?.peerId;
    // The last list this process saw: a synchronous check, so signals keep their order.
    const refusal = checkSignal(own, this.rosters.get(room)?.has(to) === true, from, to, room);
    if (refusal) return refusedSignal(refusal, room, to);
    this.io.to(peerKey(room, to)).emit(SignalingEvent.SIGNAL, relayed(socket, message));
    return undefined;
  }

  async leave(socket: ClientSocket, room: string): Promise<Outcome> {
    const claims = claimsOf(socket.data);
    const index = claims.findIndex((claim) => claim.room === room);
    // Leaving a room one is not in is a no-op: a displaced or racing client may well do it.
    if (index < 0) return undefined;
    const [claim] = claims.splice(index, 1);
    this.dropLocal(room);
    void socket.leave(roomKey(room));
    void socket.leave(peerKey(room, claim!.peerId));
    await this.broadcast(room);
    this.settleLater(room);
    return undefined;
  }

  disconnected(socket: ClientSocket): void {
    // socket.io has already taken the socket out of its rooms, so the lists below omit it.
    for (const { room } of claimsOf(socket.data).splice(0)) {
      this.dropLocal(room);
      void this.broadcast(room);
      this.settleLater(room);
    }
  }

  stats(): { rooms: number; peers: number } {
    return { rooms: this.localMembers.size, peers: [...this.localMembers.values()].reduce((sum, count) => sum + count, 0) };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timers.dispose();
    this.settling.clear();
  }

  /**
   * Checks and takes `peerId` in `room` under the cluster lock of that id, so no other claim
   * runs between the check and the taking, and the socket joins the id's routing room (where
   * its signals arrive) only once the id is its own.
   */
  private async claim(socket: ClientSocket, room: string, peerId: string, token: string | undefined): Promise<Outcome> {
    const key = peerKey(room, peerId);
    const refuse = (code: P2PErrorCode, message: string) => failure(code, SignalingEvent.JOIN, message, { room, peerId });
    let holders: RemoteSocket[];
    let members: RemoteSocket[];
    try {
      [holders, members] = await Promise.all([this.fetchSockets(key), this.fetchSockets(roomKey(room))]);
    } catch {
      return refuse(P2PErrorCode.SIGNALING, 'the server cluster did not answer in time; retry');
    }
    const others = holders.filter((holder) => holder.id !== socket.id);
    const sealedOf = (other: RemoteSocket) => claimsOf(other.data).find((claim) => claim.room === room)?.token;
    const staying = members.filter((member) => member.id !== socket.id && !others.some((other) => other.id === member.id)).length;
    const verdict = checkClaim(
      { held: others.length > 0, tokenMatches: others.every((other) => tokenMatches(token, room, peerId, sealedOf(other))), staying },
      room,
      peerId,
      this.config,
    );
    if (typeof verdict === 'object') return refuse(verdict.code, verdict.message);
    for (const other of others) {
      if (this.io.of('/').sockets.has(other.id)) this.displaceHere(other.id, room, peerId);
      else this.io.serverSideEmit(DISPLACE, other.id, room, peerId);
    }
    // The others see the stale holder leave before the new one joins (clients diff the lists).
    if (verdict === 'takeover') await this.broadcast(room, peerId);
    if (!socket.connected) return refuse(P2PErrorCode.SIGNALING, 'disconnected while joining');
    claimsOf(socket.data).push({ room, peerId, at: this.clock.now(), ...(token === undefined ? {} : { token: sealToken(room, peerId, token) }) });
    this.localMembers.set(room, (this.localMembers.get(room) ?? 0) + 1);
    // Local and synchronous: any claim checked after the lock is released sees it.
    void socket.join(key);
    void socket.join(roomKey(room));
    return undefined;
  }

  /** Runs on the process holding `socketId`: its claim on `peerId` went to a newer socket. */
  private displaceHere(socketId: unknown, room: unknown, peerId: unknown): void {
    if (typeof socketId !== 'string' || typeof room !== 'string' || typeof peerId !== 'string') return;
    const socket = this.io.of('/').sockets.get(socketId);
    if (!socket) return;
    const claims = claimsOf(socket.data);
    const index = claims.findIndex((claim) => claim.room === room && claim.peerId === peerId);
    if (index < 0) return;
    claims.splice(index, 1);
    this.dropLocal(room);
    void socket.leave(roomKey(room));
    void socket.leave(peerKey(room, peerId));
    socket.emit(SignalingEvent.ERROR, displaced(room, peerId));
  }

  private dropLocal(room: string): void {
    const left = (this.localMembers.get(room) ?? 1) - 1;
    if (left > 0) return void this.localMembers.set(room, left);
    this.localMembers.delete(room);
    this.rosters.delete(room);
    this.appliedAt.delete(room);
  }

  /**
   * Shows `ids` (a list whose computation started at `startedAt`) to this process's members of
   * `room`, unless they already saw a list started later: a slow list computed before a change
   * must not overwrite the list computed after it.
   */
  private apply(room: string, ids: string[], startedAt: number): void {
    if (!this.localMembers.has(room) || startedAt < (this.appliedAt.get(room) ?? 0)) return;
    this.appliedAt.set(room, startedAt);
    this.rosters.set(room, new Set(ids));
    if (ids.length > 0) this.io.local.to(roomKey(room)).emit(SignalingEvent.JOINED, ids, room);
  }

  /**
   * `fetchSockets()` bounded in time: while Redis is down, node-redis queues the adapter's
   * commands and its own request timeout has not even started.
   */
  private fetchSockets(key: string): Promise<RemoteSocket[]> {
    return withDeadline(this.io.in(key).fetchSockets(), this.clock.now() + CLUSTER_REQUEST_TIMEOUT_MS, this.clock);
  }

  private async roster(room: string): Promise<string[]> {
    const sockets = await this.fetchSockets(roomKey(room));
    const claims = sockets.flatMap((socket) => claimsOf(socket.data).filter((claim) => claim.room === room));
    claims.sort((a, b) => a.at - b.at || (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0));
    return [...new Set(claims.map((claim) => claim.peerId))];
  }

  /** Sends every member the room's list (`without` one id: a takeover's intermediate list). Never throws. */
  private async broadcast(room: string, without?: string): Promise<void> {
    if (this.stopped) return;
    const startedAt = this.clock.now();
    let ids: string[];
    try {
      ids = await this.roster(room);
    } catch {
      return; // the cluster did not answer in time; the settling broadcast tries again
    }
    if (this.stopped) return;
    if (without !== undefined) {
      ids = ids.filter((id) => id !== without);
      if (ids.length > 0) this.io.to(roomKey(room)).emit(SignalingEvent.JOINED, ids, room);
      return;
    }
    // Each process shows it to its own members, once it knows nothing newer.
    this.io.serverSideEmit(ROSTER, room, ids, startedAt);
    this.apply(room, ids, startedAt);
  }

  private settleLater(room: string): void {
    if (this.stopped || this.settling.has(room)) return;
    this.settling.add(room);
    this.timers.after(SETTLE_MS, () => {
      this.settling.delete(room);
      void this.broadcast(room);
    });
  }

  /**
   * A process that died told nobody: when the count of processes changes, every room here
   * gets a fresh list. The next check waits for this one (while Redis is down, none pile up).
   */
  private watchProcesses(): void {
    this.timers.after(PEER_PROCESS_CHECK_MS, () => {
      this.redis
        .serverCount()
        .then((count) => {
          // Fewer: one died. More: one started, or all came back after a Redis outage, when
          // lists made while some were unsubscribed missed their members.
          if (this.processes > 0 && count !== this.processes) for (const room of this.localMembers.keys()) void this.broadcast(room);
          this.processes = count;
        }, () => undefined)
        .finally(() => !this.stopped && this.watchProcesses());
    });
  }
}
