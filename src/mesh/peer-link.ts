import type { SignalingTransport } from './signaling.js';
import type SimplePeer from 'simple-peer';
import { P2PError, P2PErrorCode, toP2PError, withPeerId } from '../errors.js';
import type { P2PPeer } from '../types.js';
import type { RtcSignalData } from './envelope.js';
import { FrameDecoder, FrameType, encodeGoodbye, encodePing, type DecodedFrame, type ReassemblyBudget } from './framing.js';
import { destroyRtc } from './rtc-factory.js';
import { SignalBundler } from './signal-bundler.js';
import { selectedPairRoundTripMs } from './link-stats.js';
import { peerConnectionOf } from './simple-peer-internals.js';
import { TimerSet, type Clock } from './timers.js';
import type { WebRTCImplementation } from './wrtc.js';

export interface PeerLinkSettings {
  wrtc: WebRTCImplementation | undefined;
  config: RTCConfiguration | undefined;
  clock: Clock;
  connectTimeoutMs: number;
  heartbeatIntervalMs: number;
  peerTimeoutMs: number;
  maxMessageBytes: number;
  /** Shared by all links of one peer. */
  reassembly: ReassemblyBudget;
  iceGatheringWaitMs: number;
}

export interface PeerLinkEvents {
  signal(link: PeerLink, data: RtcSignalData): void;
  open(link: PeerLink): void;
  /** A message, or the remote joining or leaving a topic on this link. */
  frame(link: PeerLink, frame: Exclude<DecodedFrame, { kind: 'ping' | 'partial' | 'goodbye' }>): void;
  /** Once per link; `error` is undefined for an orderly close by either side. */
  closed(link: PeerLink, error: P2PError | undefined): void;
}

/** `closing`: our GOODBYE is out, nothing more is written, the remote is to close first. */
type LinkState = 'connecting' | 'open' | 'closing' | 'closed';

/**
 * Signals one link attempt may take from the remote: a handshake needs a handful (an offer or
 * answer and a few candidate batches; a candidate each with plain trickle). Bounds what a room
 * member flooding one link makes us hold and hand to the WebRTC stack.
 */
const MAX_SIGNALS_PER_LINK = 256;

/** Why ICE fails between peers that signaled fine: what a user can do about it. */
const NO_PAIR = 'no ICE candidate pair worked, so the peers cannot reach each other directly (behind NATs or firewalls a TURN server in config.iceServers is probably needed)';

/** How long a graceful close waits for the remote to close its side after our GOODBYE. */
const GOODBYE_WAIT_MS = 1_000;

/**
 * One WebRTC connection attempt to one remote peer: simple-peer underneath, plus the connect
 * timeout, heartbeats that notice a crashed remote long before ICE does, framing, and a send
 * queue that honours the data channel's back-pressure.
 */
export class PeerLink {
  state: LinkState = 'connecting';
  /** The remote's session once a signal from it has been seen on this link. */
  remoteSession: string | undefined;
  /** The remote's channel numbers and the topic tags it announced for them (topic-tag.ts). */
  readonly remoteChannels = new Map<number, string>();
  /** The remote's tags we accepted, and our topic each stands for. */
  readonly admittedTags = new Map<string, string>();
  /** Our topics announced on this link. */
  readonly announced = new Set<string>();
  /** The transports whose signals made this link: what they verified of the remote is all it is given. */
  readonly signaledVia = new Set<SignalingTransport>();
  /** Per shared topic, the peer object that topic's handler hands out for this link. */
  readonly topicPeers = new Map<string, P2PPeer>();
  /** Numbers our outgoing signals on this link, so the remote can drop duplicates. */
  nextSignalSeq = 0;

  /** The remote's signal numbers already fed to this link. */
  private readonly seenSignals = new Set<number>();
  private readonly timers: TimerSet;
  private readonly decoder: FrameDecoder;
  private readonly bundler: SignalBundler;
  private sendQueue: Promise<void> = Promise.resolve();
  private readonly waitingForDrain = new Set<(error?: P2PError) => void>();
  private lastReceivedAt: number;
  private lastSentAt: number;
  private frozen = false;
  private readonly cancelConnectTimeout: () => void;
  private onClosed: () => void = () => {};
  /** Settles when the link is closed, however that happened. */
  private readonly closedPromise = new Promise<void>((resolve) => (this.onClosed = resolve));

