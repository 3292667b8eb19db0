/**
 * `p2p-handlers/rxdb`: the seed document's `replicateP2P` API on RxDB 17's `replicateWebRTC`.
 * The only entry that imports rxdb (an optional peer dependency).
 */
import {
  replicateWebRTC,
  type RxWebRTCReplicationPool,
  type SyncOptionsWebRTC,
  type WebRTCConnectionHandlerCreator,
} from 'rxdb/plugins/replication-webrtc';
import type { RxConflictHandler, WithDeleted } from 'rxdb';
import { contentKey } from './replication/versions.js';
import { P2PError, P2PErrorCode } from './errors.js';
import type { P2PConnectionHandlerCreator, P2PPeer } from './types.js';

export type ReplicateP2POptions<RxDocType> = Omit<SyncOptionsWebRTC<RxDocType, P2PPeer>, 'connectionHandlerCreator'> & {
  /** Any p2p-handlers creator (or another RxDB 17 creator). Required. */
  connectionHandlerCreator: P2PConnectionHandlerCreator;
  /** P2P replication is always live: peers may join at any time. Only `true` (the default) is accepted. */
  live?: true;
};

export type P2PReplicationPool<RxDocType> = RxWebRTCReplicationPool<RxDocType, P2PPeer>;

/**
 * Replicates `collection` with every peer on `topic` and returns the replication pool
 * (`error$`, `cancel()`, `peerStates$`, `connectedPeers`, `awaitFirstPeer()`). Give each app
 * instance one creator and pass it to every collection: they then share one signaling
 * connection and one WebRTC link per remote peer.
 */
export async function replicateP2P<RxDocType>(options: ReplicateP2POptions<RxDocType>): Promise<P2PReplicationPool<RxDocType>> {
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object');
  const { live, connectionHandlerCreator, collection, topic } = options as ReplicateP2POptions<RxDocType> & { live?: unknown };
  if (live !== undefined && live !== true) throw invalid('P2P replication is always live; `live: false` is not supported');
  if (typeof connectionHandlerCreator !== 'function') throw invalid('`connectionHandlerCreator` must be a creator function');
  if (!collection || typeof (collection as { insert?: unknown }).insert !== 'function') throw invalid('`collection` must be an RxCollection');
  if (typeof topic !== 'string' || topic.length === 0) throw invalid('`topic` must be a non-empty string');
  const { live: _live, ...rest } = options;
  // Our creators add the replication guard themselves (they get the collection from RxDB).
  return replicateWebRTC<RxDocType, P2PPeer>({
    ...rest,
    connectionHandlerCreator: connectionHandlerCreator as unknown as WebRTCConnectionHandlerCreator<P2PPeer>,
  });
}

/**
 * A conflict handler that keeps the later edit: the state with the larger `field` (a number the
 * app raises on every write, e.g. a per-device monotonic timestamp) wins, ties going to the
 * larger canonical JSON, so every peer settles concurrent writes the same way whichever side
 * asks. Single-writer documents need no handler in a mesh (docs/replication.md); this one
 * decides what RxDB's default leaves to content order.
 */
export function lastWriteWinsConflictHandler<RxDocType>(field: keyof RxDocType & string): RxConflictHandler<RxDocType> {
  if (typeof field !== 'string' || field.length === 0) throw invalid('`field` must name a numeric field of the documents');
  const stamp = (doc: WithDeleted<RxDocType>) => {
    const value = (doc as Record<string, unknown>)[field];
    return typeof value === 'number' && Number.isFinite(value) ? value : -Infinity;
  };
  return {
    isEqual: (a, b) => stamp(a) === stamp(b) && contentKey(a) === contentKey(b),
    resolve: async ({ newDocumentState: fork, realMasterState: master }) => {
      const order = stamp(fork) - stamp(master);
      if (order !== 0) return order > 0 ? fork : master;
      return contentKey(fork) > contentKey(master) ? fork : master;
    },
  };
}

function invalid(message: string): P2PError {
  return new P2PError(P2PErrorCode.INVALID_OPTION, message);
}
