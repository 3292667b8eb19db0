/** Stable codes: compare `error.code`, never `instanceof` (bundles may hold two copies). */
export const P2PErrorCode = {
  /** The handler, server or link was closed. */
  DESTROYED: 'ERR_DESTROYED',
  /** `send()` named a peer that is not (or no longer) connected. */
  PEER_NOT_CONNECTED: 'ERR_PEER_NOT_CONNECTED',
  /** The signaling channel failed, refused us, or sent something we cannot use. */
  SIGNALING: 'ERR_SIGNALING',
  /** Something we waited for did not happen in time. */
  TIMEOUT: 'ERR_TIMEOUT',
  /** An option passed to a creator or server is invalid. */
  INVALID_OPTION: 'ERR_INVALID_OPTION',
  /** A remote peer sent a malformed frame, signal or payload. */
  PROTOCOL: 'ERR_PROTOCOL',
  /** A payload is larger than the configured bound. */
  PAYLOAD_TOO_LARGE: 'ERR_PAYLOAD_TOO_LARGE',
  /** A payload cannot be encoded (e.g. JSON cycles, BigInt). */
  NOT_SERIALIZABLE: 'ERR_NOT_SERIALIZABLE',
  /** A WebRTC link failed or closed unexpectedly. */
  CONNECTION_FAILED: 'ERR_CONNECTION_FAILED',
  /** No WebRTC implementation could be found or loaded. */
  WEBRTC_UNAVAILABLE: 'ERR_WEBRTC_UNAVAILABLE',
  /** The server refused the client's credentials. */
  UNAUTHORIZED: 'ERR_UNAUTHORIZED',
  /** A server limit (rate, room size, rooms per socket) was hit. */
  LIMIT_EXCEEDED: 'ERR_LIMIT_EXCEEDED',
  /** A peer id is already held by another client. */
  ID_TAKEN: 'ERR_ID_TAKEN',
  /** An optional package the entry needs is not installed: the message names it and how to install it. */
  MISSING_DEPENDENCY: 'ERR_MISSING_DEPENDENCY',
} as const;

export type P2PErrorCode = (typeof P2PErrorCode)[keyof typeof P2PErrorCode];

export interface P2PErrorDetails {
  /** The remote peer the error concerns, if any. */
  peerId?: string;
  /** The underlying error. */
  cause?: unknown;
}

export class P2PError extends Error {
  override readonly name = 'P2PError';
  readonly code: P2PErrorCode;
  readonly peerId: string | undefined;

  constructor(code: P2PErrorCode, message: string, details: P2PErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.peerId = details.peerId;
    // V8 formats a stack lazily and keeps every frame's receiver alive until then: an error
    // kept from error$ held a dropped link (and its half-received 64 MiB message) for ever.
    void this.stack;
  }
}

/** True when `error` carries the given code (or any P2P code when none is given). */
export function isP2PError(error: unknown, code?: P2PErrorCode): error is P2PError {
  if (typeof error !== 'object' || error === null) return false;
  const actual = (error as { code?: unknown }).code;
  if (typeof actual !== 'string') return false;
  return code === undefined ? Object.values(P2PErrorCode).includes(actual as P2PErrorCode) : actual === code;
}

/** The same error attributed to `peerId` (a new P2PError when it named no peer yet). */
export function withPeerId(error: P2PError, peerId: string): P2PError {
  if (error.peerId === peerId) return error;
  return new P2PError(error.code, error.message, { peerId, cause: error });
}

/** Wraps anything thrown into a P2PError with `code`, keeping it as `cause`. */
export function toP2PError(error: unknown, code: P2PErrorCode, message: string, peerId?: string): P2PError {
  if (isP2PError(error)) return error;
  const detail = error instanceof Error ? `: ${error.message}` : '';
  return new P2PError(code, message + detail, { cause: error, peerId });
}

/**
 * `url` fit for an error message, which apps log and show: a password, and query values (where
 * RxDB clients and relays take tokens), become `***`.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'an unparsable URL';
  }
  if (parsed.password) parsed.password = '***';
  for (const key of new Set(parsed.searchParams.keys())) parsed.searchParams.set(key, '***');
  return parsed.toString();
}
