/**
 * The signaling services this package ships, started by one name: what
 * `p2p-handlers serve <kind>` and the demo (`npm start`) run. Each server module is imported
 * only when its kind is asked for, so serving socket.io never needs aedes, peer or the relay.
 */
import { P2PError, P2PErrorCode } from '../src/errors.js';

export const SERVICE_KINDS = ['socket.io', 'mqtt', 'nostr', 'peerjs'] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number];

export interface ServiceOptions {
  /** TCP port (for MQTT, of the `mqtt://` listener). Default: 0, an ephemeral port. */
  port?: number;
  /** Interface to bind; exposing a service beyond this host is a choice. Default: '127.0.0.1'. */
  host?: string;
  /** MQTT only: port of the WebSocket listener browsers use. Default: 0, an ephemeral port. */
  wsPort?: number;
  /** socket.io only: Redis URL, so several server processes act as one. Default: none. */
  redis?: string;
}

export interface RunningService {
  readonly kind: ServiceKind;
  /** The address clients are given, e.g. `http://127.0.0.1:3000` or `ws://127.0.0.1:7000`. */
  readonly url: string;
  /** What to tell users: one line per endpoint, naming its protocol and who connects to it. */
  readonly endpoints: readonly string[];
  /** What a browser client needs, as plain JSON (the demo page reads it). */
  readonly clientConfig: Record<string, unknown>;
  /** Stops the service; idempotent. */
  close(): Promise<void>;
}

export function isServiceKind(value: unknown): value is ServiceKind {
  return (SERVICE_KINDS as readonly unknown[]).includes(value);
}

export async function startService(kind: ServiceKind, options: ServiceOptions = {}): Promise<RunningService> {
  const { port = 0, host = '127.0.0.1', wsPort = 0, redis } = options;
  if (redis !== undefined && kind !== 'socket.io') {
    throw new P2PError(P2PErrorCode.INVALID_OPTION, '`redis` applies to the socket.io service only');
  }
  switch (kind) {
    case 'socket.io': {
      const { startSocketIoSignalingServer } = await import('./socket-io/server/index.js');
      const server = await startSocketIoSignalingServer({ port, host, redis });
      const endpoints = [`socket.io signaling   ${server.url}  (getConnectionHandlerSocketIo)`];
      if (server.rxdbUrl) endpoints.push(`RxDB signaling (ws)   ${server.rxdbUrl}  (RxDB's getConnectionHandlerSimplePeer)`);
      return service(kind, server.url, endpoints, { url: server.url }, () => server.close());
    }
    case 'mqtt': {
      const { startMqttBroker } = await import('./mqtt/broker.js');
      const broker = await startMqttBroker({ port, wsPort, host });
      const endpoints = [`MQTT broker (tcp)     ${broker.url}  (Node peers)`, `MQTT broker (ws)      ${broker.wsUrl}  (browsers)`];
      return service(kind, broker.url, endpoints, { url: broker.wsUrl }, () => broker.close());
    }
    case 'nostr': {
      const { startNostrRelay } = await import('./nostr/relay/index.js');
      const relay = await startNostrRelay({ port, host });
      return service(kind, relay.url, [`Nostr relay           ${relay.url}  (getConnectionHandlerNostr)`], { url: relay.url }, () => relay.close());
    }
    case 'peerjs': {
      const { startPeerServer } = await import('./peerjs/server.js');
      const server = await startPeerServer({ port, host });
      const endpoints = [`PeerServer            ${server.url}  (getConnectionHandlerPeerJS, key "${server.key}")`];
      return service(kind, server.url, endpoints, { ...server.clientOptions }, () => server.close());
    }
    default:
      throw new P2PError(P2PErrorCode.INVALID_OPTION, `unknown service "${String(kind)}"; one of ${SERVICE_KINDS.join(', ')}`);
  }
}

function service(
  kind: ServiceKind,
  url: string,
  endpoints: string[],
  clientConfig: Record<string, unknown>,
  stop: () => Promise<void>,
): RunningService {
  let closing: Promise<void> | undefined;
  return { kind, url, endpoints, clientConfig, close: () => (closing ??= stop()) };
}
