import {
  BroadcastRoomSession, P2PError, P2PErrorCode, readJsonFrame, redactUrl, SessionTransport, TimerSet, WEBSOCKET_OPEN,
  type Clock, type SealedRoom, type SignalingEvents, type SignalingSession, type WebSocketConstructor, type WebSocketLike,
} from '../../src/kit/index.js';

export interface YWebrtcSignalingSettings {
  url: string;
  /** The topic's room: its name is what the server sees, its cipher seals every message. */
  room: Promise<SealedRoom>;
  WebSocket: () => Promise<WebSocketConstructor>;
  clock: Clock;
  announceIntervalMs: number;
}

/** Longest server message read; a larger one is dropped unparsed. */
const MAX_MESSAGE_CHARS = 256 * 1024;

/**
 * One y-webrtc signaling server (`subscribe`/`publish`/`ping` over a WebSocket; it relays every
 * publish to every subscriber of the topic) as a SignalingTransport. The topic it sees is a hash
 * of ours and every message is sealed (the kit's BroadcastRoomSession): the server learns no
 * topic, peer id or SDP.
 */
export class YWebrtcSignaling extends SessionTransport {
  constructor(private readonly settings: YWebrtcSignalingSettings) {
    super();
  }

  protected async openSession(_room: string, peerId: string, events: SignalingEvents): Promise<SignalingSession> {
    const [room, WebSocket] = await Promise.all([this.settings.room, this.settings.WebSocket()]);
    return new YWebrtcSession(this.settings, room, new WebSocket(this.settings.url), peerId, events);
  }
}

class YWebrtcSession implements SignalingSession {
  private readonly timers: TimerSet;
  private readonly room: BroadcastRoomSession;
  private readonly shownUrl: string;
  private opened = false;
  private stopped = false;

  constructor(
    settings: YWebrtcSignalingSettings,
    private readonly sealedRoom: SealedRoom,
    private readonly ws: WebSocketLike,
    peerId: string,
    private readonly events: SignalingEvents,
  ) {
    this.timers = new TimerSet(settings.clock);
    this.shownUrl = redactUrl(settings.url);
    const publish = (data: string) => {
      if (ws.readyState === WEBSOCKET_OPEN) ws.send(JSON.stringify({ type: 'publish', topic: sealedRoom.name, data }));
    };
    this.room = new BroadcastRoomSession(sealedRoom, peerId, events, this.timers, settings.announceIntervalMs, publish);
  }

  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.ws.onopen = () => {
        this.opened = true;
        // The server handles a connection's messages in order: subscribed before we announce.
        this.ws.send(JSON.stringify({ type: 'subscribe', topics: [this.sealedRoom.name] }));
        this.room.join().then(resolve, reject);
      };
      this.ws.onmessage = (event: { data: unknown }) => this.receive(event.data);
      this.ws.onerror = () => {};
      this.ws.onclose = () => {
        const error = new P2PError(P2PErrorCode.SIGNALING, `${this.opened ? 'lost' : 'cannot reach'} the y-webrtc signaling server ${this.shownUrl}`);
        if (!this.opened) reject(error);
        else if (!this.stopped) this.events.lost(error);
        void this.stop();
      };
    });
  }

  send(to: string, signal: unknown): Promise<void> {
    return this.room.send(to, signal);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timers.dispose();
    await this.room.leave();
    this.ws.close();
  }

  private receive(data: unknown): void {
    if (this.stopped) return;
    const frame = readJsonFrame(typeof data === 'string' ? data : String(data ?? ''), MAX_MESSAGE_CHARS);
    if ('problem' in frame) return this.room.junk(`the y-webrtc signaling server ${this.shownUrl} sent ${frame.problem}`);
    const message = frame.value as { type?: unknown; topic?: unknown; data?: unknown } | null;
    if (message?.type === 'publish' && message.topic === this.sealedRoom.name) this.room.receive(message.data);
  }
}
