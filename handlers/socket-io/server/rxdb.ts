/**
 * RxDB's own plain-WebSocket signaling protocol (RxDB 15+ `getConnectionHandlerSimplePeer`,
 * the protocol of `startSignalingServerSimplePeer`) on the same HTTP server as socket.io, so an
 * RxDB app moves to this hardened server without changing its client code. Unlike RxDB's
 * server it checks room membership on signals and enforces the same limits as socket.io.
 *
 *   server → client  { type: 'init', yourPeerId }            (12 characters, chosen here)
 *   client → server  { type: 'join', room }
 *   server → room    { type: 'joined', otherPeerIds }        (every id, the receiver's too)
 *   client ↔ server  { type: 'signal', room, senderPeerId, receiverPeerId, data, connectionId? }
 *   client → server  { type: 'ping' }                        (every 60 s; 2 min silent = gone)
 *   server → client  { type: 'error', code, message }       (ignored by RxDB's client)
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import { P2PErrorCode } from '../../../src/errors.js';
import { randomId } from '../../../src/mesh/options.js';
import { isValidId } from '../protocol.js';
import { MessageRateLimiter, RatePolicy, limiterNow, type AddressCounter } from './limits.js';
import type { Handshake, ResolvedOptions } from './options.js';
import { RoomRegistry } from './rooms.js';
import { checkSignal } from './rules.js';
import { TimerSet } from '../../../src/mesh/timers.js';

/** RxDB's server drops a client silent for this long (its clients ping every 60 s). */
export const RXDB_SILENCE_LIMIT_MS = 2 * 60_000;

/** What the endpoint keeps per client: its id and, in the same object, its rate limit and last message time. */
class RxdbClient extends MessageRateLimiter {
  constructor(
    policy: RatePolicy,
    readonly id: string,
    /** Joins have a budget of their own: each one can make the server write to a whole room. */
    readonly joins: MessageRateLimiter,
    readonly address: string | undefined,
  ) {
    super(policy);
  }
}

/** Shared by every upgrading socket: a closure per socket would stay on it for its whole life. */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

export interface RxdbSignaling {
  readonly clients: () => number;
  close(): Promise<void>;
}

/** `Wss`: ws's WebSocketServer, loaded by the caller (an optional package). */
export function attachRxdbSignaling(
  server: HttpServer | HttpsServer,
  config: ResolvedOptions,
  addresses: AddressCounter,
  Wss: typeof WebSocketServer,
): RxdbSignaling {
  return new RxdbEndpoint(server, config, addresses, Wss);
}

/** Clients are tracked here: ws's own tracking would add a Set entry and a closure per socket. */
class RxdbEndpoint implements RxdbSignaling {
  private readonly enginePath: string;
  private readonly registry: RoomRegistry<WebSocket>;
  private readonly wss: WebSocketServer;
  private readonly policy: RatePolicy;
  private readonly joinPolicy: RatePolicy;
  private readonly sockets = new Map<WebSocket, RxdbClient>();
  /** Rooms whose member list changed in this turn of the event loop: each is sent once, after it. */
  private readonly changedRooms = new Set<string>();
  private rosterFlush: NodeJS.Immediate | undefined;
  private readonly timers: TimerSet;
  private closing: Promise<void> | undefined;
  /**
   * Made once and shared by every socket (ws calls them with the socket as `this`): closures
   * per socket would cost ~60 bytes each.
   */
  private readonly listeners = listenersOf(this);
  private readonly upgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => void this.onUpgrade(request, socket, head);

