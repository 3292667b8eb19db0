/** The conformance suite against the y-webrtc handler, on y-webrtc's own signaling server, over real WebRTC. */
import { runConformanceSuite } from '../src/conformance/index.js';
import { yWebrtcTarget } from './fixtures/y-webrtc-target.js';

runConformanceSuite(yWebrtcTarget);
