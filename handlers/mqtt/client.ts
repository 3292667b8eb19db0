import type { IClientOptions } from 'mqtt';
import {
  assertId, createMeshHandlerCreator, invalidOption,
  type MeshHandlerCreator, type WebRTCMeshOptions,
} from '../../src/kit/index.js';
import { RoomKeys } from './room.js';
import { MqttSignaling } from './transport.js';

/** First level of every topic we use, so a shared broker's topic tree stays tidy. */
export const DEFAULT_TOPIC_PREFIX = 'p2p-handlers';

/** mqtt.js options we set unless given: MQTT 3.1.1 (every broker speaks it, aedes only it). */
export const DEFAULT_MQTT_OPTIONS: Readonly<IClientOptions> = Object.freeze({ protocolVersion: 4, keepalive: 30, clean: true });

export interface MqttHandlerOptions extends WebRTCMeshOptions {
  /** The broker: `mqtt://`, `mqtts://`, `ws://` or `wss://`. Give this or `urls`. Default: none. */
  url?: string;
  /**
   * Several brokers at once, for redundancy: the handler joins through every one, a peer is
   * found through any of them, and each link is made once. Give this or `url`. Default: none.
   */
  urls?: readonly string[];
  /**
   * Shared by the room's peers; with the topic it derives the key that seals every presence
   * and signal. Peers with another secret cannot connect (ERR_UNAUTHORIZED on error$).
   * Default: '' (the topic alone is the key: keep topics unguessable on public brokers).
   */
  secret?: string;
  /** First level(s) of our MQTT topics; no wildcards, not `$…`. Default: 'p2p-handlers'. */
  topicPrefix?: string;
  /**
   * mqtt.js client options (username, password, TLS, `protocolVersion: 5`, `keepalive`…),
   * merged over `{ protocolVersion: 4, keepalive: 30, clean: true }` and a random
   * `clientId` per connection. `will` is ours (presence) and `reconnectPeriod` is always 0:
   * the mesh core re-joins with backoff. Default: `{}`.
   */
  mqttOptions?: IClientOptions;
}

/**
 * An RxDB 17 creator whose handlers also tell their own `peerId`. Its handlers (one per
 * collection) share one WebRTC link per remote peer; combinable with other transports'
 * creators through `getConnectionHandlerMulti`.
 */
export type MqttHandlerCreator = MeshHandlerCreator;

const URL_PATTERN = /^(mqtts?|wss?):\/\/[^/?#]/;
/** A topic level that would turn our subscriptions into wildcards or system topics. */
const BAD_PREFIX = /[+#\u0000]|^\$|^\/|\/$/;

function brokerUrls(url: unknown, urls: unknown): string[] {
  if ((url === undefined) === (urls === undefined)) throw invalidOption('give exactly one of `url` and `urls`');
  const list = urls === undefined ? [url] : urls;
  if (!Array.isArray(list) || list.length === 0) throw invalidOption('`urls` must be a non-empty array of broker URLs');
  for (const item of list) {
    if (typeof item !== 'string' || !URL_PATTERN.test(item)) {
      throw invalidOption(`broker URL ${JSON.stringify(item)} must start with mqtt://, mqtts://, ws:// or wss://`);
    }
  }
  if (new Set(list).size !== list.length) throw invalidOption('`urls` lists a broker twice');
  return list as string[];
}

function checkMqttOptions(mqttOptions: unknown): asserts mqttOptions is IClientOptions {
  if (typeof mqttOptions !== 'object' || mqttOptions === null) throw invalidOption('`mqttOptions` must be an object');
  const { will, reconnectPeriod, protocolVersion } = mqttOptions as IClientOptions;
  if (will !== undefined) throw invalidOption('`mqttOptions.will` is reserved: the handler uses it for presence');
  if (reconnectPeriod !== undefined && reconnectPeriod !== 0) {
    throw invalidOption('`mqttOptions.reconnectPeriod` must be 0: the mesh core reconnects, with backoff');
  }
  if (protocolVersion !== undefined && ![3, 4, 5].includes(protocolVersion)) {
    throw invalidOption('`mqttOptions.protocolVersion` must be 3, 4 or 5');
  }
}

/**
 * A creator for RxDB 17's `replicateWebRTC` that signals over one or more MQTT brokers
 * (3.1.1 or 5), sealing everything it publishes so public brokers learn nothing useful.
 */
export function getConnectionHandlerMqtt(options: MqttHandlerOptions): MqttHandlerCreator {
  if (typeof options !== 'object' || options === null) throw invalidOption('options must be an object with a `url` or `urls`');
  const { url, urls, secret = '', topicPrefix = DEFAULT_TOPIC_PREFIX, mqttOptions = {}, ...meshOptions } = options;
  const brokers = brokerUrls(url, urls);
  if (typeof secret !== 'string') throw invalidOption('`secret` must be a string');
  if (typeof topicPrefix !== 'string' || topicPrefix.length === 0 || topicPrefix.length > 128 || BAD_PREFIX.test(topicPrefix)) {
    throw invalidOption('`topicPrefix` must be 1–128 characters, without +, # or NUL, not starting with $ or /, not ending with /');
  }
  checkMqttOptions(mqttOptions);
  const clientOptions: IClientOptions = { ...DEFAULT_MQTT_OPTIONS, ...mqttOptions };
  // PBKDF2 takes ~30 ms: once per topic for this creator, not per handler or message.
  const keysByTopic = new Map<string, Promise<RoomKeys>>();
  const keysFor = (topic: string): Promise<RoomKeys> => {
    let keys = keysByTopic.get(topic);
    if (!keys) {
      keys = RoomKeys.derive(topic, secret, topicPrefix);
      keysByTopic.set(topic, keys);
    }
    return keys;
  };
  return createMeshHandlerCreator({
    options: meshOptions,
    // One MQTT connection per room and broker: a connection has only one will, and the will
    // is what clears this room's presence when the peer dies.
    signaling: (topic) => {
      assertId(topic, 'topic', 512);
      return brokers.map((broker) => new MqttSignaling({ url: broker, keys: keysFor(topic), mqttOptions: clientOptions }));
    },
  });
}
