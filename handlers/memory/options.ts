import { randomBytes } from 'node:crypto';
import { P2PError, P2PErrorCode } from '../../src/errors.js';
import type { MemoryNetwork } from './network.js';

/** Options of `createMemoryNetwork()`. */
export interface MemoryNetworkOptions {
  /**
   * Milliseconds between an action and its effect on the other side: a payload sent, a
   * handler joining (connect$) or leaving (disconnect$). Constant, so order is kept.
   * Default: 0 (delivered on a later macrotask, never synchronously).
   */
  latencyMs?: number;
  /**
   * Milliseconds between `network.crash(handler)` and the survivors' disconnect$, like a
   * heartbeat timeout of a real transport (added to `latencyMs`).
   * Default: 0.
   */
  crashDetectionMs?: number;
}

/** Options of `getConnectionHandlerMemory()`. */
export interface MemoryHandlerOptions {
  /** The in-process network to join (from `createMemoryNetwork()`). Required; no default. */
  network: MemoryNetwork;
  /**
   * The id the other handlers see for every handler this creator makes. Two live handlers
   * with one id on one topic are refused (ERR_ID_TAKEN); after a close the id is free again.
   * Default: a random 12-character id per handler.
   */
  peerId?: string;
  /**
   * Largest payload `send()` accepts, in UTF-8 bytes of its JSON encoding; larger ones reject
   * with ERR_PAYLOAD_TOO_LARGE. Set it to mimic a transport's limit in your tests.
   * Default: Infinity (no limit).
   */
  maxPayloadBytes?: number;
}

export interface ResolvedNetworkOptions {
  latencyMs: number;
  crashDetectionMs: number;
}

export interface ResolvedHandlerOptions {
  network: MemoryNetwork;
  peerId: string | undefined;
  maxPayloadBytes: number;
}

export const MEMORY_NETWORK_DEFAULTS: Readonly<ResolvedNetworkOptions> = Object.freeze({
  latencyMs: 0,
  crashDetectionMs: 0,
});

export const MEMORY_HANDLER_DEFAULTS = Object.freeze({
  maxPayloadBytes: Number.POSITIVE_INFINITY,
});

const PEER_ID_LENGTH = 12;

function invalid(message: string): P2PError {
  return new P2PError(P2PErrorCode.INVALID_OPTION, message);
}

function milliseconds(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalid(`${name} must be a finite number >= 0, got ${String(value)}`);
  }
  return value;
}

export function resolveNetworkOptions(options: MemoryNetworkOptions | undefined): ResolvedNetworkOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw invalid('createMemoryNetwork() takes an options object');
  }
  return {
    latencyMs: milliseconds(options?.latencyMs, 'latencyMs', MEMORY_NETWORK_DEFAULTS.latencyMs),
    crashDetectionMs: milliseconds(
      options?.crashDetectionMs,
      'crashDetectionMs',
      MEMORY_NETWORK_DEFAULTS.crashDetectionMs,
    ),
  };
}

export function resolveHandlerOptions(
  options: MemoryHandlerOptions | undefined,
  isNetwork: (value: unknown) => value is MemoryNetwork,
): ResolvedHandlerOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalid('getConnectionHandlerMemory() takes an options object with a network');
  }
  if (!isNetwork(options.network)) {
    throw invalid('network must be a network made by createMemoryNetwork()');
  }
  const { peerId, maxPayloadBytes } = options;
  if (peerId !== undefined && (typeof peerId !== 'string' || peerId.length === 0)) {
    throw invalid(`peerId must be a non-empty string, got ${String(peerId)}`);
  }
  if (
    maxPayloadBytes !== undefined &&
    (typeof maxPayloadBytes !== 'number' || Number.isNaN(maxPayloadBytes) || maxPayloadBytes <= 0)
  ) {
    throw invalid(`maxPayloadBytes must be a number > 0, got ${String(maxPayloadBytes)}`);
  }
  return {
    network: options.network,
    peerId,
    maxPayloadBytes: maxPayloadBytes ?? MEMORY_HANDLER_DEFAULTS.maxPayloadBytes,
  };
}

export function randomPeerId(): string {
  return randomBytes(PEER_ID_LENGTH).toString('base64url').slice(0, PEER_ID_LENGTH);
}
