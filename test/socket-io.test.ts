/**
 * The conformance suite against the socket.io handler over real WebRTC: on our hardened
 * server, and on the seed document's example server unchanged.
 */
import { runConformanceSuite } from '../src/conformance/index.js';
import { socketIoTarget } from './fixtures/socket-io-target.js';
import { startSeedSignalingServer } from './fixtures/seed-server.js';

runConformanceSuite(socketIoTarget());
runConformanceSuite(socketIoTarget("socket.io on the seed's example server", startSeedSignalingServer));
