/**
 * The simple-peer internals the mesh core relies on (src/mesh/simple-peer-internals.ts), checked
 * against the installed simple-peer: if an upgrade renames or drops one, this fails here, by
 * name, instead of links getting slower (offers that wait out the gathering cap) or leaking
 * a timer per closed link.
 */
import wrtc from '@roamhq/wrtc';
import SimplePeer from 'simple-peer';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { clearIceCompleteTimer, onIceComplete, peerConnectionOf, simplePeerDefaultConfig } from '../src/mesh/simple-peer-internals.js';
import { within } from './helpers/hostile-checks.js';

const timeouts = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

test('the default config is an RTCConfiguration with ICE servers (ours are layered over it)', () => {
  const config = simplePeerDefaultConfig();
  assert.ok(Array.isArray(config.iceServers) && config.iceServers.length > 0, `simple-peer's static config changed: ${JSON.stringify(config)}`);
});

test('the RTCPeerConnection is reachable, ICE completion is announced, and its timer can be cleared after destroy()', async () => {
  const before = timeouts();
  const a = new SimplePeer({ initiator: true, trickle: true, wrtc: wrtc as never, config: { iceServers: [] } });
  const b = new SimplePeer({ trickle: true, wrtc: wrtc as never, config: { iceServers: [] } });
  try {
    const pc = peerConnectionOf(a);
    assert.ok(pc && typeof pc.iceGatheringState === 'string' && typeof pc.createOffer === 'function', 'simple-peer no longer keeps its connection in `_pc`');
    const completed = within(new Promise<void>((resolve) => onIceComplete(a, resolve)), 10_000, "simple-peer's `_iceComplete` event");
    const connected = within(new Promise((resolve) => a.once('connect', resolve)), 10_000, 'the pair connecting');
    a.on('signal', (data) => b.signal(data));
    b.on('signal', (data) => a.signal(data));
    await completed;
    assert.ok(pc.localDescription?.sdp.includes('a=candidate:'), "the local description under `_pc` carries the gathered candidates");
    await connected;
    // The timer simple-peer started with the first candidate is still pending (5 s).
    assert.ok(timeouts() > before, 'no timer pending: simple-peer no longer starts `_iceCompleteTimer`');
  } finally {
    const closed = Promise.all([a, b].map((peer) => new Promise((resolve) => peer.once('close', resolve))));
    for (const peer of [a, b]) peer.destroy();
    await within(closed, 10_000, 'both peers closing');
    for (const peer of [a, b]) clearIceCompleteTimer(peer);
  }
  assert.is(timeouts(), before, 'a timer survived destroy() and clearIceCompleteTimer(): `_iceCompleteTimer` changed');
});

test.run();
