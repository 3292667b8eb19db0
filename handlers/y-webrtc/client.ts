import {
  assertId, createMeshHandlerCreator, invalidOption, resolveWebSocket, sealedRooms, serverUrls, systemClock,
  type MeshHandlerCreator, type WebRTCMeshOptions, type WebSocketConstructor,
} from '../../src/kit/index.js';
import { YWebrtcSignaling } from './transport.js';

/** Versions the sealed wire format: peers on another version never share a room. */
export const Y_WEBRTC_SEAL_SCHEME = 'p2p-handlers/y-webrtc/v1';

export interface YWebrtcHandlerOptions extends WebRTCMeshOptions {
  /**
   * y-webrtc signaling servers (`ws://`, `wss://`): the public ones or your own
   * (`npx y-webrtc-signaling`). The room is joined through every one at once. Required.
   */
  signaling: string | readonly string[];
  /** Mixed into the room key: only peers with the same secret can read each other. Default `''`. */
  secret?: string;
  /** WebSocket class. Default: the global `WebSocket`, else the `ws` package. */
  WebSocket?: WebSocketConstructor;
  /** Steady-state interval between presence announcements. Default 30000 ms. */
  announceIntervalMs?: number;
}

/**
 * A creator for RxDB 17's `replicateWebRTC` that signals through y-webrtc signaling servers,
 * the ones Yjs apps already run. The servers see a hash of the topic and sealed messages only.
 */
export function getConnectionHandlerYWebrtc(options: YWebrtcHandlerOptions): MeshHandlerCreator {
  if (typeof options !== 'object' || options === null) throw invalidOption('options must be an object with `signaling` URLs');
  const { signaling, secret = '', WebSocket, announceIntervalMs = 30_000, ...meshOptions } = options;
  const urls = serverUrls(signaling, 'signaling', ['ws', 'wss']);
  if (typeof secret !== 'string') throw invalidOption('`secret` must be a string');
  if (WebSocket !== undefined && typeof WebSocket !== 'function') throw invalidOption('`WebSocket` must be a WebSocket class');
  if (!Number.isFinite(announceIntervalMs) || announceIntervalMs < 1_000) throw invalidOption('`announceIntervalMs` must be a number ≥ 1000');
  const rooms = sealedRooms(Y_WEBRTC_SEAL_SCHEME, secret);
  let webSocketClass: Promise<WebSocketConstructor> | undefined;
  const clock = meshOptions.clock ?? systemClock;
  return createMeshHandlerCreator({
    options: meshOptions,
    signaling: (topic) => {
      assertId(topic, 'topic', 512);
      const room = rooms(topic);
      return urls.map(
        (url) => new YWebrtcSignaling({ url, room, clock, announceIntervalMs, WebSocket: () => (webSocketClass ??= resolveWebSocket(WebSocket)) }),
      );
    },
  });
}
