import { P2PError, P2PErrorCode } from '../errors.js';
import { replicationGuardFor } from '../replication/attach.js';
import type { P2PConnectionHandlerOptions } from '../types.js';
import { checkTransports, createMeshNetwork, type WebRTCMeshHandler } from './mesh.js';
import type { MeshNetwork } from './network.js';
import { systemClock } from './timers.js';
import { invalidOption, resolveMeshOptions, type WebRTCMeshOptions } from './options.js';
import type { PeerDetails, SignalingTransport } from './signaling.js';

/** Where a mesh creator keeps what `getConnectionHandlerMulti` needs to merge it with others. */
export const meshCreatorParts: unique symbol = Symbol.for('p2p-handlers.meshCreatorParts');

export interface MeshCreatorParts {
  /** The shared mesh options the creator was made with. */
  readonly options: WebRTCMeshOptions;
  /** New signaling transport(s) for one handler on `topic`. */
  signaling(topic: string): SignalingTransport | readonly SignalingTransport[];
  /** Extra fields for peer objects (e.g. a verified public key), if the transport has any. */
  peerDetails?: PeerDetails;
}

/** An RxDB 17 creator whose handlers are WebRTC meshes, and which can be combined with others. */
export type MeshHandlerCreator = ((options: P2PConnectionHandlerOptions) => Promise<WebRTCMeshHandler>) & {
  readonly [meshCreatorParts]: MeshCreatorParts;
};

/**
 * Builds a transport's creator. Its handlers (one per RxDB collection) share one peer: one
 * WebRTC link per remote peer, each topic on its own channel (RxDB alone opens a mesh per
 * collection, issue #5925). A call for a topic that peer already holds starts another peer with
 * the same options and a new random id, as RxDB's creators do for every call: one creator may
 * serve several databases on one topic. A peer ends when its last handler closes.
 */
export function createMeshHandlerCreator(parts: MeshCreatorParts): MeshHandlerCreator {
  // Validated now, so a wrong option fails where the creator is made, not at the first topic.
  resolveMeshOptions(parts.options, parts.options.clock ?? systemClock);
  let networks: MeshNetwork[] = [];
  const networkFor = async (topic: string): Promise<MeshNetwork> => {
    // Dropped here, so a long-lived creator holds only the peers still open.
    networks = networks.filter((network) => network.isOpen);
    const free = networks.find((network) => !network.hasTopic(topic));
    if (free) return free;
    const pinned = parts.options.peerId;
    if (networks.length > 0 && pinned !== undefined) throw idTaken(topic, pinned);
    const network = await createMeshNetwork(parts.options, parts.peerDetails);
    networks.push(network);
    return network;
  };
  // One call picks at a time: collections opened at once must find the peer the first one made.
  let picking: Promise<unknown> = Promise.resolve();
  const creator = async (options: P2PConnectionHandlerOptions): Promise<WebRTCMeshHandler> => {
    const { topic } = options;
    // Prepared before the join, so the handler reaches RxDB before any peer event does.
    const guard = await replicationGuardFor(options);
    const transports = checkTransports(parts.signaling(topic), topic);
    // openTopic claims the topic before it returns; the next call need not wait for the join.
    const picked = picking.then(async () => ({ handler: (await networkFor(topic)).openTopic(topic, transports) }));
    picking = picked.catch(() => undefined);
    return guard(await (await picked).handler);
  };
  return Object.assign(creator, { [meshCreatorParts]: parts });
}

function idTaken(topic: string, peerId: string): P2PError {
  return new P2PError(
    P2PErrorCode.ID_TAKEN,
    `topic ${topic} is already open on this creator's peer ${peerId}; its options fix that id (\`peerId\`, or a Nostr key), ` +
      'so it cannot be a second peer there: give each app instance (each database) its own creator and peerId',
  );
}

/**
 * One mesh signaled over several transports at once, e.g. our socket.io server plus an MQTT
 * broker plus Nostr relays: a peer reachable through any of them gets exactly one WebRTC link,
 * a transport going down changes nothing for existing links, and newcomers still join through
 * the others. Mesh options (WebRTC, ICE, timeouts) come from the first creator, then
 * `overrides`; the peer id from whichever creator sets one (they must agree); each transport
 * keeps its own connection options. Peer details (a verified key or identity) come only from
 * the transports whose signals made the link: an id claimed on one transport never shows what
 * another verified for that id.
 */
export function getConnectionHandlerMulti(creators: readonly MeshHandlerCreator[], overrides: WebRTCMeshOptions = {}): MeshHandlerCreator {
  if (!Array.isArray(creators) || creators.length === 0) throw invalidOption('getConnectionHandlerMulti takes a non-empty array of creators');
  const parts = creators.map((creator, index) => {
    const found = (creator as Partial<MeshHandlerCreator> | undefined)?.[meshCreatorParts];
    if (!found) throw invalidOption(`creator ${index} is not a p2p-handlers WebRTC creator (getConnectionHandlerSocketIo, …Mqtt, …Nostr, …PeerJS)`);
    return found;
  });
  // A transport may pin the id (Nostr: its public key); every transport must then use that one.
  const pinned = [...new Set(parts.map((part) => part.options.peerId).filter((id) => id !== undefined))];
  if (pinned.length > 1 && overrides.peerId === undefined) {
    throw invalidOption(`the combined creators give different peer ids (${pinned.join(', ')}); give them one peerId`);
  }
  const peerId = overrides.peerId ?? pinned[0];
  // Which creator made each transport: a detail counts only for links its own transports signaled.
  const madeBy = new WeakMap<SignalingTransport, MeshCreatorParts>();
  const detailed = parts.filter((part) => part.peerDetails);
  return createMeshHandlerCreator({
    options: { ...parts[0]!.options, ...overrides, ...(peerId === undefined ? {} : { peerId }) },
    signaling: (topic) =>
      parts.flatMap((part) => {
        const made = ([] as SignalingTransport[]).concat(part.signaling(topic));
        for (const transport of made) madeBy.set(transport, part);
        return made;
      }),
    // What each transport verified about a peer (a Nostr key, a server-checked identity).
    peerDetails: detailed.length
      ? (peerId, via) => {
          const vouching = detailed.filter((part) => [...via].some((transport) => madeBy.get(transport) === part));
          return Object.assign({}, ...vouching.map((part) => part.peerDetails!(peerId, via)));
        }
      : undefined,
  });
}
