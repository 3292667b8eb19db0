import { P2PError, P2PErrorCode } from '../../src/errors.js';
import { ConnectionHub, createPeer } from '../../src/hub.js';
import type { P2PConnectionHandler, P2PMessage, P2PPeer, P2PResponse } from '../../src/types.js';
import { decodePayload, encodePayload } from './codec.js';
import { Inbox } from './inbox.js';
import { resolveNetworkOptions, type MemoryNetworkOptions, type ResolvedNetworkOptions } from './options.js';

/** An in-process network: handlers on one topic link up with each other, no sockets involved. */
export interface MemoryNetwork {
  /** The options in effect, defaults filled in. */
  readonly options: Readonly<ResolvedNetworkOptions>;
  /**
   * Kills `handler` the way a crashed process dies: its peers get no goodbye and notice only
   * after `crashDetectionMs` (their sends meanwhile resolve and are lost, as on a real wire).
   * The crashed handler itself is closed, so it leaves nothing running. No-op if already closed.
   */
  crash(handler: P2PConnectionHandler): Promise<void>;
  /**
   * Hands `handler` a raw frame as if the connected peer `fromPeerId` (default: the first
   * one) had sent it, with no copy and no checks: for testing how an app copes with a
   * malformed payload (a non-object frame surfaces on error$ as ERR_PROTOCOL).
   */
  injectFrame(handler: P2PConnectionHandler, frame: unknown, fromPeerId?: string): void;
  /** Ids of the handlers currently on `topic`, in join order. */
  members(topic: string): string[];
}

interface Link {
  readonly remote: Member;
  /** The object the local handler uses for the remote one: its identity on every stream. */
  readonly peer: P2PPeer;
}

interface Member {
  readonly id: string;
  readonly topic: string;
  readonly hub: ConnectionHub;
  readonly inbox: Inbox;
  readonly links: Map<string, Link>;
  maxPayloadBytes: number;
  left: boolean;
}

export interface JoinOptions {
  topic: string;
  peerId: string;
  maxPayloadBytes: number;
}

export class MemoryNetworkImpl implements MemoryNetwork {
  readonly options: Readonly<ResolvedNetworkOptions>;
  private readonly topics = new Map<string, Map<string, Member>>();
  private readonly byHandler = new WeakMap<P2PConnectionHandler, Member>();

  constructor(options?: MemoryNetworkOptions) {
    this.options = Object.freeze(resolveNetworkOptions(options));
  }

  members(topic: string): string[] {
    return [...(this.topics.get(topic)?.keys() ?? [])];
  }

  /** Adds a handler to `topic`; connect$ fires on both sides of every new link after the latency. */
  join({ topic, peerId, maxPayloadBytes }: JoinOptions): P2PConnectionHandler {
    const room = this.topics.get(topic) ?? new Map<string, Member>();
    if (room.has(peerId)) {
      throw new P2PError(P2PErrorCode.ID_TAKEN, `peer id ${peerId} is already live on topic ${topic}`, { peerId });
    }
    this.topics.set(topic, room);
    const member: Member = {
      id: peerId,
      topic,
      hub: new ConnectionHub(),
      inbox: new Inbox(this.options.latencyMs),
      links: new Map(),
      maxPayloadBytes,
      left: false,
    };
    for (const other of room.values()) this.link(member, other);
    room.set(peerId, member);

    const handler = member.hub.toHandler(
      async (peer, payload) => this.send(member, peer, payload),
      async () => {
        this.leave(member, 'goodbye');
        member.inbox.clear();
      },
    );
    this.byHandler.set(handler, member);
    return handler;
  }

  async crash(handler: P2PConnectionHandler): Promise<void> {
    const member = this.memberOf(handler);
    this.leave(member, 'crash');
    await handler.close();
  }

  injectFrame(handler: P2PConnectionHandler, frame: unknown, fromPeerId?: string): void {
    const member = this.memberOf(handler);
    const link = fromPeerId === undefined ? member.links.values().next().value : member.links.get(fromPeerId);
    if (link === undefined) {
      throw new P2PError(P2PErrorCode.PEER_NOT_CONNECTED, `no connected peer ${fromPeerId ?? ''} to inject from`, {
        peerId: fromPeerId,
      });
    }
    member.inbox.push(() => member.hub.deliver(link.peer, frame));
  }

  private memberOf(handler: P2PConnectionHandler): Member {
    const member = this.byHandler.get(handler);
    if (member === undefined) {
      throw new P2PError(P2PErrorCode.INVALID_OPTION, 'this handler does not belong to this memory network');
    }
    return member;
  }

  private link(a: Member, b: Member): void {
    const aSide: Link = { remote: b, peer: createPeer(b.id) };
    const bSide: Link = { remote: a, peer: createPeer(a.id) };
    a.links.set(b.id, aSide);
    b.links.set(a.id, bSide);
    // Checked when it fires: a link torn down before it came up never flickers into view.
    a.inbox.push(() => {
      if (a.links.get(b.id) === aSide) a.hub.addPeer(aSide.peer);
    });
    b.inbox.push(() => {
      if (b.links.get(a.id) === bSide) b.hub.addPeer(bSide.peer);
    });
  }

  /**
   * Takes `member` off its topic at once (so newcomers never link to it) and tells each
   * remote: a goodbye queued behind the payloads already in flight, or, for a crash, nothing
   * until the detection delay has passed.
   */
  private leave(member: Member, how: 'goodbye' | 'crash'): void {
    if (member.left) return;
    member.left = true;
    const room = this.topics.get(member.topic);
    room?.delete(member.id);
    if (room?.size === 0) this.topics.delete(member.topic);
    for (const { remote } of member.links.values()) {
      const remoteSide = remote.links.get(member.id);
      remote.links.delete(member.id);
      if (remoteSide === undefined) continue;
      const notice = (): void => {
        remote.hub.removePeer(remoteSide.peer);
      };
      if (how === 'goodbye') remote.inbox.push(notice);
      else remote.inbox.later(this.options.crashDetectionMs + this.options.latencyMs, notice);
    }
    member.links.clear();
  }

  private send(member: Member, peer: P2PPeer, payload: P2PMessage | P2PResponse): void {
    const json = encodePayload(payload, member.maxPayloadBytes, peer.id);
    const link = member.links.get(peer.id);
    // The hub still lists the peer but the link is gone: its goodbye (or crash notice) is on
    // the way. A real wire would swallow these bytes too.
    if (link === undefined || link.peer !== peer) return;
    const { remote } = link;
    const back = remote.links.get(member.id);
    if (back === undefined) return;
    remote.inbox.push(() => remote.hub.deliver(back.peer, decodePayload(json)));
  }
}
