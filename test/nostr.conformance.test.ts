/**
 * The conformance suite against the Nostr handler over real WebRTC: on one embedded relay,
 * and on three of which one is stopped in the middle of every case.
 */
import { runConformanceSuite } from '../src/conformance/index.js';
import { nostrTarget } from './fixtures/nostr-target.js';

runConformanceSuite(nostrTarget('nostr'));
runConformanceSuite(nostrTarget('nostr, three relays, one stopped mid-case', { relayCount: 3, stopOneAfterMs: 400 }));
