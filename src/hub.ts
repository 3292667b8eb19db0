import { Subject } from 'rxjs';
import { P2PError, P2PErrorCode } from './errors.js';
import type {
  P2PConnectionHandler,
  P2PMessage,
  P2PPeer,
  P2PResponse,
  PeerWithMessage,
  PeerWithResponse,
} from './types.js';

/**
 * The part of the handler contract that does not depend on a transport: the peer registry
 * (identity by reference), routing, the five streams and the close state machine. The
 * memory handler and the WebRTC mesh both sit on it, so the rules RxDB relies on live
 * in one place.
 */
export class ConnectionHub<PeerType extends P2PPeer = P2PPeer> {
  readonly connect$ = new Subject<PeerType>();
  readonly disconnect$ = new Subject<PeerType>();
  readonly message$ = new Subject<PeerWithMessage<PeerType>>();
  readonly response$ = new Subject<PeerWithResponse<PeerType>>();
  readonly error$ = new Subject<P2PError>();

  private readonly livePeers = new Map<string, PeerType>();
  private closing: Promise<void> | undefined;
  private closeStarted = false;

  /** True from the moment `close()` is called (already while the teardown runs). */
  get isClosed(): boolean {
    return this.closeStarted;
  }

  /** Live peers in connect order. */
  get peers(): PeerType[] {
    return [...this.livePeers.values()];
  }

  getPeer(id: string): PeerType | undefined {
    return this.livePeers.get(id);
  }

  isLive(peer: PeerType): boolean {
    return this.livePeers.get(peer.id) === peer;
  }

  /**
   * Registers a new live link and emits `connect$`. An entry left over from an earlier
   * session of the same id (a refreshed page, RxDB #5342) is disconnected first, so
   * RxDB never sees two live objects for one id.
   */
  addPeer(peer: PeerType): void {
    if (this.isClosed) return;
    const stale = this.livePeers.get(peer.id);
    if (stale === peer) return;
    if (stale) this.removePeer(stale);
    this.livePeers.set(peer.id, peer);
    this.connect$.next(peer);
  }

  /** Emits `disconnect$` once for a live peer; returns false if it was not live. */
  removePeer(peer: PeerType): boolean {
    if (!this.isLive(peer)) return false;
    this.livePeers.delete(peer.id);
    this.disconnect$.next(peer);
    return true;
  }

  /** Routes a decoded payload: a string `method` is a request, anything else a response. */
  deliver(peer: PeerType, payload: unknown): void {
    if (this.isClosed || !this.isLive(peer)) return;
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      this.reportError(
        new P2PError(P2PErrorCode.PROTOCOL, `peer ${peer.id} sent a payload that is not an object`, {
          peerId: peer.id,
        }),
      );
      return;
    }
    if (typeof (payload as { method?: unknown }).method === 'string') {
      this.message$.next({ peer, message: payload as P2PMessage });
    } else {
      this.response$.next({ peer, response: payload as P2PResponse });
    }
  }

  reportError(error: P2PError): void {
    if (!this.isClosed) this.error$.next(error);
  }

  /** Throws the error `send()` must reject with, if any. */
  assertCanSend(peer: PeerType, payload: unknown): void {
    if (this.isClosed) throw new P2PError(P2PErrorCode.DESTROYED, 'the handler is closed');
    if (typeof peer !== 'object' || peer === null || !this.isLive(peer)) {
      const id = typeof peer === 'object' && peer !== null ? String(peer.id) : String(peer);
      throw new P2PError(P2PErrorCode.PEER_NOT_CONNECTED, `peer ${id} is not connected`, { peerId: id });
    }
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      throw new P2PError(P2PErrorCode.NOT_SERIALIZABLE, 'send() takes a message or response object');
    }
  }

  /**
   * Memoized: the first call runs `teardown` (release transport resources), then emits the
   * last disconnects and completes every stream; later calls return the same promise.
   */
  close(teardown: () => Promise<void>): Promise<void> {
    if (!this.closing) {
      this.closeStarted = true;
      this.closing = this.runClose(teardown);
    }
    return this.closing;
  }

  private async runClose(teardown: () => Promise<void>): Promise<void> {
    try {
      await teardown();
    } finally {
      for (const peer of [...this.livePeers.values()]) {
        this.livePeers.delete(peer.id);
        this.disconnect$.next(peer);
      }
      this.connect$.complete();
      this.disconnect$.complete();
      this.message$.complete();
      this.response$.complete();
      this.error$.complete();
    }
  }

  /** The public face: read-only streams and the contract's methods. */
  toHandler(
    sendToLivePeer: (peer: PeerType, payload: P2PMessage | P2PResponse) => Promise<void>,
    teardown: () => Promise<void>,
  ): P2PConnectionHandler<PeerType> {
    const close = (): Promise<void> => this.close(teardown);
    return {
      connect$: this.connect$.asObservable(),
      disconnect$: this.disconnect$.asObservable(),
      message$: this.message$.asObservable(),
      response$: this.response$.asObservable(),
      error$: this.error$.asObservable(),
      send: async (peer, payload) => {
        this.assertCanSend(peer, payload);
        await sendToLivePeer(peer, payload);
      },
      close,
      destroy: close,
    };
  }
}

/** Peer objects are frozen so no consumer can break identity-keyed bookkeeping by mutation. */
export function createPeer<Extra extends object = {}>(id: string, extra?: Extra): P2PPeer & Readonly<Extra> {
  return Object.freeze({ ...(extra ?? ({} as Extra)), id });
}
