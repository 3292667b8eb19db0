import { P2PError, P2PErrorCode, type TimerSet, type WebSocketConstructor, type WebSocketLike } from '../../src/kit/index.js';
import { ENVELOPE_TYPE, ServerType, parseServerMessage, serverRefusal, type ServerMessage } from './protocol.js';


const OPEN_STATE = 1;
const CLOSED_STATE = 3;
/** How long close() waits for the server to acknowledge before giving up on it. */
const CLOSE_WAIT_MS = 1_000;

export interface PeerServerSocketSettings {
  WebSocket: WebSocketConstructor;
  timers: TimerSet;
  /** HEARTBEAT interval: PeerServer drops a socket silent for `alive_timeout` (60–90 s). */
  pingIntervalMs: number;
  /** How long connecting may take before it fails with ERR_TIMEOUT. */
  openTimeoutMs: number;
}

export interface PeerServerSocketEvents {
  message(message: ServerMessage): void;
  /** The server sent something unusable; the socket stays open. */
  malformed(error: P2PError): void;
  /** The socket closed by itself after it had opened. */
  closed(error: P2PError): void;
}

/**
 * One PeerServer connection holding one id. Speaks the server's WebSocket protocol directly
 * (see README: the `Peer` object of the peerjs client would create connections of its own).
 */
export class PeerServerSocket {
  private ws: WebSocketLike | undefined;
  private state: 'idle' | 'connecting' | 'open' | 'closed' = 'idle';
  private cancelHeartbeat = () => {};
  private closedWaiters: Array<() => void> = [];
  private abortOpen: ((error: P2PError) => void) | undefined;

  constructor(
    private readonly url: string,
    private readonly id: string,
    private readonly settings: PeerServerSocketSettings,
    private readonly events: PeerServerSocketEvents,
  ) {}

  /**
   * Connects and claims the id. Resolves on OPEN, or when a message we send to our own id
   * comes back: PeerServer gives a socket that re-claims an id with the same token no OPEN.
   * Rejects with ERR_ID_TAKEN (held with another token), a refusal, ERR_SIGNALING or ERR_TIMEOUT.
   */
  open(): Promise<void> {
    if (this.state !== 'idle') return Promise.reject(new P2PError(P2PErrorCode.DESTROYED, 'this PeerServer socket was used already'));
    this.state = 'connecting';
    return new Promise<void>((resolve, reject) => {
      const cancelTimeout = this.settings.timers.after(this.settings.openTimeoutMs, () =>
        fail(new P2PError(P2PErrorCode.TIMEOUT, `PeerServer did not accept ${this.id} within ${this.settings.openTimeoutMs} ms`)),
      );
      const fail = (error: P2PError) => {
        if (this.state !== 'connecting') return;
        cancelTimeout();
        reject(error);
        void this.close();
      };
      this.abortOpen = (error) => {
        cancelTimeout();
        reject(error);
      };
      // A re-claimed id gets its queued messages before our echo: keep them for after.
      const early: ServerMessage[] = [];
      const opened = () => {
        if (this.state !== 'connecting') return;
        cancelTimeout();
        this.state = 'open';
        this.scheduleHeartbeat();
        resolve();
        for (const message of early) if (this.state === 'open') this.events.message(message);
      };
      let ws: WebSocketLike;
      try {
        ws = new this.settings.WebSocket(this.url);
      } catch (cause) {
        return fail(new P2PError(P2PErrorCode.SIGNALING, `cannot connect to PeerServer: ${String(cause)}`, { cause }));
      }
      this.ws = ws;
      // `ws` throws when it emits 'error' with no listener (a refused connection would crash
      // the process): this one stays for the socket's whole life; 'close' follows every error.
      ws.onerror = () => {};
      ws.onopen = () => this.sendRaw({ type: ENVELOPE_TYPE, dst: this.id, payload: { p2ph: 1, kind: 'echo' } });
      ws.onclose = (event) => {
        const error = new P2PError(P2PErrorCode.SIGNALING, `PeerServer closed the connection of ${this.id} (code ${event?.code ?? '?'})`);
        if (this.state === 'connecting') return fail(error);
        if (this.state !== 'open') return;
        this.shutDown();
        this.events.closed(error);
      };
      ws.onmessage = (event) => {
        const message = parseServerMessage(event?.data);
        if (message instanceof P2PError) return this.events.malformed(message);
        if (this.state === 'open') return this.events.message(message);
        if (message.type === ServerType.Open) return opened();
        if (message.type === ServerType.IdTaken) return fail(new P2PError(P2PErrorCode.ID_TAKEN, `the id ${this.id} is held by another client`));
        if (message.type === ServerType.InvalidKey) return fail(new P2PError(P2PErrorCode.UNAUTHORIZED, 'PeerServer refused the key'));
        if (message.type === ServerType.Error) return fail(serverRefusal(message.payload));
        if (message.src === this.id && message.type === ENVELOPE_TYPE) return opened();
        if (early.length < 100) early.push(message);
      };
    });
  }

  /** Sends one message; false when the socket is not open (the caller decides whether it matters). */
  send(type: string, dst: string, payload?: unknown): boolean {
    if (this.state !== 'open') return false;
    return this.sendRaw(payload === undefined ? { type, dst } : { type, dst, payload });
  }

  /** Detaches every handler, stops the heartbeat and closes; resolves once closed (bounded). Idempotent. */
  close(): Promise<void> {
    const ws = this.ws;
    if (this.state === 'connecting') this.abortOpen?.(new P2PError(P2PErrorCode.DESTROYED, `the connection of ${this.id} was closed while opening`));
    if (this.state === 'closed' || !ws) {
      this.state = 'closed';
      return Promise.resolve();
    }
    this.shutDown();
    if (ws.readyState === CLOSED_STATE) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const cancel = this.settings.timers.after(CLOSE_WAIT_MS, resolve);
      this.closedWaiters.push(() => {
        cancel();
        resolve();
      });
      // Replaced, not cleared: our own close must not look like the server dropping us.
      ws.onclose = () => this.closedWaiters.splice(0).forEach((done) => done());
      try {
        ws.close(1000);
      } catch {
        resolve();
      }
    });
  }

  private shutDown(): void {
    this.state = 'closed';
    this.cancelHeartbeat();
    const ws = this.ws;
    if (!ws) return;
    ws.onopen = null;
    ws.onmessage = null;
    ws.onclose = null;
  }

  private scheduleHeartbeat(): void {
    this.cancelHeartbeat = this.settings.timers.after(this.settings.pingIntervalMs, () => {
      if (this.state !== 'open') return;
      this.sendRaw({ type: ServerType.Heartbeat });
      this.scheduleHeartbeat();
    });
  }

  private sendRaw(message: object): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN_STATE) return false;
    try {
      ws.send(JSON.stringify(message));
      return true;
    } catch {
      return false;
    }
  }
}
