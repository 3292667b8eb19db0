import { P2PError, P2PErrorCode, readJsonFrame, redactUrl, type WebSocketConstructor, type WebSocketLike } from '../../src/kit/index.js';


/** What a relay says, already parsed. */
export interface RelaySocketEvents {
  /** `["EVENT", subscription, event]`: the event is unchecked. */
  event(subscription: string, event: unknown): void;
  /** `["OK", eventId, accepted, reason]` for an event we published. */
  ok(eventId: string, accepted: boolean, reason: string): void;
  /** `["CLOSED", subscription, reason]`: the relay ended a subscription. */
  closed(subscription: string, reason: string): void;
  /** A NOTICE or an unusable message: worth reporting, not fatal. */
  problem(error: P2PError): void;
  /** The connection dropped after it had opened. */
  lost(error: P2PError): void;
}

const OPEN = 1;
/** Longest relay message read; a larger one is dropped unparsed. */
const MAX_MESSAGE_CHARS = 512 * 1024;
const noop = () => {};

/**
 * One NIP-01 connection to one relay, over any WebSocket implementation (injected, so
 * nothing global is patched). Kept this small on purpose: no timers, no reconnects (the
 * mesh core re-joins with backoff), no console output, and every malformed message becomes
 * a typed error instead of an exception.
 */
export class RelaySocket {
  /** Resolves once open; rejects with ERR_SIGNALING if the connection cannot be made. */
  readonly opened: Promise<void>;
  private readonly ws: WebSocketLike | undefined;
  private wasOpen = false;
  private closed = false;
  private abandon: (error: P2PError) => void = noop;

  constructor(
    readonly url: string,
    WebSocketImpl: WebSocketConstructor,
    private readonly events: RelaySocketEvents,
  ) {
    let ws: WebSocketLike | undefined;
    let failure: unknown;
    try {
      ws = new WebSocketImpl(url);
    } catch (cause) {
      failure = cause;
    }
    this.ws = ws;
    this.opened = new Promise<void>((resolve, reject) => {
      if (!ws) return reject(new P2PError(P2PErrorCode.SIGNALING, `cannot connect to relay ${redactUrl(url)}`, { cause: failure }));
      ws.onopen = () => {
        this.wasOpen = true;
        resolve();
      };
      // The reason arrives with close; the listener must exist, or Node's ws throws the error.
      ws.onerror = noop;
      ws.onclose = (event: { code?: unknown }) => {
        const code = typeof event?.code === 'number' ? ` (code ${event.code})` : '';
        this.detach();
        if (!this.wasOpen) return reject(new P2PError(P2PErrorCode.SIGNALING, `cannot connect to relay ${redactUrl(url)}${code}`));
        this.events.lost(new P2PError(P2PErrorCode.SIGNALING, `relay ${redactUrl(url)} closed the connection${code}`));
      };
      ws.onmessage = (event: { data?: unknown }) => this.receive(event?.data);
      this.abandon = reject;
    });
    // Whoever awaits `opened` sees the rejection; nobody awaiting is not an unhandled one.
    this.opened.catch(noop);
  }

  get isOpen(): boolean {
    return !this.closed && this.ws?.readyState === OPEN;
  }

  /** Sends one NIP-01 message; false when the connection is not open. */
  send(message: readonly unknown[]): boolean {
    if (!this.isOpen || !this.ws) return false;
    try {
      this.ws.send(JSON.stringify(message));
      return true;
    } catch {
      return false;
    }
  }

  /** Closes without reporting anything further. Idempotent. */
  close(): void {
    const ws = this.ws;
    this.detach();
    this.abandon(new P2PError(P2PErrorCode.SIGNALING, `left relay ${redactUrl(this.url)} before the connection opened`));
    if (!ws || ws.readyState > OPEN) return;
    try {
      ws.close();
    } catch {
      // Already closing: nothing left to release.
    }
  }

  private detach(): void {
    this.closed = true;
    if (!this.ws) return;
    // Handlers are replaced by no-ops rather than removed: an error Node's ws emits while
    // aborting a handshake would otherwise be thrown as an unhandled 'error' event.
    this.ws.onopen = noop;
    this.ws.onmessage = noop;
    this.ws.onclose = noop;
    this.ws.onerror = noop;
  }

  private receive(data: unknown): void {
    if (this.closed) return;
    const problem = (why: string) => this.events.problem(new P2PError(P2PErrorCode.SIGNALING, `relay ${redactUrl(this.url)} ${why}`));
    const frame = readJsonFrame(data, MAX_MESSAGE_CHARS);
    if ('problem' in frame) return problem(`sent ${frame.problem}`);
    const message = frame.value;
    if (!Array.isArray(message) || typeof message[0] !== 'string') return problem('sent a message that is not a NIP-01 array');
    const [type, first, second, third] = message as [string, unknown, unknown, unknown];
    switch (type) {
      case 'EVENT':
        if (typeof first !== 'string') return problem('sent an EVENT without a subscription id');
        return this.events.event(first, second);
      case 'OK':
        if (typeof first !== 'string') return problem('sent an OK without an event id');
        return this.events.ok(first, second === true, typeof third === 'string' ? third.slice(0, 300) : '');
      case 'CLOSED':
        return this.events.closed(String(first), typeof second === 'string' ? second.slice(0, 300) : '');
      case 'NOTICE':
        return problem(`says: ${String(first).slice(0, 300)}`);
      default:
        // EOSE, AUTH, COUNT and future types: nothing to do for a signaling client.
        return undefined;
    }
  }
}
