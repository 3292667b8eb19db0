import SimplePeer from 'simple-peer';

/**
 * Every use of simple-peer beyond its documented API, in one place (simple-peer 9.11 and its
 * maintained fork @thaunknown/simple-peer share these): test/simple-peer-internals.test.ts
 * fails loudly when any of them changes, instead of links quietly getting slower or leaking.
 */
type WithInternals = SimplePeer.Instance & {
  _pc?: RTCPeerConnection;
  _iceCompleteTimer?: ReturnType<typeof setTimeout> | null;
};

/** The RTCPeerConnection under a simple-peer instance: its gathering state and the local description with every candidate so far. */
export function peerConnectionOf(rtc: SimplePeer.Instance): RTCPeerConnection | undefined {
  return (rtc as WithInternals)._pc;
}

/** simple-peer's own event for the end of ICE gathering: the null candidate, or its 5 s timeout. */
export function onIceComplete(rtc: SimplePeer.Instance, listener: () => void): void {
  rtc.on('_iceComplete' as 'close', listener);
}

/** simple-peer leaves its ICE-complete timer running after destroy(): up to 5 s of a live handle. */
export function clearIceCompleteTimer(rtc: SimplePeer.Instance): void {
  const timer = (rtc as WithInternals)._iceCompleteTimer;
  if (timer) clearTimeout(timer);
}

/** simple-peer's default RTCConfiguration (its static `config`, which lists public STUN servers). */
export function simplePeerDefaultConfig(): RTCConfiguration {
  return (SimplePeer as unknown as { config?: RTCConfiguration }).config ?? {};
}