  /** @internal The simple-peer parameter keeps simple-peer's types out of the published declarations. */
  constructor(
    readonly remoteId: string,
    readonly linkNumber: number,
    readonly initiator: boolean,
    private readonly settings: PeerLinkSettings,
    private readonly events: PeerLinkEvents,
    /** A fresh simple-peer instance for this attempt (RtcFactory.create). */
    private readonly rtc: SimplePeer.Instance,
  ) {
    this.timers = new TimerSet(settings.clock);
    this.decoder = new FrameDecoder(settings.maxMessageBytes, settings.reassembly);
    this.lastReceivedAt = this.lastSentAt = settings.clock.now();
    this.bundler = new SignalBundler(rtc, settings.iceGatheringWaitMs, this.timers, (data) => this.events.signal(this, data));
    this.rtc.on('signal', (data: any) => this.onLocalSignal(data));
    this.rtc.on('connect', () => this.onOpen());
    this.rtc.on('drain', () => this.releaseDrainWaiters());
    this.rtc.on('close', () => this.close());
    this.rtc.on('error', (error: Error & { code?: unknown }) => {
      const why = error.code === 'ERR_ICE_CONNECTION_FAILURE' ? `: ${NO_PAIR}` : '';
      this.close(toP2PError(error, P2PErrorCode.CONNECTION_FAILED, `link to ${remoteId} failed${why}`, remoteId));
    });
    this.cancelConnectTimeout = this.timers.after(settings.connectTimeoutMs, () => {
      const message = `link to ${remoteId} did not connect within ${settings.connectTimeoutMs} ms: ${this.whyNotConnected()}`;
      this.close(new P2PError(P2PErrorCode.TIMEOUT, message, { peerId: remoteId }));
    });
  }

  /**
   * True the first time the remote's signal number `seq` comes (redundant transports deliver
   * one signal several times). A remote past MAX_SIGNALS_PER_LINK is dropped with ERR_PROTOCOL.
   */
  admitSignal(seq: number): boolean {
    if (this.state === 'closed' || this.seenSignals.has(seq)) return false;
    if (this.seenSignals.size >= MAX_SIGNALS_PER_LINK) {
      const message = `peer ${this.remoteId} sent more than ${MAX_SIGNALS_PER_LINK} signals for one link`;
      this.close(new P2PError(P2PErrorCode.PROTOCOL, message, { peerId: this.remoteId }));
      return false;
    }
    this.seenSignals.add(seq);
    return true;
  }

  /** Feeds an offer, answer or candidate(s) from the remote. */
  signal(data: RtcSignalData): void {
    if (this.state === 'closed' || this.frozen) return;
    // An end-of-candidates marker (an empty candidate) adds nothing, and simple-peer writes a
    // console warning for each one it cannot add.
    const candidates = data.type === 'candidates' ? data.candidates : data.type === 'candidate' ? [data.candidate] : [];
    try {
      if (data.type !== 'candidates' && data.type !== 'candidate') this.rtc.signal(data as SimplePeer.SignalData);
      else for (const candidate of candidates) if (candidate.candidate !== '') this.rtc.signal({ type: 'candidate', candidate } as SimplePeer.SignalData);
    } catch (error) {
      this.close(toP2PError(error, P2PErrorCode.PROTOCOL, `peer ${this.remoteId} sent an unusable signal`, this.remoteId));
    }
  }

  /** Writes one message's frames after every earlier message; resolves once handed to the channel. */
  send(frames: Uint8Array[]): Promise<void> {
    const written = this.sendQueue.then(() => this.writeFrames(frames));
    this.sendQueue = written.catch(() => {});
    return written;
  }

