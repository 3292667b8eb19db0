import { P2PError, P2PErrorCode } from '../errors.js';
import { collectPeerConnectionsBeforeExit } from './wrtc-exit.js';

/** The three classes simple-peer needs; `@roamhq/wrtc` and `node-datachannel/polyfill` both fit. */
export interface WebRTCImplementation {
  RTCPeerConnection: any;
  RTCSessionDescription?: any;
  RTCIceCandidate?: any;
}

/**
 * Picks the WebRTC implementation: the one passed, else the platform's globals (browsers),
 * else `@roamhq/wrtc` loaded only now, so browser bundles and users who pass their own never
 * load it. Returns undefined when simple-peer should use the globals itself.
 */
export async function resolveWebRTC(given: WebRTCImplementation | undefined): Promise<WebRTCImplementation | undefined> {
  if (given) {
    if (typeof given.RTCPeerConnection !== 'function') {
      throw new P2PError(P2PErrorCode.INVALID_OPTION, '`wrtc` must provide an RTCPeerConnection class');
    }
    return withPlainDescriptions(given);
  }
  if (typeof (globalThis as { RTCPeerConnection?: unknown }).RTCPeerConnection === 'function') return undefined;
  try {
    const moduleName = '@roamhq/wrtc';
    const loaded = (await import(/* @vite-ignore */ moduleName)) as { default?: WebRTCImplementation } & WebRTCImplementation;
    await collectPeerConnectionsBeforeExit();
    return withPlainDescriptions(loaded.default ?? loaded);
  } catch (error) {
    throw new P2PError(
      P2PErrorCode.WEBRTC_UNAVAILABLE,
      'no WebRTC implementation: install @roamhq/wrtc or pass `wrtc` (e.g. node-datachannel/polyfill)',
      { cause: error },
    );
  }
}

const wrapped = new WeakMap<object, WebRTCImplementation>();

/**
 * node-datachannel's polyfill returns descriptions whose `sdp` is read-only and simple-peer
 * rewrites it, which throws; handing back plain `{ type, sdp }` objects is harmless for every
 * other implementation. Memoized per implementation so peers share one subclass.
 */
function withPlainDescriptions(implementation: WebRTCImplementation): WebRTCImplementation {
  const known = wrapped.get(implementation);
  if (known) return known;
  const Base = implementation.RTCPeerConnection as new (...args: any[]) => any;
  class PlainDescriptionPeerConnection extends Base {
    async createOffer(...args: any[]): Promise<{ type: string; sdp: string }> {
      const description = await super.createOffer(...args);
      return { type: description.type, sdp: description.sdp };
    }
    async createAnswer(...args: any[]): Promise<{ type: string; sdp: string }> {
      const description = await super.createAnswer(...args);
      return { type: description.type, sdp: description.sdp };
    }
  }
  const result = { ...implementation, RTCPeerConnection: PlainDescriptionPeerConnection };
  wrapped.set(implementation, result);
  return result;
}
