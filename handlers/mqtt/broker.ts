import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { toP2PError, P2PErrorCode } from '../../src/errors.js';
import { loadOptional } from '../../src/optional.js';
import { invalidOption } from '../../src/mesh/options.js';

export interface MqttBrokerOptions {
  /** TCP port for `mqtt://`. Default: 0 (an ephemeral port). */
  port?: number;
  /** Port for MQTT over WebSocket (`ws://`). Default: 0 (an ephemeral port). */
  wsPort?: number;
  /** Interface both listeners bind to; exposing the broker is a choice. Default: '127.0.0.1'. */
  host?: string;
  /**
   * Largest MQTT packet a client may send, in bytes; a client announcing a larger one is
   * disconnected before the broker buffers it (aedes alone buffers up to 256 MB per client).
   * Default: 1048576 (1 MiB; the MQTT handler's signals are a few KiB).
   */
  maxPacketBytes?: number;
  /**
   * Most topics holding a retained message. Retained messages live as long as the process, so
   * without a cap a client publishing to ever new topics would grow the broker for good; past
   * it, a retained message to a new topic is delivered but not kept. Default: 10000.
   */
  maxRetainedMessages?: number;
  /**
   * Most bytes (topic names and payloads) of all retained messages together; past it, a
   * retained message that would grow them is delivered but not kept. The count cap alone lets
   * 10,000 clients' 1 MiB messages hold 10 GB. Default: 33554432 (32 MiB; a presence is ~300 B).
   */
  maxRetainedBytes?: number;
}

export interface MqttBroker {
  /** `mqtt://host:port` */
  readonly url: string;
  /** `ws://host:wsPort` */
  readonly wsUrl: string;
  /** Disconnects every client and closes both listeners. Idempotent. */
  close(): Promise<void>;
}

function assertPort(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
    throw invalidOption(`\`${name}\` must be an integer port between 0 and 65535`);
  }
}

