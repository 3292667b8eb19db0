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
import { SignalingEvent, type JoinMessage, type SignalMessage } from '../protocol.js';
import { failure, relayed, roomKey, type ClientSocket, type Outcome, type RoomDirectory } from './common.js';
import type { ResolvedOptions } from './options.js';
import { claimsOf, peerKey, sealToken, tokenMatches } from './claims.js';
import { CLUSTER_REQUEST_TIMEOUT_MS, withDeadline, type RedisLink } from './redis.js';

/** Delay of the settling re-broadcast after a change. */
const SETTLE_MS = 300;
/** How often a process checks whether another one vanished or came (every list is then redone). */
const PEER_PROCESS_CHECK_MS = 2_000;
/** Server-side events between processes. */
const ROSTER = 'p2p:roster';
const DISPLACE = 'p2p:displace';

export function clusterDirectory(io: Server, config: ResolvedOptions, redis: RedisLink): RoomDirectory {
  /** Rooms with members on this process → their members on every process, as last computed. */
  const rosters = new Map<string, Set<string>>();
  /** Rooms with members on this process → how many. */
  const localMembers = new Map<string, number>();
  /** Rooms with members on this process → when the computation of the list they saw last started. */
  const appliedAt = new Map<string, number>();
  const settling = new Map<string, NodeJS.Timeout>();
  let stopped = false;
  let processes = 0;

  const addLocal = (room: string) => localMembers.set(room, (localMembers.get(room) ?? 0) + 1);
  const dropLocal = (room: string) => {
    const left = (localMembers.get(room) ?? 1) - 1;
    if (left > 0) return void localMembers.set(room, left);
    localMembers.delete(room);
    rosters.delete(room);
    appliedAt.delete(room);
  };
  /**
   * Shows `ids` (a list whose computation started at `startedAt`) to this process's members of
   * `room`, unless they already saw a list started later: a slow list computed before a change
   * must not overwrite the list computed after it.
   */
  const apply = (room: string, ids: string[], startedAt: number) => {
    if (!localMembers.has(room) || startedAt < (appliedAt.get(room) ?? 0)) return;
    appliedAt.set(room, startedAt);
    rosters.set(room, new Set(ids));
    if (ids.length > 0) io.local.to(roomKey(room)).emit(SignalingEvent.JOINED, ids, room);
  };

  /**
   * `fetchSockets()` bounded in time: while Redis is down, node-redis queues the adapter's
   * commands and its own request timeout has not even started.
   */
  function fetchSockets(key: string): Promise<Array<{ id: string; data: unknown }>> {
    return withDeadline(io.in(key).fetchSockets(), Date.now() + CLUSTER_REQUEST_TIMEOUT_MS);
  }

  async function roster(room: string): Promise<string[]> {
    const sockets = await fetchSockets(roomKey(room));
    const claims = sockets.flatMap((socket) => claimsOf(socket.data).filter((claim) => claim.room === room));
    claims.sort((a, b) => a.at - b.at || (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0));
    return [...new Set(claims.map((claim) => claim.peerId))];
  }

  /** Sends every member the room's list (`without` one id: a takeover's intermediate list). Never throws. */
  async function broadcast(room: string, without?: string): Promise<void> {
    if (stopped) return;
    const startedAt = Date.now();
    let ids: string[];
    try {
      ids = await roster(room);
    } catch {
      return; // the cluster did not answer in time; the settling broadcast tries again
    }
    if (stopped) return;
    if (without !== undefined) {
      ids = ids.filter((id) => id !== without);
      if (ids.length > 0) io.to(roomKey(room)).emit(SignalingEvent.JOINED, ids, room);
      return;
    }
    // Each process shows it to its own members, once it knows nothing newer.
    io.serverSideEmit(ROSTER, room, ids, startedAt);
    apply(room, ids, startedAt);
  }

  function settleLater(room: string): void {
    if (stopped || settling.has(room)) return;
    settling.set(room, setTimeout(() => {
      settling.delete(room);
      void broadcast(room);
    }, SETTLE_MS));
  }

  /** Runs on the process holding `socketId`: its claim on `peerId` went to a newer socket. */
  function displaceHere(socketId: unknown, room: unknown, peerId: unknown): void {
    if (typeof socketId !== 'string' || typeof room !== 'string' || typeof peerId !== 'string') return;
    const socket = io.of('/').sockets.get(socketId);
    if (!socket) return;
    const claims = claimsOf(socket.data);
    const index = claims.findIndex((claim) => claim.room === room && claim.peerId === peerId);
    if (index < 0) return;
    claims.splice(index, 1);
    dropLocal(room);
    void socket.leave(roomKey(room));
    void socket.leave(peerKey(room, peerId));
    const message = `peer id "${peerId}" in room "${room}" was taken over by a newer connection with its token`;
    socket.emit(SignalingEvent.ERROR, failure(P2PErrorCode.ID_TAKEN, SignalingEvent.JOIN, message, { room, peerId }));
  }

  io.on(ROSTER, (room: unknown, ids: unknown, startedAt: unknown) => {
    if (typeof room !== 'string' || !Array.isArray(ids) || typeof startedAt !== 'number') return;
    apply(room, ids.filter((id): id is string => typeof id === 'string'), startedAt);
  });
  io.on(DISPLACE, displaceHere);
  // A process that died told nobody: when the count of processes changes, every room here
  // gets a fresh list.
  let checking = false; // while Redis is down the count waits: never pile up checks
  const watch = setInterval(() => {
    if (checking) return;
    checking = true;
    redis.serverCount().then((count) => {
      // Fewer: one died. More: one started, or all came back after a Redis outage, when lists
      // made while some were unsubscribed missed their members.
      if (processes > 0 && count !== processes) for (const room of localMembers.keys()) void broadcast(room);
      processes = count;
    }, () => undefined).finally(() => (checking = false));
  }, PEER_PROCESS_CHECK_MS);

  /**
   * Checks and takes `peerId` in `room` under the cluster lock of that id, so no other claim
   * runs between the check and the taking, and the socket joins the id's routing room (where
   * its signals arrive) only once the id is its own.
   */
  async function claim(socket: ClientSocket, room: string, peerId: string, token: string | undefined): Promise<Outcome> {
    const event = SignalingEvent.JOIN;
    const key = peerKey(room, peerId);
    const refuse = (code: P2PErrorCode, message: string) => failure(code, event, message, { room, peerId });
    let holders: Array<{ id: string; data: unknown }>;
    let members: Array<{ id: string }>;
    try {
      [holders, members] = await Promise.all([fetchSockets(key), fetchSockets(roomKey(room))]);
    } catch {
      return refuse(P2PErrorCode.SIGNALING, 'the server cluster did not answer in time; retry');
    }
    const others = holders.filter((holder) => holder.id !== socket.id);
    const takeover = others.length > 0 && others.every((other) => tokenMatches(token, room, peerId, claimsOf(other.data).find((c) => c.room === room)?.token));
    if (others.length > 0 && !takeover) return refuse(P2PErrorCode.ID_TAKEN, `peer id "${peerId}" is already taken in room "${room}"`);
    const staying = members.filter((member) => member.id !== socket.id && !others.some((other) => other.id === member.id));
    if (staying.length >= config.maxPeersPerRoom) return refuse(P2PErrorCode.LIMIT_EXCEEDED, `room "${room}" is full (${config.maxPeersPerRoom} peers)`);
    for (const other of others) {
      if (io.of('/').sockets.has(other.id)) displaceHere(other.id, room, peerId);
      else io.serverSideEmit(DISPLACE, other.id, room, peerId);
    }
    // The others see the stale holder leave before the new one joins (clients diff the lists).
    if (takeover) await broadcast(room, peerId);
    if (!socket.connected) return refuse(P2PErrorCode.SIGNALING, 'disconnected while joining');
    claimsOf(socket.data).push({ room, peerId, at: Date.now(), ...(token === undefined ? {} : { token: sealToken(room, peerId, token) }) });
    addLocal(room);
    // Local and synchronous: any claim checked after the lock is released sees it.
    void socket.join(key);
    void socket.join(roomKey(room));
    return undefined;
  }

  return {
    async join(socket: ClientSocket, { room, peerId, token }: JoinMessage): Promise<Outcome> {
      const event = SignalingEvent.JOIN;
      const claims = claimsOf(socket.data);
      const held = claims.find((claim) => claim.room === room);
      if (held?.peerId === peerId) {
        socket.emit(SignalingEvent.JOINED, [...(rosters.get(room) ?? [peerId])], room);
        return undefined;
      }
      if (held) return failure(P2PErrorCode.PROTOCOL, event, `already in room "${room}" as "${held.peerId}"; leave it first`, { room, peerId });
      if (claims.length >= config.maxRoomsPerSocket) {
        return failure(P2PErrorCode.LIMIT_EXCEEDED, event, `at most ${config.maxRoomsPerSocket} rooms per socket`, { room, peerId });
      }
      const key = peerKey(room, peerId);
      let release: () => Promise<void>;
      try {
        release = await redis.lock(key);
      } catch {
        return failure(P2PErrorCode.SIGNALING, event, 'the server cluster did not answer in time; retry', { room, peerId });
      }
      let outcome: Outcome;
      try {
        outcome = await claim(socket, room, peerId, token);
      } finally {
        await release();
      }
      if (outcome) return outcome;
      await broadcast(room);
      settleLater(room);
      return undefined;
    },

    signal(socket: ClientSocket, message: SignalMessage): Outcome {
      const { from, to, room } = message;
      const event = SignalingEvent.SIGNAL;
      const own = claimsOf(socket.data).find((claim) => claim.room === room)?.peerId;
      if (own === undefined) return failure(P2PErrorCode.PROTOCOL, event, `not a member of room "${room}"`, { room });
      if (own !== from) {
        return failure(P2PErrorCode.PROTOCOL, event, `"from" must be your own id "${own}" in room "${room}"`, { room });
      }
      // The last list this process saw: a synchronous check, so signals keep their order.
      if (!rosters.get(room)?.has(to)) {
        return failure(P2PErrorCode.PEER_NOT_CONNECTED, event, `peer "${to}" is not in room "${room}"`, { room, peerId: to });
      }
      io.to(peerKey(room, to)).emit(event, relayed(socket, message));
      return undefined;
    },

    async leave(socket: ClientSocket, room: string): Promise<Outcome> {
      const claims = claimsOf(socket.data);
      const index = claims.findIndex((claim) => claim.room === room);
      // Leaving a room one is not in is a no-op: a displaced or racing client may well do it.
      if (index < 0) return undefined;
      const [claim] = claims.splice(index, 1);
      dropLocal(room);
      void socket.leave(roomKey(room));
      void socket.leave(peerKey(room, claim!.peerId));
      await broadcast(room);
      settleLater(room);
      return undefined;
    },

    disconnected(socket: ClientSocket): void {
      // socket.io has already taken the socket out of its rooms, so the lists below omit it.
      for (const { room } of claimsOf(socket.data).splice(0)) {
        dropLocal(room);
        void broadcast(room);
        settleLater(room);
      }
    },

    stats: () => ({ rooms: localMembers.size, peers: [...localMembers.values()].reduce((sum, count) => sum + count, 0) }),

    stop: async () => {
      stopped = true;
      clearInterval(watch);
      for (const timer of settling.values()) clearTimeout(timer);
      settling.clear();
    },
  };
}