  /** Idempotent. Releases the RTCPeerConnection, timers and waiters; reports `closed` once. */
  close(error?: P2PError): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.onClosed();
    this.timers.dispose();
    this.decoder.dispose();
    this.releaseDrainWaiters(this.notConnected());
    destroyRtc(this.rtc);
    if (!this.frozen) this.events.closed(this, error);
  }

  /**
   * Closes after the messages already queued: sends GOODBYE, writes nothing more, and lets the
   * remote close first (at most GOODBYE_WAIT_MS), so no close reaches the remote mid-send.
   */
  async closeGracefully(): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed') return this.closedPromise;
    if (this.state !== 'open' || this.frozen) return this.close();
    // Bounds the whole goodbye, including a queue held up by back-pressure.
    this.timers.after(GOODBYE_WAIT_MS, () => this.close());
    await Promise.race([this.sendQueue, this.closedPromise]);
    if (this.state !== 'open') return this.closedPromise;
    this.state = 'closing';
    try {
      this.rtc.write(encodeGoodbye());
    } catch {
      this.close();
    }
    return this.closedPromise;
  }

  /** The round-trip time of the candidate pair in use, in ms; undefined unless the link is open. */
  async roundTripTimeMs(): Promise<number | undefined> {
    const pc = peerConnectionOf(this.rtc);
    if (this.state !== 'open' || !pc) return undefined;
    return selectedPairRoundTripMs(pc).catch(() => undefined);
  }

  /** What the connection got to, for the error of a link that never opened. */
  private whyNotConnected(): string {
    const pc = peerConnectionOf(this.rtc);
    if (!pc?.remoteDescription) return `no ${this.initiator ? 'answer' : 'offer'} came through signaling`;
    const ice = pc.iceConnectionState;
    if (ice === 'connected' || ice === 'completed') return 'ICE connected, but the data channel did not open';
    return `${NO_PAIR} (ICE state: ${ice})`;
  }

  /** Simulates a crashed process: no heartbeat, no answer, no event, until close(). */
  freeze(): void {
    this.frozen = true;
    this.timers.dispose();
  }

  private onLocalSignal(data: any): void {
    if (this.frozen || typeof data !== 'object' || data === null) return;
    // simple-peer may also emit renegotiation requests; data-only links never need them.
    if (data.type === 'offer' || data.type === 'answer' || data.type === 'candidate') this.bundler.push(data);
  }

  private onOpen(): void {
    if (this.state !== 'connecting' || this.frozen) return;
    this.state = 'open';
    this.cancelConnectTimeout();
    this.lastReceivedAt = this.settings.clock.now();
    this.scheduleHeartbeat();
    this.events.open(this);
    // Attached only now: the remote may write as soon as its side opens, before ours reports
    // open; until then the paused stream holds those frames, and connect$ precedes message$.
    if (this.state === 'open') this.rtc.on('data', (frame: Uint8Array) => this.onFrame(frame));
  }

  private onFrame(frame: Uint8Array): void {
    // Both sides saying goodbye at once: neither waits for the other any longer.
    if (this.state === 'closing' && frame.byteLength === 1 && frame[0] === FrameType.GOODBYE) return this.close();
    if (this.state !== 'open' || this.frozen) return;
    this.lastReceivedAt = this.settings.clock.now();
    let decoded;
    try {
      decoded = this.decoder.decode(frame);
    } catch (error) {
      const framingError = toP2PError(error, P2PErrorCode.PROTOCOL, `peer ${this.remoteId} broke the framing`);
      this.close(withPeerId(framingError, this.remoteId));
      return;
    }
    // The remote writes nothing more: closing our side now is what keeps its last send safe.
    if (decoded.kind === 'goodbye') return this.close();
    if (decoded.kind !== 'ping' && decoded.kind !== 'partial') this.events.frame(this, decoded);
  }

  private scheduleHeartbeat(): void {
    const interval = this.settings.heartbeatIntervalMs;
    const scheduledAt = this.settings.clock.now();
    this.timers.after(interval, () => {
      if (this.state !== 'open') return;
      const now = this.settings.clock.now();
      // Timers run before pending I/O: after a long block of the event loop the remote's frames
      // may be waiting unread, so a late tick grants one more interval before judging silence.
      const starved = now - scheduledAt > 2 * interval;
      if (!starved && now - this.lastReceivedAt > this.settings.peerTimeoutMs) {
        this.close(
          new P2PError(P2PErrorCode.TIMEOUT, `peer ${this.remoteId} was silent for ${this.settings.peerTimeoutMs} ms`, {
            peerId: this.remoteId,
          }),
        );
        return;
      }
      if (now - this.lastSentAt >= interval) this.write(encodePing());
      this.scheduleHeartbeat();
    });
  }

  private async writeFrames(frames: Uint8Array[]): Promise<void> {
    for (const frame of frames) {
      if (this.state !== 'open') throw this.notConnected();
      if (!this.write(frame)) await this.drained();
    }
  }

  private write(frame: Uint8Array): boolean {
    this.lastSentAt = this.settings.clock.now();
    return this.rtc.write(frame);
  }

  private drained(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waitingForDrain.add((error) => (error ? reject(error) : resolve()));
    });
  }

  private releaseDrainWaiters(error?: P2PError): void {
    const waiters = [...this.waitingForDrain];
    this.waitingForDrain.clear();
    for (const settle of waiters) settle(error);
  }

  private notConnected(): P2PError {
    return new P2PError(P2PErrorCode.PEER_NOT_CONNECTED, `peer ${this.remoteId} is not connected`, {
      peerId: this.remoteId,
    });
  }
}