  constructor(
    private readonly server: HttpServer | HttpsServer,
    private readonly config: ResolvedOptions,
    private readonly addresses: AddressCounter,
    Wss: typeof WebSocketServer,
  ) {
    this.enginePath = `${config.path.replace(/\/$/, '')}/`;
    this.registry = new RoomRegistry<WebSocket>(config);
    this.wss = new Wss({ noServer: true, clientTracking: false, maxPayload: config.maxPayloadBytes * 2 + 16 * 1024 });
    this.policy = new RatePolicy({ ...config, now: limiterNow(config.clock) });
    const { joinsPerSecond, maxDroppedMessages } = config;
    this.joinPolicy = new RatePolicy({ messagesPerSecond: joinsPerSecond, messageBurst: Math.ceil(2 * joinsPerSecond), maxDroppedMessages, now: this.policy.now });
    this.timers = new TimerSet(config.clock);
    server.on('upgrade', this.upgrade);
    this.sweepSilent();
  }

  clients = (): number => this.sockets.size;

  close(): Promise<void> {
    return (this.closing ??= new Promise<void>((resolve) => {
      this.timers.dispose();
      if (this.rosterFlush) clearImmediate(this.rosterFlush);
      this.server.off('upgrade', this.upgrade);
      for (const socket of this.sockets.keys()) socket.terminate();
      this.wss.close(() => resolve());
    }));
  }

