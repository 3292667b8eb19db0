import { BoundedMap, P2PError, P2PErrorCode, randomId, redactUrl, type WebSocketConstructor } from '../../src/kit/index.js';
import { RelaySocket } from './relay-socket.js';

/** What one subscription hears from the relay. */
export interface RelaySubscriber {
  /** An event for this subscription (unchecked). */
  event(event: unknown): void;
  /** The relay's OK for an event this subscriber published. */
  ok(eventId: string, accepted: boolean, reason: string): void;
  /** The relay ended this subscription. */
  closed(reason: string): void;
  /** A NOTICE or junk on the shared connection. */
  problem(error: P2PError): void;
  /** The shared connection dropped. */
  lost(error: P2PError): void;
}

/** One subscriber's use of the shared connection. */
export interface RelayAttachment {
  /** Resolves once the connection is open and the subscription sent; rejects with ERR_SIGNALING. */
  readonly ready: Promise<void>;
  readonly isOpen: boolean;
  /** Publishes an event; its OK goes to this subscriber. False when the connection is not open. */
  publish(event: { id: string }): boolean;
  /** Ends the subscription; the last one out closes the socket. Idempotent. */
  detach(): void;
}

/** Published event ids remembered to route the relay's OK to their publisher. */
const PENDING_OKS = 256;

interface Link {
  socket: RelaySocket;
  subscribers: Map<string, RelaySubscriber>;
  publishers: BoundedMap<string, RelaySubscriber>;
}

/**
 * One WebSocket to one relay, shared by every room (RxDB collection) of a creator: each room
 * is its own subscription on it, so five collections over three relays make three
 * connections, not fifteen (relays limit connections per client). The socket opens with the
 * first subscriber and closes with the last; once it drops, the next subscriber opens a new one.
 */
export class RelayConnection {
  private current: Link | undefined;

  constructor(
    readonly url: string,
    private readonly WebSocketImpl: WebSocketConstructor,
  ) {}

  attach(subscriber: RelaySubscriber, filters: readonly unknown[]): RelayAttachment {
    const link = this.current ?? this.open();
    const id = `p2p-${randomId(10)}`;
    link.subscribers.set(id, subscriber);
    const live = () => link.subscribers.get(id) === subscriber;
    const ready = link.socket.opened.then(() => {
      if (!live()) throw new P2PError(P2PErrorCode.SIGNALING, `left relay ${redactUrl(this.url)} before the connection opened`);
      link.socket.send(['REQ', id, ...filters]);
    });
    ready.catch(() => {});
    return {
      ready,
      get isOpen() {
        return live() && link.socket.isOpen;
      },
      publish: (event) => {
        if (!live()) return false;
        link.publishers.set(event.id, subscriber);
        return link.socket.send(['EVENT', event]);
      },
      detach: () => {
        if (!live()) return;
        link.subscribers.delete(id);
        link.socket.send(['CLOSE', id]);
        if (link.subscribers.size > 0) return;
        if (this.current === link) this.current = undefined;
        link.socket.close();
      },
    };
  }

  private open(): Link {
    const subscribers = new Map<string, RelaySubscriber>();
    const publishers = new BoundedMap<string, RelaySubscriber>(PENDING_OKS);
    const socket = new RelaySocket(this.url, this.WebSocketImpl, {
      event: (subscription, event) => subscribers.get(subscription)?.event(event),
      ok: (eventId, accepted, reason) => publishers.get(eventId)?.ok(eventId, accepted, reason),
      closed: (subscription, reason) => subscribers.get(subscription)?.closed(reason),
      problem: (error) => [...subscribers.values()].forEach((subscriber) => subscriber.problem(error)),
      lost: (error) => {
        forget();
        const lost = [...subscribers.values()];
        subscribers.clear();
        lost.forEach((subscriber) => subscriber.lost(error));
      },
    });
    const link: Link = { socket, subscribers, publishers };
    const forget = () => {
      if (this.current === link) this.current = undefined;
    };
    // A socket that never opened is forgotten too, so the next attempt dials again.
    socket.opened.catch(forget);
    this.current = link;
    return link;
  }
}
