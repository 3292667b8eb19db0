import { P2PError, P2PErrorCode } from '../errors.js';
import { ReassemblyBudget } from './framing.js';
import { MeshNetwork } from './network.js';
import { resolveMeshOptions, assertId, type WebRTCMeshOptions } from './options.js';
import type { PeerDetails, SignalingTransport } from './signaling.js';
import { systemClock } from './timers.js';
import type { WebRTCMeshHandler } from './topic.js';
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
  peerDetails?: PeerDetails;
}

export { simulateCrash, type WebRTCMeshHandler } from './topic.js';

/**
 * A topic's full mesh of WebRTC links over any SignalingTransport(s): one handler with its
 * own links (use `createMeshHandlerCreator` to share links across topics). Resolves once the
 * room is joined; a transient signaling failure at start resolves anyway and keeps retrying
 * (the error goes to error$), a final one (unauthorized, invalid, id taken) rejects.
 */
export async function createWebRTCMeshHandler(options: CreateWebRTCMeshHandlerOptions): Promise<WebRTCMeshHandler> {
  const { signaling, topic, peerDetails, ...meshOptions } = options;
  const transports = checkTransports(signaling, topic);
  const network = await createMeshNetwork(meshOptions, peerDetails);
  return network.openTopic(topic, transports);
}

/** Validates the shared options and loads the WebRTC implementation; throws ERR_INVALID_OPTION. */
export async function createMeshNetwork(meshOptions: WebRTCMeshOptions, peerDetails?: PeerDetails): Promise<MeshNetwork> {
  if (peerDetails !== undefined && typeof peerDetails !== 'function') {
    throw new P2PError(P2PErrorCode.INVALID_OPTION, '`peerDetails` must be a function');
  }
  const resolved = resolveMeshOptions(meshOptions, meshOptions.clock ?? systemClock);
  const wrtc = await resolveWebRTC(resolved.wrtc);
  return new MeshNetwork(
    resolved,
    {
      wrtc,
      config: resolved.config,
      clock: resolved.clock,
      connectTimeoutMs: resolved.connectTimeoutMs,
      heartbeatIntervalMs: resolved.heartbeatIntervalMs,
      peerTimeoutMs: resolved.peerTimeoutMs,
      maxMessageBytes: resolved.maxMessageBytes,
      reassembly: new ReassemblyBudget(resolved.maxReassemblyBytes),
      iceGatheringWaitMs: resolved.iceGatheringWaitMs,
    },
    peerDetails,
  );
}

/** One or more transports, each with join, send and leave; and a valid topic. */
export function checkTransports(
  signaling: SignalingTransport | readonly SignalingTransport[],
  topic: string,
): readonly SignalingTransport[] {
  assertId(topic, 'topic', 512);
  const transports: readonly SignalingTransport[] = Array.isArray(signaling) ? signaling : [signaling as SignalingTransport];
  const isTransport = (t: SignalingTransport | undefined) =>
    !!t && typeof t.join === 'function' && typeof t.send === 'function' && typeof t.leave === 'function';
  if (transports.length === 0 || !transports.every(isTransport)) {
    throw new P2PError(P2PErrorCode.INVALID_OPTION, '`signaling` must be one or more transports implementing join, send and leave');
  }
  return transports;
}
