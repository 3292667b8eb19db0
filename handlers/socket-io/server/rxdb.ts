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
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { P2PErrorCode } from '../../../src/errors.js';
import { randomId } from '../../../src/mesh/options.js';
import { isValidId } from '../protocol.js';
import { MessageRateLimiter, RatePolicy, type AddressCounter } from './limits.js';
import type { Handshake, ResolvedOptions } from './options.js';
import { RoomRegistry } from './rooms.js';

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

export function attachRxdbSignaling(server: HttpServer | HttpsServer, config: ResolvedOptions, addresses: AddressCounter): RxdbSignaling {
  const { rxdbPath, path: socketIoPath } = config;
  const enginePath = `${socketIoPath.replace(/\/$/, '')}/`;
  const registry = new RoomRegistry<WebSocket>(config);
  // `clients` below tracks the sockets: ws's own tracking would add a Set entry and a closure per socket.
  const wss = new WebSocketServer({ noServer: true, clientTracking: false, maxPayload: config.maxPayloadBytes * 2 + 16 * 1024 });
  const policy = new RatePolicy(config);
  const joinPolicy = new RatePolicy({ messagesPerSecond: config.joinsPerSecond, messageBurst: Math.ceil(2 * config.joinsPerSecond), maxDroppedMessages: config.maxDroppedMessages, now: policy.now });
  const clients = new Map<WebSocket, RxdbClient>();
  // Rooms whose member list changed in this turn of the event loop: each is sent once, after it.
  const changedRooms = new Set<string>();
  let rosterFlush: NodeJS.Immediate | undefined;

  const send = (socket: WebSocket, message: object) => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
  };
  const refuse = (socket: WebSocket, code: P2PErrorCode, message: string) => send(socket, { type: 'error', code, message });
  const flushRosters = () => {
    rosterFlush = undefined;
    for (const room of changedRooms) {
      const otherPeerIds = registry.peerIds(room);
      // Encoded once for the whole room.
      const encoded = JSON.stringify({ type: 'joined', otherPeerIds });
      for (const id of otherPeerIds) {
        const member = registry.holder(room, id);
        if (member?.readyState === member?.OPEN) member!.send(encoded);
      }
    }
    changedRooms.clear();
  };
  const rosterChanged = (room: string) => {
    changedRooms.add(room);
    rosterFlush ??= setImmediate(flushRosters);
  };

  function onMessage(socket: WebSocket, raw: RawData, binary: boolean, client: RxdbClient): void {
    const verdict = client.take(); // also the time last heard, for the silence sweep
    if (verdict === 'disconnect') return socket.terminate();
    if (verdict === 'drop') return refuse(socket, P2PErrorCode.LIMIT_EXCEEDED, `over ${config.messagesPerSecond} messages per second`);
    const text = binary ? undefined : raw.toString();
    let message: any;
    try {
      message = text === undefined ? undefined : JSON.parse(text);
    } catch {
      message = undefined;
    }
    if (typeof message !== 'object' || message === null) return refuse(socket, P2PErrorCode.PROTOCOL, 'expected a JSON object');
    const self = client.id;
    if (message.type === 'ping') return;
    if (message.type === 'join') {
      if (!isValidId(message.room)) return refuse(socket, P2PErrorCode.PROTOCOL, 'join needs a room of 1 to 256 characters');
      const allowed = client.joins.take();
      if (allowed === 'disconnect') return socket.terminate();
      if (allowed === 'drop') return refuse(socket, P2PErrorCode.LIMIT_EXCEEDED, `over ${config.joinsPerSecond} joins per second`);
      // A repeat changes nothing for the others: only the sender hears the list again.
      if (registry.peerIdOf(socket, message.room) === self) return send(socket, { type: 'joined', otherPeerIds: registry.peerIds(message.room) });
      const result = registry.join(socket, message.room, self);
      if (!result.ok) return refuse(socket, result.code, result.message);
      return rosterChanged(message.room);
    }
    if (message.type === 'signal') {
      const { room, senderPeerId, receiverPeerId, data, connectionId } = message;
      if (!isValidId(room) || !isValidId(receiverPeerId) || data === undefined) {
        return refuse(socket, P2PErrorCode.PROTOCOL, 'signal needs room, receiverPeerId and data');
      }
      if (senderPeerId !== self) return refuse(socket, P2PErrorCode.PROTOCOL, 'senderPeerId must be your own id');
      if (registry.peerIdOf(socket, room) !== self) return refuse(socket, P2PErrorCode.PROTOCOL, `not a member of room "${room}"`);
      if (text!.length > config.maxPayloadBytes) return refuse(socket, P2PErrorCode.PAYLOAD_TOO_LARGE, `signal over ${config.maxPayloadBytes} bytes`);
      const target = registry.holder(room, receiverPeerId);
      if (!target) return refuse(socket, P2PErrorCode.PEER_NOT_CONNECTED, `peer "${receiverPeerId}" is not in room "${room}"`);
      const relayed = { type: 'signal', room, senderPeerId, receiverPeerId, data, ...(typeof connectionId === 'string' ? { connectionId } : {}) };
      return send(target, relayed);
    }
    refuse(socket, P2PErrorCode.PROTOCOL, 'unknown message type; expected join, signal or ping');
  }

  // Listeners shared by every socket (ws calls them with the socket as `this`): closures per
  // socket would cost ~60 bytes each.
  function onSocketMessage(this: WebSocket, raw: RawData, binary: boolean): void {
    const client = clients.get(this);
    if (!client) return;
    try {
      onMessage(this, raw, binary, client);
    } catch {
      // A bug here must cost one message, never the process.
      refuse(this, P2PErrorCode.SIGNALING, 'internal server error');
    }
  }
  function onSocketError(this: WebSocket): void {
    this.terminate();
  }
  function onSocketClose(this: WebSocket): void {
    const client = clients.get(this);
    clients.delete(this);
    if (client) addresses.release(client.address);
    for (const room of registry.leaveAll(this)) rosterChanged(room);
  }

  function onConnection(socket: WebSocket, address: string | undefined): void {
    const client = new RxdbClient(policy, randomId(12), new MessageRateLimiter(joinPolicy), address);
    clients.set(socket, client);
    socket.on('message', onSocketMessage);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    send(socket, { type: 'init', yourPeerId: client.id });
  }

  async function onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const requested = new URL(request.url ?? '/', 'http://localhost');
    const path = requested.pathname;
    // engine.io answers exactly the URLs that start with its path and a slash; any other
    // path is ours to close, or it would stay open for ever.
    if ((request.url ?? '').startsWith(enginePath)) return;
    if (path !== rxdbPath) return void socket.destroy();
    socket.on('error', destroyOnError);
    const address = request.socket.remoteAddress;
    if (!addresses.acquire(address)) return void socket.end('HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\n\r\n');
    if (config.authenticate) {
      // A plain WebSocket carries credentials in its URL's query (RxDB's client has no `auth`).
      const query = Object.fromEntries(requested.searchParams);
      const handshake = { headers: request.headers, address, url: request.url, query, auth: {} };
      const accepted = await Promise.resolve()
        .then(() => config.authenticate!(handshake as unknown as Handshake))
        .catch(() => false);
      if (!accepted) {
        addresses.release(address);
        return void socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      }
    }
    wss.handleUpgrade(request, socket, head, (ws) => onConnection(ws, address));
  }

  const upgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => void onUpgrade(request, socket, head);
  server.on('upgrade', upgrade);
  const sweep = setInterval(() => {
    const silentSince = policy.now() - RXDB_SILENCE_LIMIT_MS;
    for (const [socket, client] of clients) if (client.lastMessageAt < silentSince) socket.terminate();
  }, RXDB_SILENCE_LIMIT_MS / 4);

  let closing: Promise<void> | undefined;
  return {
    clients: () => clients.size,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        clearInterval(sweep);
        if (rosterFlush) clearImmediate(rosterFlush);
        server.off('upgrade', upgrade);
        for (const socket of clients.keys()) socket.terminate();
        wss.close(() => resolve());
      })),
  };
}
