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
export { createWebRTCMeshHandler, simulateCrash } from './mesh/mesh.js';
export type { CreateWebRTCMeshHandlerOptions, WebRTCMeshHandler } from './mesh/mesh.js';
export type { PeerDetails, SignalingEvents, SignalingTransport } from './mesh/signaling.js';
export { MESH_DEFAULTS, randomId } from './mesh/options.js';
export type { WebRTCMeshOptions } from './mesh/options.js';
export type { WebRTCImplementation } from './mesh/wrtc.js';
export type { Clock } from './mesh/timers.js';
export { RoomCipher, sha256Hex, ROOM_KEY_ITERATIONS } from './room-crypto.js';
export { createMeshHandlerCreator, getConnectionHandlerMulti, meshCreatorParts } from './mesh/mesh-creator.js';
export type { MeshCreatorParts, MeshHandlerCreator } from './mesh/mesh-creator.js';
