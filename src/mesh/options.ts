import { P2PError, P2PErrorCode } from '../errors.js';
import type { Clock } from './timers.js';
import type { WebRTCImplementation } from './wrtc.js';

/** Options every WebRTC handler shares, whatever its transport. */
export interface WebRTCMeshOptions {
  /**
   * WebRTC implementation. Default: the browser's globals; in Node, `@roamhq/wrtc`, loaded
   * only when first needed. `node-datachannel/polyfill` works too (then set
   * `config.bindAddress` in a loopback-only network).
   */
  wrtc?: WebRTCImplementation;
  /**
   * RTCConfiguration passed to every RTCPeerConnection unchanged (ICE/TURN servers, and
   * implementation extras such as node-datachannel's `bindAddress`). Default: simple-peer's,
   * which lists public STUN servers; pass `{ iceServers: [] }` for loopback-only tests.
   */
  config?: RTCConfiguration & Record<string, unknown>;
  /** This peer's id in the room. Default: 20 random alphanumeric characters per handler. */
  peerId?: string;
  /** How long one WebRTC link may take from first signal to open data channel. Default 15000 ms. */
  connectTimeoutMs?: number;
  /** How long joining the signaling room may take before it is retried. Default 15000 ms. */
  signalingTimeoutMs?: number;
  /** Idle interval after which a link sends a keep-alive frame. Default 5000 ms. */
  heartbeatIntervalMs?: number;
  /** A link silent this long is dropped (a crashed or vanished remote). Default 15000 ms. */
  peerTimeoutMs?: number;
  /** First reconnect delay (links and signaling); doubles per failure, with jitter. Default 250 ms. */
  reconnectMinDelayMs?: number;
  /** Cap on the reconnect delay. Default 15000 ms. */
  reconnectMaxDelayMs?: number;
  /**
   * Largest message accepted or sent, after JSON encoding. Parsing inflates JSON up to ~22×
   * in memory (a 16 MiB array of empty objects takes ~360 MiB of heap), and a remote may send
   * before RxDB's `isPeerValid` judges it: lower this when documents are small. Default 16 MiB.
   */
  maxMessageBytes?: number;
  /**
   * Bytes of partly received messages held at once across all links of this peer; a link whose
   * message would take more is dropped with ERR_LIMIT_EXCEEDED (it reconnects; RxDB repeats the
   * request). At least `maxMessageBytes`. Default 64 MiB.
   */
  maxReassemblyBytes?: number;
  /**
   * How long an offer may wait for its first ICE candidates, so it carries them in one signal
   * instead of one signal per candidate; candidates found later follow in batches. 0 sends
   * everything at once (plain trickle). Default 100 ms (the first candidates come within a
   * few milliseconds; the cap is for a platform that is slow to gather).
   */
  iceGatheringWaitMs?: number;
  /**
   * Remote peers one topic's room may bring us at once; later ones are ignored (ERR_LIMIT_EXCEEDED
   * on error$, once each time the room fills up) until someone leaves. Each costs a WebRTC
   * connection, so this bounds what anyone announcing fake peers can make us spend. Default 256.
   */
  maxPeersPerTopic?: number;
  /** Time source for every timer. Default: the system clock. */
  clock?: Clock;
}

export type ResolvedMeshOptions = Required<Omit<WebRTCMeshOptions, 'wrtc' | 'config'>> &
  Pick<WebRTCMeshOptions, 'wrtc' | 'config'>;

export const MESH_DEFAULTS = {
  connectTimeoutMs: 15_000,
  signalingTimeoutMs: 15_000,
  heartbeatIntervalMs: 5_000,
  peerTimeoutMs: 15_000,
  reconnectMinDelayMs: 250,
  reconnectMaxDelayMs: 15_000,
  maxMessageBytes: 16 * 1024 * 1024,
  maxReassemblyBytes: 64 * 1024 * 1024,
  iceGatheringWaitMs: 100,
  maxPeersPerTopic: 256,
} as const;

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Alphanumeric, so it is also a valid PeerJS id and safe in MQTT topics. */
export function randomId(length = 20): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(bytes, (byte) => ID_ALPHABET[byte % ID_ALPHABET.length]).join('');
}

export function invalidOption(message: string): P2PError {
  return new P2PError(P2PErrorCode.INVALID_OPTION, message);
}

/** A non-empty string of at most `max` characters, or ERR_INVALID_OPTION naming `name`. */
export function assertId(value: unknown, name: string, max = 128): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw invalidOption(`\`${name}\` must be a non-empty string of at most ${max} characters`);
  }
}

export function resolveMeshOptions(options: WebRTCMeshOptions, clock: Clock): ResolvedMeshOptions {
  const {
    wrtc,
    config,
    peerId = randomId(),
    connectTimeoutMs = MESH_DEFAULTS.connectTimeoutMs,
    signalingTimeoutMs = MESH_DEFAULTS.signalingTimeoutMs,
    heartbeatIntervalMs = MESH_DEFAULTS.heartbeatIntervalMs,
    peerTimeoutMs = MESH_DEFAULTS.peerTimeoutMs,
    reconnectMinDelayMs = MESH_DEFAULTS.reconnectMinDelayMs,
    reconnectMaxDelayMs = MESH_DEFAULTS.reconnectMaxDelayMs,
    maxMessageBytes = MESH_DEFAULTS.maxMessageBytes,
    maxReassemblyBytes = Math.max(MESH_DEFAULTS.maxReassemblyBytes, maxMessageBytes),
    iceGatheringWaitMs = MESH_DEFAULTS.iceGatheringWaitMs,
    maxPeersPerTopic = MESH_DEFAULTS.maxPeersPerTopic,
  } = options;
  assertId(peerId, 'peerId');
  const durations = { connectTimeoutMs, signalingTimeoutMs, heartbeatIntervalMs, peerTimeoutMs, reconnectMinDelayMs, reconnectMaxDelayMs, maxMessageBytes, maxReassemblyBytes };
  for (const [name, value] of Object.entries(durations)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw invalidOption(`\`${name}\` must be a positive number`);
    }
  }
  if (typeof iceGatheringWaitMs !== 'number' || !Number.isFinite(iceGatheringWaitMs) || iceGatheringWaitMs < 0) {
    throw invalidOption('`iceGatheringWaitMs` must be a number ≥ 0');
  }
  if (!Number.isInteger(maxPeersPerTopic) || maxPeersPerTopic < 1) throw invalidOption('`maxPeersPerTopic` must be a positive integer');
  if (peerTimeoutMs <= heartbeatIntervalMs) throw invalidOption('`peerTimeoutMs` must be longer than `heartbeatIntervalMs`');
  if (maxReassemblyBytes < maxMessageBytes) throw invalidOption('`maxReassemblyBytes` must be ≥ `maxMessageBytes`');
  if (reconnectMaxDelayMs < reconnectMinDelayMs) throw invalidOption('`reconnectMaxDelayMs` must be ≥ `reconnectMinDelayMs`');
  if (config !== undefined && (typeof config !== 'object' || config === null)) throw invalidOption('`config` must be an object');
  return { wrtc, config, peerId, clock, iceGatheringWaitMs, maxPeersPerTopic, ...durations };
}
