/**
 * One creator per transport from what the demo server publishes at /config.json. Used by the
 * page and by the e2e Node peer, so both reach the same services the same way.
 */
import { getConnectionHandlerMqtt } from '../../../handlers/mqtt/client.js';
import { getConnectionHandlerNostr } from '../../../handlers/nostr/client.js';
import { getConnectionHandlerPeerJS } from '../../../handlers/peerjs/client.js';
import { getConnectionHandlerSocketIo } from '../../../handlers/socket-io/client.js';
import type { P2PConnectionHandlerCreator } from '../../../src/types.js';
import type { WebRTCMeshOptions } from '../../../src/mesh/options.js';

export const TRANSPORTS = ['socket.io', 'mqtt', 'nostr', 'peerjs'] as const;
export type TransportName = (typeof TRANSPORTS)[number];

export function isTransportName(value: unknown): value is TransportName {
  return (TRANSPORTS as readonly unknown[]).includes(value);
}

/** The JSON the demo server serves at /config.json. */
export interface DemoConfig {
  /** ICE servers for every peer; the demo runs on one machine, so none (no STUN). */
  iceServers: RTCIceServer[];
  services: {
    'socket.io': { url: string };
    /** The broker's WebSocket listener: browsers cannot open raw TCP. */
    mqtt: { url: string };
    nostr: { url: string };
    peerjs: { host: string; port: number; path: string; key: string; secure: boolean; discovery: boolean };
  };
}

export const TRANSPORT_LABELS: Record<TransportName, string> = {
  'socket.io': 'socket.io server',
  mqtt: 'MQTT broker',
  nostr: 'Nostr relay',
  peerjs: 'PeerServer',
};

export function createCreator(
  transport: TransportName,
  config: DemoConfig,
  mesh: Pick<WebRTCMeshOptions, 'wrtc' | 'heartbeatIntervalMs' | 'peerTimeoutMs' | 'peerId'> = {},
): P2PConnectionHandlerCreator {
  const common = { ...mesh, config: { iceServers: config.iceServers } };
  switch (transport) {
    case 'socket.io':
      return getConnectionHandlerSocketIo({ ...common, url: config.services['socket.io'].url });
    case 'mqtt':
      return getConnectionHandlerMqtt({ ...common, url: config.services.mqtt.url });
    case 'nostr':
      return getConnectionHandlerNostr({ ...common, relays: [config.services.nostr.url] });
    case 'peerjs':
      return getConnectionHandlerPeerJS({ ...common, ...config.services.peerjs });
  }
}
