/** The conformance suite against the socket.io handler over real WebRTC, plus its own behaviour. */
import { runConformanceSuite } from '../src/conformance/index.js';
import { socketIoTarget } from './fixtures/socket-io-target.js';

runConformanceSuite(socketIoTarget());
