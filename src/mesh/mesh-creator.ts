import type { P2PConnectionHandlerOptions } from '../types.js';
import { createWebRTCMeshHandler, type WebRTCMeshHandler } from './mesh.js';
import { invalidOption, type WebRTCMeshOptions } from './options.js';
import type { SignalingTransport } from './signaling.js';

/** Where a mesh creator keeps what `getConnectionHandlerMulti` needs to merge it with others. */
export const meshCreatorParts: unique symbol = Symbol.for('p2p-handlers.meshCreatorParts');

export interface MeshCreatorParts {
  /** The shared mesh options the creator was made with. */
  readonly options: WebRTCMeshOptions;
  /** New signaling transport(s) for one handler on `topic`. */
  signaling(topic: string): SignalingTransport | readonly SignalingTransport[];
  /** Extra fields for peer objects (e.g. a verified public key), if the transport has any. */
  peerDetails?: (peerId: string) => object;
}

/** An RxDB 17 creator whose handlers are WebRTC meshes, and which can be combined with others. */
export type MeshHandlerCreator = ((options: P2PConnectionHandlerOptions) => Promise<WebRTCMeshHandler>) & {
  readonly [meshCreatorParts]: MeshCreatorParts;
};

/** Builds a transport's creator: each call joins `topic` through fresh transports. */
export function createMeshHandlerCreator(parts: MeshCreatorParts): MeshHandlerCreator {
  const creator = ({ topic }: P2PConnectionHandlerOptions) =>
    createWebRTCMeshHandler({ ...parts.options, topic, signaling: parts.signaling(topic), peerDetails: parts.peerDetails });
  return Object.assign(creator, { [meshCreatorParts]: parts });
}

/**
 * One mesh signaled over several transports at once, e.g. our socket.io server plus an MQTT
 * broker plus Nostr relays: a peer reachable through any of them gets exactly one WebRTC link,
 * a transport going down changes nothing for existing links, and newcomers still join through
 * the others. Mesh options (WebRTC, ICE, timeouts, peerId) come from the first creator, then
 * `overrides`; each transport keeps its own connection options.
 */
export function getConnectionHandlerMulti(creators: readonly MeshHandlerCreator[], overrides: WebRTCMeshOptions = {}): MeshHandlerCreator {
  if (!Array.isArray(creators) || creators.length === 0) throw invalidOption('getConnectionHandlerMulti takes a non-empty array of creators');
  const parts = creators.map((creator, index) => {
    const found = (creator as Partial<MeshHandlerCreator> | undefined)?.[meshCreatorParts];
    if (!found) throw invalidOption(`creator ${index} is not a p2p-handlers WebRTC creator (getConnectionHandlerSocketIo, …Mqtt, …Nostr, …PeerJS)`);
    return found;
  });
  const withDetails = parts.filter((part) => part.peerDetails);
  if (withDetails.length > 1) throw invalidOption('only one of the combined transports may define peer identities');
  return createMeshHandlerCreator({
    options: { ...parts[0]!.options, ...overrides },
    signaling: (topic) => parts.flatMap((part) => part.signaling(topic)),
    peerDetails: withDetails[0]?.peerDetails,
  });
}
