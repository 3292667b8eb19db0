/**
 * What engine.io and socket.io keep for every connection that nobody reads once the socket is
 * connected, released so that an idle signaling socket costs less (P5 in BENCHMARKS.md):
 *
 * - the HTTP upgrade request (`conn.request`, ~0.9 KiB with its raw headers and stream
 *   state). engine.io itself reads it only while the connection is being set up; socket.io
 *   copies what it needs into `socket.handshake` and, for a later namespace connect on the
 *   same connection, builds the handshake again from the stand-in left in its place.
 * - the `close` listener engine.io's upgrade response object (`WebSocketResponse`) puts on the
 *   TCP socket for HTTP middlewares. It lives as long as the socket and holds the request.
 *   It is removed only when no middleware could be listening: none installed, or only the
 *   CORS one engine.io installs for the `corsOrigin` option, which never listens for it.
 * - the no-op `error` listener (`onUpgradeError`) engine.io puts on a new WebSocket until its
 *   transport listens; on a fresh connection it stays for good, with its closure.
 * - spare room in arrays V8 grew for one entry (`trim` below).
 */
import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Server, Socket } from 'socket.io';

/** What stays of the upgrade request: the fields socket.io reads to build a handshake. */
export interface ReleasedRequest {
  headers: IncomingMessage['headers'];
  url: string | undefined;
  _query: unknown;
  connection: { encrypted: boolean; remoteAddress: string | undefined };
  socket: { encrypted: boolean; remoteAddress: string | undefined };
}

interface EngineInternals {
  middlewares?: unknown[];
  handleUpgrade?: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

type OnceWrapper = ((...args: unknown[]) => void) & { listener?: unknown };

/** Wraps engine.io's upgrade handling to drop its response object's socket listener. */
export function dropUpgradeResponses(io: Server): void {
  const engine = io.engine as unknown as EngineInternals;
  const handleUpgrade = engine.handleUpgrade;
  if (typeof handleUpgrade !== 'function' || !Array.isArray(engine.middlewares)) return;
  // engine.io's own CORS middleware (from the `cors` option) is the only one installed yet.
  const own = new Set(engine.middlewares);
  engine.handleUpgrade = function (this: EngineInternals, request, socket, head) {
    const before = socket.rawListeners('close');
    handleUpgrade.call(this, request, socket, head);
    if (!engine.middlewares!.every((middleware) => own.has(middleware))) return;
    // The response object subscribes with `once` right in its constructor, synchronously;
    // ws's own listeners are plain functions (no `listener` property).
    for (const added of socket.rawListeners('close') as OnceWrapper[]) {
      if (typeof added.listener === 'function' && !before.includes(added)) socket.removeListener('close', added);
    }
  };
}

/**
 * Replaces `holder[key]`, an array V8 grew to 17 slots when its first entry was pushed, by an
 * exact copy (~120 bytes per socket for an array of one).
 */
function trim(holder: unknown, key: string): void {
  if (typeof holder !== 'object' || holder === null) return;
  const record = holder as Record<string, unknown>;
  const array = record[key];
  if (Array.isArray(array) && array.length > 0 && array.length <= 2) record[key] = array.slice();
}

/** `socket.onAny(listener)`, with socket.io's array of them trimmed to our one listener. */
export function listenToAll(socket: Socket, listener: (...args: any[]) => void): void {
  socket.onAny(listener);
  trim(socket, '_anyListeners');
}

/**
 * What a connected socket keeps that nobody reads again, and arrays of one or two entries
 * (engine.io's cleanup list, the decoder's listeners) trimmed to their size.
 */
export function releaseConnection(socket: Socket): void {
  const conn = socket.conn as unknown as { request?: unknown; transport?: unknown };
  releaseRequest(conn);
  dropUpgradeErrorListener(conn);
  trim(conn, 'cleanupFn');
  const decoder = (socket.client as unknown as { decoder?: { _callbacks?: unknown } }).decoder;
  trim(decoder?._callbacks, '$decoded');
}

function dropUpgradeErrorListener(conn: { transport?: unknown }): void {
  const webSocket = (conn.transport as { socket?: Partial<EventEmitter> } | undefined)?.socket;
  if (typeof webSocket?.listeners !== 'function' || typeof webSocket.removeListener !== 'function') return;
  const listeners = webSocket.listeners('error');
  // The transport's own listener stays: an 'error' nobody listens for would throw.
  if (listeners.length < 2) return;
  for (const listener of listeners) if (listener.name === 'onUpgradeError') webSocket.removeListener('error', listener as (...args: unknown[]) => void);
}

/** Replaces a connected socket's upgrade request by the few fields socket.io reads from it. */
function releaseRequest(conn: { request?: unknown }): void {
  const request = conn.request as IncomingMessage | ReleasedRequest | undefined;
  if (!request || !('rawHeaders' in request)) return; // already released, or no request (WebTransport)
  const encrypted = Boolean((request.socket as { encrypted?: boolean } | null)?.encrypted);
  const origin = { encrypted, remoteAddress: request.socket?.remoteAddress };
  const released: ReleasedRequest = {
    headers: request.headers,
    url: request.url,
    _query: (request as { _query?: unknown })._query,
    connection: origin,
    socket: origin,
  };
  conn.request = released;
}
