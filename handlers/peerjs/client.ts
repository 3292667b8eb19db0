import type { PeerOptions } from 'peerjs';
import {
  createMeshHandlerCreator, invalidOption, MESH_DEFAULTS, resolveWebSocket, sealedRooms, systemClock,
  type MeshHandlerCreator, type WebRTCMeshOptions, type WebSocketConstructor,
} from '../../src/kit/index.js';
import { describeEndpoint, normalizePath, type PeerServerEndpoint } from './endpoint.js';
import { CLOUD_HOST, CLOUD_PORT, isPeerJsId } from './protocol.js';
import { PeerJsSignaling, type PeerJsSignalingSettings } from './transport.js';

/** The public PeerJS cloud, as the peerjs client defaults to it. */
export const PEERJS_CLOUD = Object.freeze({ host: CLOUD_HOST, port: CLOUD_PORT, path: '/', key: 'peerjs', secure: true });
/** HEARTBEAT interval of each server socket: the peerjs client's. */
export const DEFAULT_PING_INTERVAL_MS = 5_000;
/** Slots probed above the highest known one, for members past a gap left by departures. */
export const PROBE_WINDOW = 4;

/** Where one PeerServer is; a field left out takes the handler's value. */
export interface PeerServerOptions {
  /** Host name or address. Default: '0.peerjs.com' (the public PeerJS cloud). */
  host?: string;
  /** TCP port. Default: 443. */
  port?: number;
  /** Mount path of the server, as `new Peer({ path })`. Default: '/'. */
  path?: string;
  /** The server's API key. Default: 'peerjs'. */
  key?: string;
  /** `wss:`/`https:` (true) or `ws:`/`http:` (false; a local server needs false). Default: true. */
  secure?: boolean;
}

export interface PeerJsHandlerOptions extends WebRTCMeshOptions, PeerServerOptions {
  /**
   * Several PeerServers at once, for redundancy: the room is joined on each, a peer found on
   * any gets one link, and each server fails and re-joins on its own. Fields left out take the
   * handler's `host`, `port`, … Default: none (the one server of `host`, `port`, …).
   */
  servers?: readonly PeerServerOptions[];
  /**
   * Options of peerjs's `new Peer(id, options)`, for users coming from PeerJS: `host`, `port`,
   * `path`, `key`, `secure` and `config` apply where the options above are not given; `token`
   * is the token of this peer's id (persist it with a persisted `peerId` so a reloaded page
   * takes over its stale id at once); `pingInterval` is the HEARTBEAT interval (5000 ms); `referrerPolicy`
   * applies to the `/peers` request. `debug` and `logFunction` are ignored (nothing is logged);
   * `serializers` is refused: no PeerJS data connection is made. Default: `{}`.
   */
  peerOptions?: PeerOptions;
  /**
   * Ask `GET {path}{key}/peers` for the room's members when joining; a server without
   * `allow_discovery` answers 401 and the handler falls back to probing slots (and stops asking).
   * Default: true, except on the PeerJS cloud, which refuses it.
   */
  discovery?: boolean;
  /**
   * WebSocket class. Default: the platform's (browsers, Node ≥ 22); in Node 20 `ws`, loaded on
   * first use. Inject one to observe or fake the server connection.
   */
  WebSocket?: new (url: string) => object;
  /**
   * Shared by the members of a room: signals are sealed with a key derived from the topic and
   * this secret, so a peer without it can neither read nor forge them (ERR_UNAUTHORIZED). The
   * PeerServer relays sealed signals whatever this is: its operator reads no SDP. Default `''`.
   */
  secret?: string;
}

/** Versions the sealed signal format: peers on another version never read each other. */
export const PEERJS_SEAL_SCHEME = 'p2p-handlers/peerjs/v2';

