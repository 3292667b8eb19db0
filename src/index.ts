export type {
  P2PConnectionHandler,
  P2PConnectionHandlerCreator,
  P2PConnectionHandlerOptions,
  P2PMessage,
  P2PPeer,
  P2PResponse,
  PeerWithMessage,
  PeerWithResponse,
} from './types.js';
export { P2PError, P2PErrorCode, isP2PError, toP2PError, withPeerId } from './errors.js';
export type { P2PErrorDetails } from './errors.js';
export { ConnectionHub, createPeer } from './hub.js';
