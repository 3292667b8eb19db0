import { P2PError, P2PErrorCode } from '../errors.js';
import { ConnectionHub, createPeer } from '../hub.js';
import type { P2PConnectionHandler, P2PMessage, P2PPeer, P2PResponse } from '../types.js';
import { parseMeshSignal, type HelloSignal, type MeshSignal, type RtcSignal, type RtcSignalData } from './envelope.js';
import { encodeMessage } from './framing.js';
import { resolveMeshOptions, randomId, assertId, type ResolvedMeshOptions, type WebRTCMeshOptions } from './options.js';
import { PeerLink, type PeerLinkEvents, type PeerLinkSettings } from './peer-link.js';
import type { SignalingTransport } from './signaling.js';
import { SignalingSet, isRetryable } from './signaling-set.js';
import { TimerSet, backoffDelay, systemClock } from './timers.js';
import { resolveWebRTC } from './wrtc.js';

export interface CreateWebRTCMeshHandlerOptions extends WebRTCMeshOptions {
  /**
   * The transport(s) that carry signals. Several at once make signaling redundant: the room is
   * joined through each, a peer found through any of them gets one link, and each transport
   * fails and re-joins on its own. Required.
   */
  signaling: SignalingTransport | readonly SignalingTransport[];
  /** The room: every handler on the same topic and transport connects to the others. Required. */
  topic: string;
  /**
   * Extra read-only fields for the peer object of a remote id (e.g. a verified public key).
   * Default: none, peers are `{ id }`.
   */
  peerDetails?: (peerId: string) => object;
}

/** Makes a mesh handler stop like a crashed process (used by the conformance suite). */
export const simulateCrash: unique symbol = Symbol.for('p2p-handlers.simulateCrash');

export type WebRTCMeshHandler = P2PConnectionHandler & {
  /** This handler's peer id in the room. */
  readonly peerId: string;
  /** The room this handler joined. */
  readonly topic: string;
  [simulateCrash](): Promise<void>;
};

/**
 * A topic's full mesh of WebRTC links over any SignalingTransport. Resolves once the room is
 * joined; a transient signaling failure at start resolves anyway and keeps retrying (the
 * error goes to error$), a final one (unauthorized, invalid, id taken) rejects.
 */
export async function createWebRTCMeshHandler(options: CreateWebRTCMeshHandlerOptions): Promise<WebRTCMeshHandler> {
  const { signaling, topic, peerDetails, ...meshOptions } = options;
  assertId(topic, 'topic', 512);
  const transports: readonly SignalingTransport[] = Array.isArray(signaling) ? signaling : [signaling];
  const isTransport = (t: SignalingTransport | undefined) =>
    !!t && typeof t.join === 'function' && typeof t.send === 'function' && typeof t.leave === 'function';
  if (transports.length === 0 || !transports.every(isTransport)) {
    throw new P2PError(P2PErrorCode.INVALID_OPTION, '`signaling` must be one or more transports implementing join, send and leave');
  }
  if (peerDetails !== undefined && typeof peerDetails !== 'function') {
    throw new P2PError(P2PErrorCode.INVALID_OPTION, '`peerDetails` must be a function');
  }
  const resolved = resolveMeshOptions(meshOptions, meshOptions.clock ?? systemClock);
  const wrtc = await resolveWebRTC(resolved.wrtc);
  const mesh = new WebRTCMesh(transports, topic, resolved, peerDetails, {
    wrtc,
    config: resolved.config,
    clock: resolved.clock,
    connectTimeoutMs: resolved.connectTimeoutMs,
    heartbeatIntervalMs: resolved.heartbeatIntervalMs,
    peerTimeoutMs: resolved.peerTimeoutMs,
    maxMessageBytes: resolved.maxMessageBytes,
  });
  await mesh.start();
  return mesh.handler;
}