  private async onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const requested = new URL(request.url ?? '/', 'http://localhost');
    // engine.io answers exactly the URLs that start with its path and a slash; any other
    // path is ours to close, or it would stay open for ever.
    if ((request.url ?? '').startsWith(this.enginePath)) return;
    if (requested.pathname !== this.config.rxdbPath) return void socket.destroy();
    socket.on('error', destroyOnError);
    const address = request.socket.remoteAddress;
    if (!this.addresses.acquire(address)) return void socket.end('HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\n\r\n');
    if (!(await this.authenticated(request, requested, address))) {
      this.addresses.release(address);
      return void socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.onConnection(ws, address));
  }

  /** A plain WebSocket carries credentials in its URL's query (RxDB's client has no `auth`). */
  private async authenticated(request: IncomingMessage, requested: URL, address: string | undefined): Promise<boolean> {
    const { authenticate } = this.config;
    if (!authenticate) return true;
    const handshake = { headers: request.headers, address, url: request.url, query: Object.fromEntries(requested.searchParams), auth: {} };
    const accepted = await Promise.resolve()
      .then(() => authenticate(handshake as unknown as Handshake))
      .catch(() => false);
    return !!accepted;
  }

  private onConnection(socket: WebSocket, address: string | undefined): void {
    const client = new RxdbClient(this.policy, randomId(12), new MessageRateLimiter(this.joinPolicy), address);
    this.sockets.set(socket, client);
    socket.on('message', this.listeners.message);
    socket.on('error', this.listeners.error);
    socket.on('close', this.listeners.close);
    send(socket, { type: 'init', yourPeerId: client.id });
  }

  onSocketMessage(socket: WebSocket, raw: RawData, binary: boolean): void {
    const client = this.sockets.get(socket);
    if (!client) return;
    try {
      this.onMessage(socket, raw, binary, client);
    } catch {
      // A bug here must cost one message, never the process.
      refuse(socket, P2PErrorCode.SIGNALING, 'internal server error');
    }
  }

  onSocketClose(socket: WebSocket): void {
    const client = this.sockets.get(socket);
    this.sockets.delete(socket);
    if (client) this.addresses.release(client.address);
    for (const room of this.registry.leaveAll(socket)) this.rosterChanged(room);
  }

  private onMessage(socket: WebSocket, raw: RawData, binary: boolean, client: RxdbClient): void {
    const verdict = client.take(); // also the time last heard, for the silence sweep
    if (verdict === 'disconnect') return socket.terminate();
    if (verdict === 'drop') return refuse(socket, P2PErrorCode.LIMIT_EXCEEDED, `over ${this.config.messagesPerSecond} messages per second`);
    const text = binary ? undefined : raw.toString();
    const message = parseObject(text);
    if (!message) return refuse(socket, P2PErrorCode.PROTOCOL, 'expected a JSON object');
    if (message.type === 'ping') return;
    if (message.type === 'join') return this.join(socket, client, message.room);
    if (message.type === 'signal') return this.signal(socket, client, message, text!.length);
    refuse(socket, P2PErrorCode.PROTOCOL, 'unknown message type; expected join, signal or ping');
  }

  private join(socket: WebSocket, client: RxdbClient, room: unknown): void {
    if (!isValidId(room)) return refuse(socket, P2PErrorCode.PROTOCOL, 'join needs a room of 1 to 256 characters');
    const allowed = client.joins.take();
    if (allowed === 'disconnect') return socket.terminate();
    if (allowed === 'drop') return refuse(socket, P2PErrorCode.LIMIT_EXCEEDED, `over ${this.config.joinsPerSecond} joins per second`);
    const result = this.registry.join(socket, room, client.id);
    if (!result.ok) return refuse(socket, result.code, result.message);
    // A repeat changes nothing for the others: only the sender hears the list again.
    if (result.kind === 'rejoined') return send(socket, { type: 'joined', otherPeerIds: this.registry.peerIds(room) });
    this.rosterChanged(room);
  }

  private signal(socket: WebSocket, client: RxdbClient, message: Record<string, unknown>, bytes: number): void {
    const { room, senderPeerId, receiverPeerId, data, connectionId } = message;
    if (!isValidId(room) || !isValidId(receiverPeerId) || data === undefined) {
      return refuse(socket, P2PErrorCode.PROTOCOL, 'signal needs room, receiverPeerId and data');
    }
    if (senderPeerId !== client.id) return refuse(socket, P2PErrorCode.PROTOCOL, 'senderPeerId must be your own id');
    if (bytes > this.config.maxPayloadBytes) return refuse(socket, P2PErrorCode.PAYLOAD_TOO_LARGE, `signal over ${this.config.maxPayloadBytes} bytes`);
    const target = this.registry.holder(room, receiverPeerId);
    const refusal = checkSignal(this.registry.peerIdOf(socket, room), target !== undefined, client.id, receiverPeerId, room);
    if (refusal) return refuse(socket, refusal.code, refusal.message);
    send(target!, { type: 'signal', room, senderPeerId, receiverPeerId, data, ...(typeof connectionId === 'string' ? { connectionId } : {}) });
  }

  private rosterChanged(room: string): void {
    this.changedRooms.add(room);
    this.rosterFlush ??= setImmediate(() => this.flushRosters());
  }

  private flushRosters(): void {
    this.rosterFlush = undefined;
    for (const room of this.changedRooms) {
      const otherPeerIds = this.registry.peerIds(room);
      // Encoded once for the whole room.
      const encoded = JSON.stringify({ type: 'joined', otherPeerIds });
      for (const id of otherPeerIds) {
        const member = this.registry.holder(room, id);
        if (member?.readyState === member?.OPEN) member!.send(encoded);
      }
    }
    this.changedRooms.clear();
  }

  private sweepSilent(): void {
    this.timers.after(RXDB_SILENCE_LIMIT_MS / 4, () => {
      const silentSince = this.policy.now() - RXDB_SILENCE_LIMIT_MS;
      for (const [socket, client] of this.sockets) if (client.lastMessageAt < silentSince) socket.terminate();
      this.sweepSilent();
    });
  }
}

function listenersOf(endpoint: { onSocketMessage(socket: WebSocket, raw: RawData, binary: boolean): void; onSocketClose(socket: WebSocket): void }) {
  return {
    message(this: WebSocket, raw: RawData, binary: boolean): void {
      endpoint.onSocketMessage(this, raw, binary);
    },
    error(this: WebSocket): void {
      this.terminate();
    },
    close(this: WebSocket): void {
      endpoint.onSocketClose(this);
    },
  };
}

function send(socket: WebSocket, message: object): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
}

function refuse(socket: WebSocket, code: P2PErrorCode, message: string): void {
  send(socket, { type: 'error', code, message });
}

function parseObject(text: string | undefined): Record<string, unknown> | undefined {
  try {
    const value: unknown = text === undefined ? undefined : JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
