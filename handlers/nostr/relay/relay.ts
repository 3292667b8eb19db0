import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NostrRelay } from '@nostr-relay/core';
import {
  createOutgoingEventMessage,
  createOutgoingNoticeMessage,
  type ClientContext,
  type Event,
  type Logger,
  type NostrRelayPlugin,
} from '@nostr-relay/common';
import { Validator } from '@nostr-relay/validator';
import { matchFilters, type Filter as ToolsFilter } from 'nostr-tools/filter';
import type { NostrEvent } from 'nostr-tools/pure';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { P2PError, P2PErrorCode } from '../../../src/errors.js';
import { invalidOption } from '../../../src/mesh/options.js';
import { MemoryEventRepository } from './event-store.js';

export interface NostrRelayServerOptions {
  /** TCP port to listen on. Default: `0`, an ephemeral port (read it from `url`). */
  port?: number;
  /** Interface to bind; exposing the relay is a choice. Default: `'127.0.0.1'`. */
  host?: string;
  /**
   * Keep regular and replaceable events (kinds outside 20000–29999) in memory for later REQs,
   * up to 10,000. Default: `false`: signaling uses ephemeral events only, and a relay that
   * stores whatever anyone publishes is memory any client may fill; such events are answered
   * `OK false "blocked: …"`.
   */
  storeEvents?: boolean;
}

export interface NostrRelayServer {
  /** `ws://host:port` of the running relay. */
  readonly url: string;
  /** Stops listening and terminates every connection. Idempotent; leaves no handle behind. */
  close(): Promise<void>;
}

/** Largest WebSocket message accepted: a 64 KiB NIP-44 plaintext is ~90 KB of event JSON. */
const MAX_MESSAGE_BYTES = 256 * 1024;
/**
 * Most JSON values (arrays, objects, strings, numbers…) in one message. The validator (zod)
 * costs ~0.1 ms per tag: one 2,000-tag event held the event loop for ~0.2 s, so a single
 * client could stall every room. Signaling events and REQs have a dozen or so.
 */
const MAX_JSON_VALUES = 512;
/** Messages of one connection waiting their turn; a client that floods faster is cut off. */
const MAX_QUEUED_MESSAGES = 256;

const silentLogger: Logger = { setLogLevel() {}, debug() {}, info() {}, warn() {}, error() {} };

/**
 * A small in-memory Nostr relay (NIP-01) for tests, demos and self-hosting a private room:
 * @nostr-relay/core behind a `ws` server. It forwards ephemeral events (what the Nostr
 * handler signals with) to every matching subscription; with `storeEvents`, it also stores
 * regular events in memory.
 */