class WebRTCMesh implements PeerLinkEvents {
  readonly handler: WebRTCMeshHandler;
  private readonly hub = new ConnectionHub<P2PPeer>();
  private readonly session = randomId();
  private readonly timers: TimerSet;
  private readonly signaling: SignalingSet;
  private readonly links = new Map<string, PeerLink>();
  /** Peers some transport says are in the room (or that signaled us). */
  private readonly present = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly pendingRetries = new Map<string, () => void>();
  /** Per remote: the newest link attempt of theirs we have seen (for hello.lastLink). */
  private readonly lastLinkSeen = new Map<string, number>();
  private linkCounter = 0;
  private crashed = false;

  constructor(
    transports: readonly SignalingTransport[],
    topic: string,
    private readonly options: ResolvedMeshOptions,
    private readonly peerDetails: ((peerId: string) => object) | undefined,
    private readonly linkSettings: PeerLinkSettings,
  ) {
    this.timers = new TimerSet(options.clock);
    const live = () => !this.hub.isClosed && !this.crashed;
    this.signaling = new SignalingSet(transports, topic, options.peerId, { ...options, timers: this.timers }, {
      peerJoined: (peerId) => live() && this.onPeerJoined(peerId),
      peerLeft: (peerId) => live() && this.onPeerLeft(peerId),
      signal: (from, signal) => live() && this.onSignal(from, signal),
      error: (error) => this.hub.reportError(error),
    });
    const handler = this.hub.toHandler(
      (peer, payload) => this.sendTo(peer, payload),
      () => this.teardown(),
    );
    this.handler = Object.assign(handler, {
      peerId: options.peerId,
      topic,
      [simulateCrash]: () => this.crash(),
    });
  }

  private get selfId(): string {
    return this.options.peerId;
  }

  async start(): Promise<void> {
    const error = await this.signaling.start();
    if (error && !isRetryable(error)) {
      await this.handler.close();
      throw error;
    }
  }

  private sendSignal(to: string, signal: MeshSignal): void {
    this.signaling.send(to, signal);
  }

  // ---- who connects to whom -----------------------------------------------------------

  /** One side of each pair initiates, fixed by id order, so two offers never cross (no glare). */
  private initiates(remoteId: string): boolean {
    return this.selfId < remoteId;
  }

  private onPeerJoined(remoteId: string): void {
    this.present.add(remoteId);
    this.reachOut(remoteId);
  }

  private onPeerLeft(remoteId: string): void {
    this.present.delete(remoteId);
    this.pendingRetries.get(remoteId)?.();
    this.pendingRetries.delete(remoteId);
    // An open link outlives the signaling channel; only a half-made one is abandoned.
    const link = this.links.get(remoteId);
    if (link?.state === 'connecting') link.close();
  }

  private reachOut(remoteId: string): void {
    if (this.links.has(remoteId) || this.pendingRetries.has(remoteId)) return;
    if (this.initiates(remoteId)) {
      this.openLink(remoteId, ++this.linkCounter, true);
    } else {
      this.sendSignal(remoteId, { v: 1, type: 'hello', session: this.session, lastLink: this.lastLinkSeen.get(remoteId) });
      // A lost hello (lossy transports, a reconnecting initiator) must not strand the pair.
      this.retryLater(remoteId, this.options.connectTimeoutMs);
    }
  }

  private retryLater(remoteId: string, delay: number): void {
    this.pendingRetries.get(remoteId)?.();
    const cancel = this.timers.after(delay, () => {
      this.pendingRetries.delete(remoteId);
      if (this.present.has(remoteId) && !this.links.has(remoteId)) this.reachOut(remoteId);
    });
    this.pendingRetries.set(remoteId, cancel);
  }

  private onSignal(from: string, raw: unknown): void {
    const signal = parseMeshSignal(raw, from);
    if (signal instanceof P2PError) return this.hub.reportError(signal);
    this.present.add(from);
    if (signal.type === 'hello') this.onHello(from, signal);
    else this.onRtcSignal(from, signal);
  }

