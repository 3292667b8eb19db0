import type { P2PError } from '../errors.js';

/**
 * What a transport implements: a room to join with my id, news of who is there, one signal
 * delivered to one peer, and leaving. Everything else (peers, WebRTC, timers, chunking,
 * reconnects, closing) is the mesh core's. Signals are opaque JSON-able values to a transport.
 */
export interface SignalingTransport {
  /**
   * Connect and join `room` as `peerId`; resolve once joined. May be called again after
   * `leave()` (the core re-joins after `events.lost`). Reject with a P2PError: codes
   * ERR_SIGNALING and ERR_TIMEOUT are retried with backoff, any other code is final.
   */
  join(room: string, peerId: string, events: SignalingEvents): Promise<void>;
  /** Deliver `signal` to peer `to` in the joined room (best effort; the core retries links). */
  send(to: string, signal: unknown): void | Promise<void>;
  /** Leave and release every socket, listener and timer; no event may follow. Idempotent. */
  leave(): Promise<void>;
  /**
   * True when everyone in the room hears of a newcomer from the transport itself, at about the
   * same time as the newcomer hears of them (a server-kept roster, like socket.io's `joined`).
   * The side that does not offer then gives the other's offer a moment before sending its
   * hello, which is one signal fewer per pair. Default: false (presence the newcomer only
   * learns from answers, as on Nostr and MQTT, needs the hello at once).
   */
  readonly sharedRoster?: boolean;
}

/** The callbacks a transport reports to; calling them after `leave()` is ignored. */
export interface SignalingEvents {
  /** `peerId` is in the room (repeats are fine). */
  peerJoined(peerId: string): void;
  /** `peerId` left the room or its signaling connection went away. */
  peerLeft(peerId: string): void;
  /** A signal from `from`; the core validates it, so pass along whatever arrived. */
  signal(from: string, signal: unknown): void;
  /** The signaling connection dropped; the core calls `leave()` and re-joins with backoff. */
  lost(error: P2PError): void;
  /** Something went wrong that does not end the connection. */
  error(error: P2PError): void;
}

/**
 * Extra fields for a remote's peer object (a key or identity a transport verified). `via`: the
 * transports whose signals made the link; a transport vouches only for links it signaled, so an
 * id claimed elsewhere never inherits what this one verified.
 */
export type PeerDetails = (peerId: string, via: ReadonlySet<SignalingTransport>) => object;
