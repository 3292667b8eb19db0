import {
  P2PError, P2PErrorCode, PresenceRoster, readJsonFrame, redactUrl, SerialQueue, SessionTransport, TimerSet, WEBSOCKET_OPEN,
  type Clock, type OpenedSignal, type SealedRoom, type SignalingEvents, type SignalingSession, type WebSocketConstructor, type WebSocketLike,
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
/** What travels inside a seal: a presence, a goodbye, or a signal for the mesh core. */
type Envelope = { t: 'here' } | { t: 'gone' } | { t: 'signal'; s: unknown };
const EVERYONE = '*';

/**
 * One y-webrtc signaling server (`subscribe`/`publish`/`ping` over a WebSocket; it relays every
 * publish to every subscriber of the topic) as a SignalingTransport. The topic it sees is a hash
 * of ours, every message is sealed: the server learns neither topic, peer ids nor SDP.
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
  private readonly roster: PresenceRoster;
  private readonly inbound = new SerialQueue();
  private readonly outbound = new SerialQueue();
  private readonly shownUrl: string;
  private opened = false;
  private stopped = false;
  private reportedJunk = false;

  constructor(
    private readonly settings: YWebrtcSignalingSettings,
    private readonly room: SealedRoom,
    private readonly ws: WebSocketLike,
    private readonly peerId: string,
    private readonly events: SignalingEvents,
  ) {
    this.timers = new TimerSet(settings.clock);
    this.shownUrl = redactUrl(settings.url);
    this.roster = new PresenceRoster(this.timers, settings.announceIntervalMs, () => this.announce(EVERYONE), (id) => events.peerLeft(id));
  }

  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.ws.onopen = () => {
        this.opened = true;
        // The server handles a connection's messages in order: subscribed before we announce.
        this.ws.send(JSON.stringify({ type: 'subscribe', topics: [this.room.name] }));
        this.publish(EVERYONE, { t: 'here' }).then(resolve, reject);
        this.roster.start();
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
    return this.publish(to, { t: 'signal', s: signal });
  }

  /** Says goodbye (so others see peerLeft at once) when it can, then closes. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timers.dispose();
    if (this.ws.readyState === WEBSOCKET_OPEN) await this.seal(EVERYONE, { t: 'gone' }).then((sealed) => this.write(sealed), () => undefined);
    this.ws.close();
  }

  /** A presence nobody waits for: a failed one is as good as a lost one (the next repeats it). */
  private announce(to: string): void {
    this.publish(to, { t: 'here' }).catch(() => {});
  }

  /** Sealed in order (sealing is async), written only while the connection is open: signals are best effort. */
  private publish(to: string, envelope: Envelope): Promise<void> {
    return this.outbound.run(async () => this.write(await this.seal(to, envelope)));
  }

  private seal(to: string, envelope: Envelope): Promise<string> {
    return this.room.seal(this.peerId, to, envelope);
  }

  private write(sealed: string): void {
    if (this.ws.readyState === WEBSOCKET_OPEN) this.ws.send(JSON.stringify({ type: 'publish', topic: this.room.name, data: sealed }));
  }

  private receive(data: unknown): void {
    if (this.stopped) return;
    const frame = readJsonFrame(typeof data === 'string' ? data : String(data ?? ''), MAX_MESSAGE_CHARS);
    if ('problem' in frame) return this.junk(`the y-webrtc signaling server ${this.shownUrl} sent ${frame.problem}`);
    const message = frame.value as { type?: unknown; topic?: unknown; data?: unknown } | null;
    if (message?.type !== 'publish' || message.topic !== this.room.name) return;
    this.inbound.run(() => this.room.openBroadcast(message.data)).then(
      (opened) => this.deliver(opened),
      (error: P2PError) => this.junk(error.message, error.code),
    );
  }

  private deliver({ from, to, signal }: OpenedSignal): void {
    // The server echoes our own publishes, and relays what others address to each other.
    if (this.stopped || from === this.peerId || (to !== EVERYONE && to !== this.peerId)) return;
    const envelope = signal as Partial<Envelope> | null;
    if (envelope?.t === 'gone') {
      if (this.roster.forget(from)) this.events.peerLeft(from);
      return;
    }
    // Answered directly, so a newcomer learns the room now, not at our next announcement.
    if (this.roster.heardFrom(from) && to === EVERYONE) this.announce(from);
    this.events.peerJoined(from);
    if (envelope?.t === 'signal') this.events.signal(from, envelope.s);
  }

  /** Once per session: a stream of junk (or a peer with another secret) must not flood error$. */
  private junk(message: string, code: P2PErrorCode = P2PErrorCode.SIGNALING): void {
    if (this.reportedJunk || this.stopped) return;
    this.reportedJunk = true;
    this.events.error(new P2PError(code, message));
  }
}