  private onHello(from: string, hello: HelloSignal): void {
    if (!this.initiates(from)) return;
    const link = this.links.get(from);
    const restarted = link?.remoteSession !== undefined && link.remoteSession !== hello.session;
    const lostByRemote = link !== undefined && hello.lastLink === link.linkNumber;
    if (link && !restarted && !lostByRemote) {
      link.remoteSession ??= hello.session;
      return;
    }
    link?.close();
    this.pendingRetries.get(from)?.();
    this.pendingRetries.delete(from);
    this.openLink(from, ++this.linkCounter, true).remoteSession = hello.session;
  }

  private onRtcSignal(from: string, signal: RtcSignal): void {
    if (signal.target !== undefined && signal.target !== this.session) return;
    let link = this.links.get(from);
    if (this.initiates(from)) {
      if (!link || link.linkNumber !== signal.link) return;
      if (link.remoteSession !== undefined && link.remoteSession !== signal.session) return;
      link.remoteSession = signal.session;
    } else if (!link || link.remoteSession !== signal.session || link.linkNumber !== signal.link) {
      if (link && link.remoteSession === signal.session && signal.link < link.linkNumber) return;
      link?.close();
      this.pendingRetries.get(from)?.();
      this.pendingRetries.delete(from);
      link = this.openLink(from, signal.link, false);
      link.remoteSession = signal.session;
      this.lastLinkSeen.set(from, signal.link);
    }
    // Redundant transports deliver the same signal more than once; feed each one once.
    if (link.seenSignals.has(signal.seq)) return;
    link.seenSignals.add(signal.seq);
    link.signal(signal.data);
  }

  private openLink(remoteId: string, linkNumber: number, initiator: boolean): PeerLink {
    const link = new PeerLink(remoteId, linkNumber, initiator, this.linkSettings, this);
    this.links.set(remoteId, link);
    return link;
  }

  // ---- link events (PeerLinkEvents) ---------------------------------------------------

  signal(link: PeerLink, data: RtcSignalData): void {
    if (this.links.get(link.remoteId) !== link) return;
    this.sendSignal(link.remoteId, {
      v: 1,
      type: 'rtc',
      session: this.session,
      target: link.remoteSession,
      link: link.linkNumber,
      seq: link.nextSignalSeq++,
      data,
    });
  }

  open(link: PeerLink): void {
    if (this.links.get(link.remoteId) !== link || this.hub.isClosed) return link.close();
    this.failures.delete(link.remoteId);
    link.peer = createPeer(link.remoteId, this.peerDetails?.(link.remoteId));
    this.hub.addPeer(link.peer);
  }

  message(link: PeerLink, payload: unknown): void {
    if (link.peer) this.hub.deliver(link.peer, payload);
  }

  closed(link: PeerLink, error: P2PError | undefined): void {
    if (link.peer) this.hub.removePeer(link.peer);
    if (error) this.hub.reportError(error);
    if (this.links.get(link.remoteId) !== link) return;
    this.links.delete(link.remoteId);
    if (this.hub.isClosed || !this.present.has(link.remoteId)) return;
    const failures = (this.failures.get(link.remoteId) ?? 0) + 1;
    this.failures.set(link.remoteId, failures);
    this.retryLater(
      link.remoteId,
      backoffDelay(failures - 1, this.options.reconnectMinDelayMs, this.options.reconnectMaxDelayMs),
    );
  }

  // ---- contract ----------------------------------------------------------------------

  private async sendTo(peer: P2PPeer, payload: P2PMessage | P2PResponse): Promise<void> {
    const link = this.links.get(peer.id);
    if (!link || link.peer !== peer || link.state !== 'open') {
      throw new P2PError(P2PErrorCode.PEER_NOT_CONNECTED, `peer ${peer.id} is not connected`, { peerId: peer.id });
    }
    await link.send(encodeMessage(payload, this.options.maxMessageBytes));
  }

  private async teardown(): Promise<void> {
    this.timers.dispose();
    const left = this.signaling.leave();
    for (const link of [...this.links.values()]) link.close();
    this.links.clear();
    await left;
  }

  private async crash(): Promise<void> {
    this.crashed = true;
    this.timers.dispose();
    for (const link of this.links.values()) link.freeze();
    await this.signaling.leave();
  }
}
