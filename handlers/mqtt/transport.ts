import type { IClientOptions, IClientPublishOptions, MqttClient } from 'mqtt';
import {
  P2PError, P2PErrorCode, loadOptional, randomId, redactUrl, SerialQueue, SessionTransport, toP2PError,
  type SignalingEvents, type SignalingSession,
} from '../../src/kit/index.js';
import { RoomInbox, type InboxOwner } from './inbox.js';
import type { RoomKeys } from './room.js';

/** How long leave() waits for the broker to acknowledge our DISCONNECT before cutting. */
const LEAVE_TIMEOUT_MS = 1_000;
/** CONNACK (3.1.1: 4, 5) and MQTT 5 reason codes (134, 135) that mean "not allowed". */
const REFUSED_CODES = new Set([4, 5, 134, 135]);
/** "Unacceptable protocol version" (3.1.1: 1, MQTT 5: 132): retrying cannot help. */
const VERSION_CODES = new Set([1, 132]);

export type MqttConnect = (url: string, options: IClientOptions) => MqttClient;

export interface MqttSignalingSettings {
  /** The broker, `mqtt://`, `mqtts://`, `ws://` or `wss://`. */
  url: string;
  /** The room's hashed topics and cipher, derived once per creator and topic (PBKDF2: async). */
  keys: Promise<RoomKeys>;
  /** mqtt.js options, already validated; ours (will, no reconnect) are applied over them. */
  mqttOptions: IClientOptions;
  /** Opens the client. Default: mqtt.js's `connect` (tests inject one to cut sockets). */
  connect?: MqttConnect;
}

/**
 * One broker as a SignalingTransport: presence is a retained message per peer that the broker
 * deletes itself (the last will, an empty retained payload) when the client dies, so a newcomer
 * learns the room from its subscription alone and nobody publishes anything while idle.
 */
export class MqttSignaling extends SessionTransport {
  /** Members hear the newcomer's presence as it hears their retained ones. */
  readonly sharedRoster = true;

  constructor(private readonly settings: MqttSignalingSettings) {
    super();
  }

  protected openSession(room: string, peerId: string, events: SignalingEvents): SignalingSession {
    return new MqttSession(this.settings, room, peerId, events);
  }
}

/** One connection's life: connect, subscribe, announce; then relay until lost or left. */
class MqttSession implements InboxOwner, SignalingSession {
  /** Set once derived, before the client exists. */
  keys!: RoomKeys;
  private client: MqttClient | undefined;
  private closing: Promise<void> | undefined;
  private joined = false;
  private lastError: Error | undefined;
  /** Settles start() when leave() comes first: its listeners are gone by then. */
  private abortStart: ((error: P2PError) => void) | undefined;
  private inbox: RoomInbox | undefined;
  private detach: () => void = () => {};
  /** Sealing is async too: one queue keeps offer, answer and candidates in order. */
  private readonly outbound = new SerialQueue();

  constructor(
    private readonly settings: MqttSignalingSettings,
    private readonly room: string,
    readonly peerId: string,
    readonly events: SignalingEvents,
  ) {}

