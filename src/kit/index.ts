/**
 * `p2p-handlers/kit`: what the built-in transports are made of, for writing your own. A
 * transport only signals (join a room, learn who is there, send a signal to one peer, leave);
 * `createMeshHandlerCreator` turns it into an RxDB connection handler creator with the mesh
 * core's WebRTC links, reconnects, chunking, heartbeats and close semantics.
 *
 *   class MySignaling extends SessionTransport { protected openSession(room, peerId, events) { … } }
 *   export const getConnectionHandlerMine = (options) =>
 *     createMeshHandlerCreator({ options, signaling: (topic) => [new MySignaling(…)] });
 */
export { createMeshHandlerCreator, type MeshCreatorParts, type MeshHandlerCreator } from '../mesh/mesh-creator.js';
export type { PeerDetails, SignalingEvents, SignalingTransport } from '../mesh/signaling.js';
export type { WebRTCImplementation } from '../mesh/wrtc.js';
export { MESH_DEFAULTS, assertId, invalidOption, randomId, type WebRTCMeshOptions } from '../mesh/options.js';
export { TimerSet, backoffDelay, systemClock, type Clock } from '../mesh/timers.js';
export { P2PError, P2PErrorCode, isP2PError, redactUrl, toP2PError, withPeerId } from '../errors.js';
export { loadOptional } from '../optional.js';
export { ROOM_KEY_ITERATIONS, RoomCipher, sha256Hex } from '../room-crypto.js';
export { SealedRoom, SealedSignals, isPeerId, sealedRooms, type OpenedSignal } from '../room-seal.js';
export { SessionTransport, type SignalingSession } from './session-transport.js';
export { SerialQueue } from './serial-queue.js';
export { PresenceRoster, ANNOUNCE_REPEATS_MS } from './presence.js';
export { BroadcastRoomSession } from './broadcast-room.js';
export { BoundedMap } from './bounded-map.js';
export { serverUrls } from './server-urls.js';
export { readJsonFrame } from './json-frame.js';
export { WEBSOCKET_OPEN, resolveWebSocket, type WebSocketConstructor, type WebSocketLike } from './websocket.js';