const PEER_OPTION_KEYS: ReadonlySet<string> = new Set(['host', 'port', 'path', 'key', 'secure', 'config', 'token', 'pingInterval', 'referrerPolicy', 'debug', 'logFunction']);

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function endpointOf(server: PeerServerOptions, fallback: PeerServerOptions, referrerPolicy: ReferrerPolicy | undefined, name: string): PeerServerEndpoint {
  if (!isObject(server)) throw invalidOption(`\`${name}\` must be an object`);
  const {
    host = fallback.host ?? PEERJS_CLOUD.host,
    port = fallback.port ?? PEERJS_CLOUD.port,
    path = fallback.path ?? PEERJS_CLOUD.path,
    key = fallback.key ?? PEERJS_CLOUD.key,
    secure = fallback.secure ?? PEERJS_CLOUD.secure,
  } = server;
  if (typeof host !== 'string' || !/^[^\s/?#@]+$/.test(host)) throw invalidOption(`\`${name}.host\` must be a host name or address`);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw invalidOption(`\`${name}.port\` must be an integer from 1 to 65535`);
  if (typeof path !== 'string' || /[?#\s]/.test(path)) throw invalidOption(`\`${name}.path\` must be a URL path`);
  if (typeof key !== 'string' || key.length === 0) throw invalidOption(`\`${name}.key\` must be a non-empty string`);
  if (typeof secure !== 'boolean') throw invalidOption(`\`${name}.secure\` must be a boolean`);
  return { host, port, path: normalizePath(path), key, secure, ...(referrerPolicy ? { referrerPolicy } : {}) };
}

function checkPeerOptions(peerOptions: unknown): asserts peerOptions is PeerOptions {
  if (!isObject(peerOptions)) throw invalidOption('`peerOptions` must be an object');
  if ('serializers' in peerOptions) throw invalidOption('`peerOptions.serializers` does not apply: no PeerJS data connection is made, the mesh core frames messages');
  for (const key of Object.keys(peerOptions)) {
    if (!PEER_OPTION_KEYS.has(key)) throw invalidOption(`\`peerOptions.${key}\` is not a PeerJS option this handler uses`);
  }
  const { token, pingInterval } = peerOptions as PeerOptions;
  if (token !== undefined && (typeof token !== 'string' || token.length === 0)) throw invalidOption('`peerOptions.token` must be a non-empty string');
  if (pingInterval !== undefined && (typeof pingInterval !== 'number' || !(pingInterval > 0))) {
    throw invalidOption('`peerOptions.pingInterval` must be a positive number of milliseconds');
  }
}

/**
 * A creator for RxDB 17's `replicateWebRTC` that signals through PeerServer (the PeerJS cloud
 * by default, or your own), used purely for signaling: WebRTC links, ordering, message size,
 * heartbeats and reconnects are the mesh core's, exactly as on every other transport.
 */
export function getConnectionHandlerPeerJS(options: PeerJsHandlerOptions = {}): MeshHandlerCreator {
  if (!isObject(options)) throw invalidOption('options must be an object');
  const { servers, peerOptions = {}, discovery, WebSocket, host, port, path, key, secure, secret = '', ...meshOptions } = options;
  if (typeof secret !== 'string') throw invalidOption('`secret` must be a string');
  checkPeerOptions(peerOptions);
  const fallback: PeerServerOptions = {
    host: host ?? peerOptions.host,
    port: port ?? peerOptions.port,
    path: path ?? peerOptions.path,
    key: key ?? peerOptions.key,
    secure: secure ?? peerOptions.secure,
  };
  if (servers !== undefined && (!Array.isArray(servers) || servers.length === 0)) throw invalidOption('`servers` must be a non-empty array');
  const endpoints = (servers ?? [{}]).map((server, index) =>
    endpointOf(server, fallback, peerOptions.referrerPolicy, servers ? `servers[${index}]` : 'options'),
  );
  const names = endpoints.map((endpoint) => `${describeEndpoint(endpoint)}#${endpoint.key}`);
  if (new Set(names).size !== names.length) throw invalidOption('`servers` lists a server twice');
  if (discovery !== undefined && typeof discovery !== 'boolean') throw invalidOption('`discovery` must be a boolean');
  if (WebSocket !== undefined && typeof WebSocket !== 'function') throw invalidOption('`WebSocket` must be a WebSocket class');
  if (options.peerId !== undefined && !isPeerJsId(options.peerId)) {
    throw invalidOption("`peerId` must be a PeerJS id: letters and digits, with single ' ', '_' or '-' between them");
  }
  const config = options.config ?? (peerOptions.config as PeerJsHandlerOptions['config']);
  // One class for every handler of this creator, resolved (maybe loading `ws`) on first join.
  let webSocketClass: Promise<WebSocketConstructor> | undefined;
  // One derivation per topic, shared by every server.
  const sealedRoom = sealedRooms(PEERJS_SEAL_SCHEME, secret);
  const settingsOf = (endpoint: PeerServerEndpoint): PeerJsSignalingSettings => ({
    endpoint,
    WebSocket: () => (webSocketClass ??= resolveWebSocket(WebSocket)),
    clock: options.clock ?? systemClock,
    pingIntervalMs: peerOptions.pingInterval ?? DEFAULT_PING_INTERVAL_MS,
    openTimeoutMs: options.signalingTimeoutMs ?? MESH_DEFAULTS.signalingTimeoutMs,
    token: peerOptions.token,
    discovery: discovery ?? endpoint.host !== PEERJS_CLOUD.host,
    probeWindow: PROBE_WINDOW,
    sealedRoom,
  });
  return createMeshHandlerCreator({
    options: { ...meshOptions, ...(config ? { config } : {}) },
    signaling: () => endpoints.map((endpoint) => new PeerJsSignaling(settingsOf(endpoint))),
  });
}
