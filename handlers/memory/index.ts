/**
 * `p2p-handlers/memory`: an in-process connection handler with the exact contract of the
 * WebRTC ones, for unit tests of apps that replicate with RxDB. No WebRTC, no sockets.
 *
 *   const network = createMemoryNetwork();
 *   replicateWebRTC({ topic, connectionHandlerCreator: getConnectionHandlerMemory({ network }), ... });
 */
import { P2PError, P2PErrorCode } from '../../src/errors.js';
import type { P2PConnectionHandlerCreator, P2PConnectionHandlerOptions } from '../../src/types.js';
import { replicationGuardFor } from '../../src/replication/attach.js';
import { MemoryNetworkImpl, type MemoryNetwork } from './network.js';
import { randomPeerId, resolveHandlerOptions, type MemoryHandlerOptions, type MemoryNetworkOptions } from './options.js';

export type { MemoryNetwork } from './network.js';
export type { MemoryHandlerOptions, MemoryNetworkOptions } from './options.js';
export { MEMORY_HANDLER_DEFAULTS, MEMORY_NETWORK_DEFAULTS } from './options.js';

/** A fresh, empty network. Handlers only meet handlers of the same network and topic. */
export function createMemoryNetwork(options?: MemoryNetworkOptions): MemoryNetwork {
  return new MemoryNetworkImpl(options);
}

const isNetwork = (value: unknown): value is MemoryNetwork => value instanceof MemoryNetworkImpl;

/**
 * An RxDB-17-shaped creator: each call joins `topic` on the network and resolves to a
 * handler. Options are checked here, so a typo fails at startup (ERR_INVALID_OPTION).
 */
export function getConnectionHandlerMemory(options: MemoryHandlerOptions): P2PConnectionHandlerCreator {
  const resolved = resolveHandlerOptions(options, isNetwork);
  const network = resolved.network as MemoryNetworkImpl;
  // RxDB passes its whole replication options object: read the topic, keep nothing else.
  return async (creatorOptions: P2PConnectionHandlerOptions) => {
    const topic: unknown = creatorOptions?.topic;
    if (typeof topic !== 'string' || topic.length === 0) {
      throw new P2PError(P2PErrorCode.INVALID_OPTION, `topic must be a non-empty string, got ${String(topic)}`);
    }
    const guard = await replicationGuardFor(creatorOptions);
    return guard(network.join({
      topic,
      peerId: resolved.peerId ?? randomPeerId(),
      maxPayloadBytes: resolved.maxPayloadBytes,
    }));
  };
}