  /** Connects, subscribes and announces; rejects as soon as any step fails or leave() comes. */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.abortStart = reject;
      this.connectAndAnnounce().then(resolve, reject);
    });
  }

  private async connectAndAnnounce(): Promise<void> {
    const { url } = this.settings;
    const keys = await this.settings.keys;
    if (keys.topic !== this.room) throw new P2PError(P2PErrorCode.INVALID_OPTION, 'this MQTT transport was built for another topic');
    this.keys = keys;
    const [selfHash, signalTopic, presenceTopic] = await Promise.all([
      keys.peerHash(this.peerId),
      keys.signalTopic(this.peerId),
      keys.presenceTopic(this.peerId),
    ]);
    const inbox = new RoomInbox(this, selfHash, signalTopic);
    this.inbox = inbox;
    if (this.closing) throw new P2PError(P2PErrorCode.SIGNALING, 'left before connecting');
    const connect = this.settings.connect ?? (await loadMqtt());
    const client = connect(url, {
      clientId: randomId(23),
      ...this.settings.mqttOptions,
      // The mesh core re-joins with backoff; mqtt.js must not race it with its own reconnect.
      reconnectPeriod: 0,
      queueQoSZero: false,
      // An empty retained payload deletes the retained presence: the broker forgets a dead peer.
      will: { topic: presenceTopic, payload: '', qos: 1, retain: true },
    });
    this.client = client;
    // Signals are small writes in bursts (offer, then candidates): Nagle's algorithm would
    // hold each behind the previous one's ACK. WebSocket streams (ws, browsers) do this already.
    (client.stream as { setNoDelay?: (noDelay: boolean) => unknown } | undefined)?.setNoDelay?.(true);
    const onMessage = (topic: string, payload: Buffer) => inbox.push(topic, payload);
    const onError = (error: Error) => {
      this.lastError = error;
      this.abortStart?.(refusedOr(error, P2PErrorCode.SIGNALING, `cannot join through ${redactUrl(url)}`));
    };
    const onClose = () => {
      const error = new P2PError(P2PErrorCode.SIGNALING, `the connection to ${redactUrl(url)} closed`, { cause: this.lastError });
      if (this.joined) this.events.lost(error);
      else this.abortStart?.(error);
    };
    client.on('message', onMessage).on('error', onError).on('close', onClose);
    // Only ours: mqtt.js's own listeners clear its timers when the stream closes.
    this.detach = () => client.off('message', onMessage).off('close', onClose).off('error', onError).on('error', () => {});
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    // Pipelined: the broker applies the subscription before it stores our presence.
    const [granted] = await Promise.all([
      client.subscribeAsync({ [keys.presenceFilter]: { qos: 0 }, [signalTopic]: { qos: 0 } }),
      this.announce(1),
    ]);
    if (granted.some((grant) => grant.qos === 128)) {
      throw new P2PError(P2PErrorCode.UNAUTHORIZED, `${redactUrl(url)} refused our subscription to the room's topics`);
    }
    this.joined = true;
  }

  /** Our retained presence; QoS 1 at join so start() resolves once the broker holds it. */
  private async announce(qos: 0 | 1): Promise<void> {
    const presence = await this.keys.sealPresence(this.peerId);
    await this.publish(await this.keys.presenceTopic(this.peerId), presence, { qos, retain: true });
  }

  /** A stale will of our previous connection fired late, or a stranger cleared our presence. */
  async presenceWiped(): Promise<void> {
    // Put it back, else newcomers never find us.
    if (this.joined && !this.closing) await this.announce(0);
  }

  send(to: string, signal: unknown): Promise<void> {
    if (!this.client) return Promise.reject(new P2PError(P2PErrorCode.SIGNALING, `not connected to ${redactUrl(this.settings.url)}`));
    const keys = this.keys;
    return this.outbound.run(async () => {
      const [topic, sealed] = await Promise.all([keys.signalTopic(to), keys.sealSignal(this.peerId, to, signal)]);
      await this.publish(topic, sealed, { qos: 0 });
    });
  }

  private async publish(topic: string, payload: string, options: IClientPublishOptions): Promise<void> {
    const client = this.client;
    if (!client || this.closing || !client.connected) {
      throw new P2PError(P2PErrorCode.SIGNALING, `not connected to ${redactUrl(this.settings.url)}`);
    }
    try {
      await client.publishAsync(topic, payload, options);
    } catch (error) {
      throw refusedOr(error, P2PErrorCode.SIGNALING, `publishing to ${redactUrl(this.settings.url)} failed`);
    }
  }

  // ---- leaving ----------------------------------------------------------------------

  stop(): Promise<void> {
    return (this.closing ??= this.disconnect());
  }

  private async disconnect(): Promise<void> {
    this.abortStart?.(new P2PError(P2PErrorCode.SIGNALING, 'left while connecting'));
    this.inbox?.stop();
    const client = this.client;
    if (!client) return;
    // Detach first so the close we cause is not reported as a lost connection; a late
    // socket error must still find a listener, or it would crash the process.
    this.detach();
    if (!this.joined || !client.connected) {
      await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
      return;
    }
    // A clean DISCONNECT discards the will, so clear our presence ourselves first.
    client.publish(await this.keys.presenceTopic(this.peerId), '', { qos: 0, retain: true });
    await new Promise<void>((resolve) => {
      const cut = setTimeout(() => client.stream?.destroy(), LEAVE_TIMEOUT_MS);
      client.end(false, {}, () => {
        clearTimeout(cut);
        resolve();
      });
    });
  }
}

/** mqtt.js's `connect`: its browser build exports only a default object, its Node build named exports too. */
async function loadMqtt(): Promise<MqttConnect> {
  const loaded = await loadOptional('p2p-handlers/mqtt', ['mqtt'], () => import('mqtt'));
  return (loaded.default ?? loaded).connect;
}

/** A broker's refusal is final (wrong credentials, wrong MQTT version); anything else is retried. */
function refusedOr(error: unknown, code: P2PErrorCode, message: string): P2PError {
  const reason = (error as { code?: unknown } | undefined)?.code;
  if (typeof reason === 'number' && REFUSED_CODES.has(reason)) return toP2PError(error, P2PErrorCode.UNAUTHORIZED, message);
  if (typeof reason === 'number' && VERSION_CODES.has(reason)) {
    return toP2PError(error, P2PErrorCode.INVALID_OPTION, `${message}: the broker does not speak this MQTT version (set mqttOptions.protocolVersion)`);
  }
  return toP2PError(error, code, message);
}
