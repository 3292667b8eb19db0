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
import { MessageRateLimiter } from './server-limits.js';
import type { Handshake, ResolvedOptions } from './server-options.js';
import { RoomRegistry } from './server-rooms.js';

/** RxDB's server drops a client silent for this long (its clients ping every 60 s). */
export const RXDB_SILENCE_LIMIT_MS = 2 * 60_000;

export interface RxdbSignaling {
  readonly clients: () => number;
  close(): Promise<void>;
}

export function attachRxdbSignaling(server: HttpServer | HttpsServer, config: ResolvedOptions): RxdbSignaling {
  const { rxdbPath, path: socketIoPath } = config;
  const registry = new RoomRegistry<WebSocket>(config);
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxPayloadBytes * 2 + 16 * 1024 });
  const lastHeard = new Map<WebSocket, number>();
  const ids = new Map<WebSocket, string>();

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

  function onMessage(socket: WebSocket, raw: RawData, binary: boolean, limiter: MessageRateLimiter): void {
    lastHeard.set(socket, Date.now());
    const verdict = limiter.take();
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
    const self = ids.get(socket)!;
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

  function onConnection(socket: WebSocket): void {
    const self = randomId(12);
    ids.set(socket, self);
    lastHeard.set(socket, Date.now());
    const limiter = new MessageRateLimiter(config);
    socket.on('message', (raw, binary) => {
      try {
        onMessage(socket, raw, binary, limiter);
      } catch {
        // A bug here must cost one message, never the process.
        refuse(socket, P2PErrorCode.SIGNALING, 'internal server error');
      }
    });
    socket.on('error', () => socket.terminate());
    socket.on('close', () => {
      ids.delete(socket);
      lastHeard.delete(socket);
      for (const room of registry.leaveAll(socket)) broadcastJoined(room);
    });
    send(socket, { type: 'init', yourPeerId: self });
  }

  async function onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path.startsWith(socketIoPath)) return; // socket.io answers its own upgrades
    if (path !== rxdbPath) return void socket.destroy();
    socket.on('error', () => socket.destroy());
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
    const silentSince = Date.now() - RXDB_SILENCE_LIMIT_MS;
    for (const [socket, heard] of lastHeard) if (heard < silentSince) socket.terminate();
  }, RXDB_SILENCE_LIMIT_MS / 4);

  let closing: Promise<void> | undefined;
  return {
    clients: () => ids.size,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        clearInterval(sweep);
        server.off('upgrade', upgrade);
        for (const socket of wss.clients) socket.terminate();
        wss.close(() => resolve());
      })),
  };
}
