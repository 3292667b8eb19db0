import type { P2PError } from '../errors.js';
import { ConnectionHub } from '../hub.js';
import type { P2PConnectionHandler, P2PPeer } from '../types.js';
import type { MeshNetwork } from './network.js';
import type { SignalingTransport } from './signaling.js';
import { SignalingSet, isRetryable } from './signaling-set.js';

/** Errors held while the join is under way; a join that hears more reports the first ones. */
const MAX_HELD_ERRORS = 64;

/** Makes a mesh handler stop like a crashed process (used by the conformance suite). */
export const simulateCrash: unique symbol = Symbol.for('p2p-handlers.simulateCrash');

export type WebRTCMeshHandler = P2PConnectionHandler & {
  /** This handler's peer id in the room. */
  readonly peerId: string;
  /** The room this handler joined. */
  readonly topic: string;
  /**
   * Milliseconds a message takes to `peer` and back on the link's ICE candidate pair in use
   * (what WebRTC's own statistics measure); undefined for a peer that is not live here or
   * while the connection reports none.
   */
  roundTripTime(peer: P2PPeer): Promise<number | undefined>;
  /** Stops the whole peer (every topic of its creator) as a crashed process would. */
  [simulateCrash](): Promise<void>;
};

/**
 * One topic of a MeshNetwork as RxDB sees it: its own signaling room, its own streams and
 * peer objects, while the WebRTC links underneath are shared with the creator's other topics.
 */
export class TopicHandle {
  readonly hub = new ConnectionHub<P2PPeer>();
  readonly signaling: SignalingSet;
  readonly handler: WebRTCMeshHandler;
  /** Set once the caller holds the handler: only then does the topic get peers (see MeshNetwork). */
  delivered = false;
  /** Errors reported before the caller holds the handler (error$ is hot): told once it does. */
  private heldErrors: P2PError[] | undefined = [];

  constructor(
    private readonly network: MeshNetwork,
    readonly topic: string,
    readonly channel: number,
    transports: readonly SignalingTransport[],
  ) {
    const live = () => !this.hub.isClosed;
    this.signaling = new SignalingSet(transports, topic, network.peerId, network.options, {
      peerJoined: (peerId, sharedRoster) => live() && network.onTopicPeerJoined(topic, peerId, sharedRoster),
      peerLeft: (peerId) => live() && network.onTopicPeerLeft(topic, peerId),
      signal: (from, signal, via) => live() && network.onTopicSignal(topic, from, signal, via),
      error: (error) => this.reportError(error),
    });
    const handler = this.hub.toHandler(
      (peer, payload) => network.sendOnTopic(this, peer, payload),
      () => this.teardown(),
    );
    this.handler = Object.assign(handler, {
      peerId: network.peerId,
      topic,
      roundTripTime: async (peer: P2PPeer) => (this.hub.isLive(peer) ? network.roundTripTime(peer.id) : undefined),
      [simulateCrash]: () => network.crash(),
    });
  }

  /** Joins the room; a final refusal (unauthorized, invalid…) closes the handler and rejects. */
  async start(): Promise<void> {
    const error = await this.signaling.start();
    if (error && !isRetryable(error)) {
      await this.handler.close();
      throw error;
    }
  }

  reportError(error: P2PError): void {
    if (!this.heldErrors) return this.hub.reportError(error);
    if (this.heldErrors.length < MAX_HELD_ERRORS) this.heldErrors.push(error);
  }

  /** The caller holds the handler now: peers may join the topic, and held errors are told. */
  markDelivered(): void {
    this.delivered = true;
    const held = this.heldErrors ?? [];
    this.heldErrors = undefined;
    for (const error of held) this.hub.reportError(error);
  }

  stopSignaling(): Promise<void> {
    return this.signaling.leave();
  }

  private async teardown(): Promise<void> {
    await Promise.all([this.network.closeTopic(this), this.signaling.leave()]);
  }
}
