/**
 * The conformance suite against the PeerJS handler over real WebRTC, on a local PeerServer
 * without discovery (like the PeerJS cloud: rooms are found through slots) and with it. One
 * server per suite, started before the suite takes its resource baseline (each case has its
 * own topics, so rooms stay apart); each is closed once its suite is done.
 */
import { startPeerServer } from '../handlers/peerjs/server.js';
import { runConformanceSuite } from '../src/conformance/index.js';
import { peerJsTarget } from './fixtures/peerjs-target.js';

const keep = async () => {};
const [slots, listing] = await Promise.all([startPeerServer(), startPeerServer({ allowDiscovery: true })]);

void runConformanceSuite(peerJsTarget('peerjs (slots, no discovery)', async () => slots, keep)).done.finally(() => slots.close());
void runConformanceSuite(peerJsTarget('peerjs (allow_discovery)', async () => listing, keep)).done.finally(() => listing.close());
