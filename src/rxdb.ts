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
import { writeDocToDocState, type RxCollection, type RxConflictHandler, type RxReplicationWriteToMasterRow, type WithDeleted } from 'rxdb';
import { P2PError, P2PErrorCode } from './errors.js';
import type { P2PConnectionHandler, P2PConnectionHandlerCreator, P2PMessage, P2PPeer, P2PResponse } from './types.js';

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
  // A push modifier changes what is pushed, so pushes can no longer be compared with the fork.
  const guard = options.push?.modifier === undefined;
  const creator: P2PConnectionHandlerCreator = async (handlerOptions) => {
    const handler = await connectionHandlerCreator(handlerOptions);
    return guard ? withFreshPushes(handler, collection as RxCollection<RxDocType>) : handler;
  };
  return replicateWebRTC<RxDocType, P2PPeer>({
    ...rest,
    connectionHandlerCreator: creator as unknown as WebRTCConnectionHandlerCreator<P2PPeer>,
  });
}

/**
 * RxDB's upstream builds a push from the fork state it read when the change was queued and the
 * master state it assumes when the push is built; in between, the downstream may have written
 * a newer master state to both. The push then reads as a clean update of that newer state, and
 * the master takes the older document without asking any conflict handler. In a mesh, where a
 * document reaches a peer by several paths at once, this happens (test/rxdb-churn.test.ts: an
 * author's own newer write lost on every peer in 2 of 7 60-s runs). So each outgoing
 * `masterWrite` row whose document is no longer the fork's current state is sent without its
 * assumed master state: the master answers with a conflict and its real state, and RxDB's own
 * conflict path resolves it against the fork's current state.
 */
function withFreshPushes<RxDocType>(handler: P2PConnectionHandler, collection: RxCollection<RxDocType>): P2PConnectionHandler {
  const primaryPath = collection.schema.primaryPath as string;
  const withAttachments = !!collection.schema.jsonSchema.attachments;
  const send = async (peer: P2PPeer, payload: P2PMessage | P2PResponse): Promise<void> => {
    const rows = (payload as Partial<P2PMessage>).method === 'masterWrite' ? (payload as P2PMessage).params[0] : undefined;
    if (!Array.isArray(rows)) return handler.send(peer, payload);
    const typed = rows as RxReplicationWriteToMasterRow<RxDocType>[];
    const ids = typed.filter((row) => row.assumedMasterState).map((row) => (row.newDocumentState as Record<string, string>)[primaryPath]!);
    if (ids.length === 0) return handler.send(peer, payload);
    const stored = await collection.storageInstance.findDocumentsById(ids, true);
    const current = new Map(stored.map((doc) => [(doc as Record<string, unknown>)[primaryPath], writeDocToDocState(doc, withAttachments, false)]));
    const fresh = typed.map((row) => {
      const now = current.get((row.newDocumentState as Record<string, unknown>)[primaryPath]);
      if (!row.assumedMasterState || (now && collection.conflictHandler.isEqual(now, row.newDocumentState, 'p2p-fresh-push'))) return row;
      const { assumedMasterState: _stale, ...rest } = row;
      return rest;
    });
    return handler.send(peer, { ...(payload as P2PMessage), params: [fresh, ...(payload as P2PMessage).params.slice(1)] });
  };
  return new Proxy(handler, {
    get: (target, key) => {
      if (key === 'send') return send;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * A conflict handler for collections replicated by more than two peers: the state with the
 * larger `field` (a number the app raises on every write, e.g. a per-device monotonic
 * timestamp) wins wherever the two meet, ties going to the larger canonical JSON, so every
 * peer ends on the same, newest value. RxDB's default handler keeps the master's state
 * instead; in a mesh a document reaches a peer by several paths, so an older copy relayed by
 * a third peer can then overwrite the author's own newer write, everywhere, for good (seen in
 * test/rxdb-churn.test.ts: 9 of ~600 documents stale after 30 s of churn).
 */
export function lastWriteWinsConflictHandler<RxDocType>(field: keyof RxDocType & string): RxConflictHandler<RxDocType> {
  if (typeof field !== 'string' || field.length === 0) throw invalid('`field` must name a numeric field of the documents');
  const stamp = (doc: WithDeleted<RxDocType>) => {
    const value = (doc as Record<string, unknown>)[field];
    return typeof value === 'number' && Number.isFinite(value) ? value : -Infinity;
  };
  return {
    isEqual: (a, b) => stamp(a) === stamp(b) && canonical(a) === canonical(b),
    resolve: async ({ newDocumentState: fork, realMasterState: master }) => {
      const order = stamp(fork) - stamp(master);
      if (order !== 0) return order > 0 ? fork : master;
      return canonical(fork) > canonical(master) ? fork : master;
    },
  };
}

/** JSON with sorted keys and without RxDB's bookkeeping, so equal documents compare equal on every peer. */
function canonical(value: unknown, top = true): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonical(item, false)).join(',')}]`;
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null';
  const keys = Object.keys(value)
    .filter((key) => !(top && (key === '_meta' || key === '_rev' || key === '_attachments')))
    .sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key], false)}`).join(',')}}`;
}

function invalid(message: string): P2PError {
  return new P2PError(P2PErrorCode.INVALID_OPTION, message);
}