export async function startNostrRelay(options: NostrRelayServerOptions = {}): Promise<NostrRelayServer> {
  if (typeof options !== 'object' || options === null) throw invalidOption('options must be an object');
  const { port = 0, host = '127.0.0.1', storeEvents = false } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw invalidOption('`port` must be an integer in 0–65535');
  if (typeof host !== 'string' || host.length === 0) throw invalidOption('`host` must be a non-empty string');
  if (typeof storeEvents !== 'boolean') throw invalidOption('`storeEvents` must be a boolean');

  const contexts = new Map<unknown, ClientContext>();
  const relay = new NostrRelay(new MemoryEventRepository(), {
    logger: silentLogger,
    // Both caches default to on: the first would drop a re-published identical event for 10
    // minutes, the second would answer a REQ from a stale snapshot. Signaling needs neither.
    eventHandlingResultCacheTtl: 0,
    filterResultCacheTtl: 0,
  });
  relay.register(subscriptionRegistry(contexts));

  const http = createServer((_request: IncomingMessage, response: ServerResponse) => {
    response.writeHead(426, { 'content-type': 'text/plain' }).end('This is a Nostr relay: connect with a WebSocket.\n');
  });
  const validator = new Validator();

  const handle = async (socket: WebSocket, data: RawData): Promise<void> => {
    // The backlog of a connection that went away is dropped, not worked through.
    if (socket.readyState !== socket.OPEN) return;
    try {
      const parsed: unknown = JSON.parse(String(data));
      if (countsMoreThan(parsed, MAX_JSON_VALUES)) throw new Error(`invalid: more than ${MAX_JSON_VALUES} JSON values in one message`);
      const message = await validator.validateIncomingMessage(parsed as Buffer);
      if (!storeEvents && message[0] === 'EVENT' && !isEphemeral(message[1].kind)) {
        socket.send(JSON.stringify(['OK', message[1].id, false, 'blocked: this relay keeps no events; it relays ephemeral kinds 20000-29999 only']));
        return;
      }
      await relay.handleMessage(socket, message);
    } catch (error) {
      if (socket.readyState === socket.OPEN) {
        const reason = error instanceof SyntaxError ? 'invalid: not JSON' : error instanceof Error ? error.message : 'invalid message';
        socket.send(JSON.stringify(createOutgoingNoticeMessage(reason.slice(0, 300))));
      }
    }
  };

  await new Promise<void>((resolve, reject) => {
    http.once('error', (error) =>
      reject(new P2PError(P2PErrorCode.SIGNALING, `the Nostr relay cannot listen on ${host}:${port}: ${error.message}`, { cause: error })),
    );
    http.listen(port, host, () => resolve());
  });
  // Attached once listening: ws re-emits the server's errors, and an unheard one would throw.
  const wss = new WebSocketServer({ server: http, maxPayload: MAX_MESSAGE_BYTES });
  wss.on('error', () => {});
  wss.on('connection', (socket, request) => {
    relay.handleConnection(socket, request.socket.remoteAddress);
    // One message at a time per connection: validation is async, and a REQ must be in
    // place before the EVENT sent right after it is broadcast (NIP-01 clients rely on order).
    let queue = Promise.resolve();
    let queued = 0;
    socket.on('message', (data) => {
      if (++queued > MAX_QUEUED_MESSAGES) return void socket.close(1008, 'too many messages at once');
      queue = queue.then(() => handle(socket, data)).finally(() => queued--);
    });
    socket.on('close', () => {
      queue = queue.then(() => {
        relay.handleDisconnect(socket);
        contexts.delete(socket);
      });
    });
    // A client's broken socket is its own problem; without a listener it would crash us.
    socket.on('error', () => {});
  });

  const address = http.address() as AddressInfo;
  const url = `ws://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      contexts.clear();
      await relay.destroy();
    })();
    return closing;
  };
  return { url, close };
}

const isEphemeral = (kind: number): boolean => kind >= 20_000 && kind < 30_000;

/** Walks `value` without recursion (a hostile message may nest 100,000 deep); true past `max` values. */
function countsMoreThan(value: unknown, max: number): boolean {
  const pending: unknown[] = [value];
  let count = 0;
  while (pending.length > 0) {
    const item = pending.pop();
    if (++count > max) return true;
    const children = Array.isArray(item) ? item : typeof item === 'object' && item !== null ? Object.values(item) : [];
    if (count + pending.length + children.length > max) return true;
    for (const child of children) pending.push(child);
  }
  return false;
}

/**
 * @nostr-relay/core 0.0.40 matches a broadcast against ids, authors, kinds and time only,
 * ignoring `#x`/`#p` tag filters, so every peer would receive every room's signals. This
 * plugin records each client's context and does the broadcast itself with full NIP-01
 * matching (nostr-tools' `matchFilters`).
 */
function subscriptionRegistry(contexts: Map<unknown, ClientContext>): NostrRelayPlugin {
  return {
    handleMessage(ctx, message, next) {
      contexts.set(ctx.client, ctx);
      return next();
    },
    async broadcast(event: Event) {
      for (const ctx of contexts.values()) {
        if (!ctx.isOpen) continue;
        ctx.subscriptions.forEach((filters, subscriptionId) => {
          if (matchFilters(filters as ToolsFilter[], event as NostrEvent)) ctx.sendMessage(createOutgoingEventMessage(subscriptionId, event));
        });
      }
    },
  } as NostrRelayPlugin;
}