function listen(server: NetServer | HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

function closeServer(server: NetServer | HttpServer): Promise<void> {
  return new Promise((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
}

/**
 * Follows packet boundaries in a client's byte stream (MQTT fixed header: one type byte, then
 * the remaining length in 1–4 bytes of 7 bits) and refuses a packet announced over `max`.
 */
class PacketSizes {
  private skip = 0;
  /** -1 before a packet's type byte; then the length bytes read so far. */
  private lengthBytes = -1;
  private length = 0;

  constructor(private readonly max: number) {}

  accept(chunk: Buffer): boolean {
    for (let i = 0; i < chunk.length; ) {
      if (this.skip > 0) {
        const step = Math.min(this.skip, chunk.length - i);
        this.skip -= step;
        i += step;
      } else if (this.lengthBytes < 0) {
        this.lengthBytes = 0;
        this.length = 0;
        i++;
      } else {
        const byte = chunk[i++]!;
        this.length += (byte & 0x7f) * 128 ** this.lengthBytes++;
        if (this.length > this.max || this.lengthBytes > 4) return false;
        if (byte & 0x80) continue;
        this.skip = this.length;
        this.lengthBytes = -1;
      }
    }
    return true;
  }
}

/** Which topics hold a retained message and their bytes, within both caps. */
class RetainedBudget {
  private readonly sizes = new Map<string, number>();
  private bytes = 0;

  constructor(private readonly maxMessages: number, private readonly maxBytes: number) {}

  /** Whether the broker may keep this retained message (an empty one deletes, and always may). */
  admit(topic: string, payloadBytes: number): boolean {
    const held = this.sizes.get(topic);
    const size = payloadBytes === 0 ? 0 : Buffer.byteLength(topic) + payloadBytes;
    const bytes = this.bytes - (held ?? 0) + size;
    if (size > 0 && (bytes > this.maxBytes || (held === undefined && this.sizes.size >= this.maxMessages))) return false;
    this.bytes = bytes;
    if (size === 0) this.sizes.delete(topic);
    else this.sizes.set(topic, size);
    return true;
  }
}

const urlHost = (host: string): string => (host.includes(':') ? `[${host}]` : host);

/**
 * An embedded MQTT 3.1.1 broker (aedes, in memory: retained messages and wills live as long
 * as the process) on TCP and WebSocket, for the demo, self-hosting and tests.
 */
export async function startMqttBroker(options: MqttBrokerOptions = {}): Promise<MqttBroker> {
  if (typeof options !== 'object' || options === null) throw invalidOption('options must be an object');
  const { port = 0, wsPort = 0, host = '127.0.0.1', maxPacketBytes = 1024 * 1024, maxRetainedMessages = 10_000, maxRetainedBytes = 32 * 1024 * 1024 } = options;
  assertPort(port, 'port');
  assertPort(wsPort, 'wsPort');
  if (typeof host !== 'string' || host.length === 0) throw invalidOption('`host` must be a non-empty string');
  if (!Number.isSafeInteger(maxPacketBytes) || maxPacketBytes < 2) throw invalidOption('`maxPacketBytes` must be an integer of at least 2');
  if (!Number.isSafeInteger(maxRetainedMessages) || maxRetainedMessages < 0) throw invalidOption('`maxRetainedMessages` must be a non-negative integer');
  if (!Number.isSafeInteger(maxRetainedBytes) || maxRetainedBytes < 0) throw invalidOption('`maxRetainedBytes` must be a non-negative integer');

  const entry = 'p2p-handlers/mqtt/broker';
  const [{ Aedes }, { WebSocketServer, createWebSocketStream }] = await Promise.all([
    loadOptional(entry, ['aedes'], () => import('aedes')),
    loadOptional(entry, ['ws'], () => import('ws')),
  ]);
  const retained = new RetainedBudget(maxRetainedMessages, maxRetainedBytes);
  const aedes = await Aedes.createBroker({
    authorizePublish: (_client, packet, callback) => {
      // aedes's own rule, which a custom hook replaces: clients may not publish on $SYS.
      if (packet.topic.startsWith('$SYS')) return callback(new Error('$SYS topic is reserved'));
      if (packet.retain && !retained.admit(packet.topic, Buffer.byteLength(packet.payload))) packet.retain = false;
      callback(null);
    },
    // $SYS announces every client id as it connects; whoever knows an id can connect with it
    // and so disconnect its owner (MQTT's session takeover): keep the ids to the broker.
    authorizeSubscribe: (_client, subscription, callback) => callback(null, subscription.topic.startsWith('$SYS') ? null : subscription),
  });
  // Client streams, so close() can end connections aedes has not registered yet (mid-CONNECT).
  const connections = new Set<Socket | Duplex>();
  const track = (connection: Socket | Duplex): void => {
    connections.add(connection);
    connection.once('close', () => connections.delete(connection));
    // A client that resets its socket must not become an unhandled 'error' event.
    connection.on('error', () => {});
    // 'data' fires for every chunk aedes reads (its 'readable' listener keeps control of the flow).
    const sizes = new PacketSizes(maxPacketBytes);
    connection.on('data', (chunk: Buffer) => {
      if (!sizes.accept(chunk)) connection.destroy();
    });
  };
  const tcp = createNetServer((socket) => {
    // MQTT is small request/acknowledge packets: without this, Nagle's algorithm holds an
    // acknowledgement behind the client's delayed ACK (~40 ms per round trip). ws does it too.
    socket.setNoDelay(true);
    track(socket);
    aedes.handle(socket);
  });
  const http = createHttpServer((_request, response) => response.writeHead(426).end('MQTT over WebSocket only\n'));
  // ws alone buffers frames up to 100 MiB before the packet check sees a byte. A client's
  // frame carries a packet or a piece of one; twice the packet cap leaves room for two.
  const wss = new WebSocketServer({ server: http, maxPayload: 2 * maxPacketBytes });
  // ws re-emits the HTTP server's errors; a listen failure is already thrown by listen().
  wss.on('error', () => {});
  wss.on('connection', (socket) => {
    const stream = createWebSocketStream(socket);
    track(stream);
    aedes.handle(stream);
  });
  // aedes reports a client's broken connection here; it is the client's problem, not ours.
  aedes.on('clientError', () => {});
  aedes.on('connectionError', () => {});

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      for (const connection of connections) connection.destroy();
      for (const client of wss.clients) client.terminate();
      http.closeAllConnections();
      await Promise.all([closeServer(tcp), new Promise<void>((resolve) => wss.close(() => resolve())), closeServer(http)]);
    })());

  try {
    const tcpPort = await listen(tcp, port, host);
    const webPort = await listen(http, wsPort, host);
    return { url: `mqtt://${urlHost(host)}:${tcpPort}`, wsUrl: `ws://${urlHost(host)}:${webPort}`, close };
  } catch (error) {
    await close();
    throw toP2PError(error, P2PErrorCode.SIGNALING, `cannot listen on ${host}`);
  }
}
