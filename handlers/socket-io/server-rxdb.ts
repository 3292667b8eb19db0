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
import { P2PErrorCode } from '../../src/errors.js';
import { randomId } from '../../src/mesh/options.js';
import { isValidId } from './protocol.js';
import { MessageRateLimiter, RatePolicy } from './server-limits.js';
import type { Handshake, ResolvedOptions } from './server-options.js';
import { RoomRegistry } from './server-rooms.js';

/** RxDB's server drops a client silent for this long (its clients ping every 60 s). */
export const RXDB_SILENCE_LIMIT_MS = 2 * 60_000;

/** What the endpoint keeps per client: its id and, in the same object, its rate limit and last message time. */
class RxdbClient extends MessageRateLimiter {
  constructor(
    policy: RatePolicy,
    readonly id: string,
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

export function attachRxdbSignaling(server: HttpServer | HttpsServer, config: ResolvedOptions): RxdbSignaling {
  const { rxdbPath, path: socketIoPath } = config;
  const registry = new RoomRegistry<WebSocket>(config);
  // `clients` below tracks the sockets: ws's own tracking would add a Set entry and a closure per socket.
  const wss = new WebSocketServer({ noServer: true, clientTracking: false, maxPayload: config.maxPayloadBytes * 2 + 16 * 1024 });
  const policy = new RatePolicy(config);
  const clients = new Map<WebSocket, RxdbClient>();

  const send = (socket: WebSocket, message: object) => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
  };
  const refuse = (socket: WebSocket, code: P2PErrorCode, message: string) => send(socket, { type: 'error', code, message });
  const broadcastJoined = (room: string) => {
    const otherPeerIds = registry.peerIds(room);
    for (const id of otherPeerIds) {
      const member = registry.holder(room, id);
      if (member) send(member, { type: 'joined', otherPeerIds });
    }
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
      const result = registry.join(socket, message.room, self);
      if (!result.ok) return refuse(socket, result.code, result.message);
      return broadcastJoined(message.room);
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
    clients.delete(this);
    for (const room of registry.leaveAll(this)) broadcastJoined(room);
  }

  function onConnection(socket: WebSocket): void {
    const client = new RxdbClient(policy, randomId(12));
    clients.set(socket, client);
    socket.on('message', onSocketMessage);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    send(socket, { type: 'init', yourPeerId: client.id });
  }

  async function onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path.startsWith(socketIoPath)) return; // socket.io answers its own upgrades
    if (path !== rxdbPath) return void socket.destroy();
    socket.on('error', destroyOnError);
    if (config.authenticate) {
      const handshake = { headers: request.headers, address: request.socket.remoteAddress, url: request.url, query: {}, auth: {} };
      const accepted = await Promise.resolve()
        .then(() => config.authenticate!(handshake as unknown as Handshake))
        .catch(() => false);
      if (!accepted) return void socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
    }
    wss.handleUpgrade(request, socket, head, (ws) => onConnection(ws));
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
        server.off('upgrade', upgrade);
        for (const socket of clients.keys()) socket.terminate();
        wss.close(() => resolve());
      })),
  };
}
