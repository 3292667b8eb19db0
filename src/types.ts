import type { Observable } from 'rxjs';
import type { P2PError } from './errors.js';

/**
 * A remote peer as the handler hands it out. The object itself is the identity:
 * RxDB keys maps by it and compares with `===`, so a handler emits the very same
 * object on every stream for one live link, and a new object after a reconnect.
 */
export interface P2PPeer {
  /** Stable string id of the remote peer (the same across reconnects of one peer). */
  readonly id: string;
}

/** A request RxDB sends to a peer: routed to `message$` because `method` is a string. */
export interface P2PMessage {
  id: string;
  /**
   * Always a string at run time (that is what routes it to `message$`); typed `any` so the
   * handler type is assignable to RxDB 17's, whose method is a union of its method names.
   */
  method: any;
  params: any[];
}

/**
 * Anything without a string `method`: replies (`result` may be null, 0, '' or false)
 * and RxDB's `{ id: 'masterChangeStream$', result }` pushes.
 */
export interface P2PResponse {
  id: string;
  result: any;
  error?: any;
}

export interface PeerWithMessage<PeerType extends P2PPeer = P2PPeer> {
  peer: PeerType;
  message: P2PMessage;
}

export interface PeerWithResponse<PeerType extends P2PPeer = P2PPeer> {
  peer: PeerType;
  response: P2PResponse;
}

/**
 * The contract RxDB's P2P/WebRTC replication consumes: RxDB 17's
 * `WebRTCConnectionHandler` and RxDB 14's `P2PConnectionHandler` (via `destroy`).
 */
export interface P2PConnectionHandler<PeerType extends P2PPeer = P2PPeer> {
  readonly connect$: Observable<PeerType>;
  /** Final for the emitted peer object; a reconnect is a new `connect$` with a new object. */
  readonly disconnect$: Observable<PeerType>;
  readonly message$: Observable<PeerWithMessage<PeerType>>;
  readonly response$: Observable<PeerWithResponse<PeerType>>;
  /** Informational; never terminates, completes on close. */
  readonly error$: Observable<P2PError | any>;
  /** Rejects with `ERR_PEER_NOT_CONNECTED` when the peer is gone and `ERR_DESTROYED` after close. */
  send(peer: PeerType, message: P2PMessage | P2PResponse): Promise<void>;
  /** Idempotent and memoized: completes every stream and releases everything. */
  close(): Promise<void>;
  /** Alias of `close()` for RxDB 14/15. */
  destroy(): Promise<void>;
}

/** What a creator is called with; RxDB passes its whole replication options object. */
export interface P2PConnectionHandlerOptions {
  /** Room name: handlers with the same topic connect to each other. */
  topic: string;
}

export type P2PConnectionHandlerCreator<PeerType extends P2PPeer = P2PPeer> = (
  options: P2PConnectionHandlerOptions,
) => Promise<P2PConnectionHandler<PeerType>>;
