import { P2PError, P2PErrorCode } from '../errors.js';
import { createPeer } from '../hub.js';
import type { P2PMessage, P2PPeer, P2PResponse } from '../types.js';
import { parseMeshSignal, type HelloSignal, type MeshSignal, type RtcSignal, type RtcSignalData } from './envelope.js';
import { Reach } from './reach.js';
import { RemoteSessions } from './remote-sessions.js';
import { topicTag } from './topic-tag.js';
import { MAX_CHANNELS, encodeJoin, encodeLeave, encodeMessage, type DecodedFrame } from './framing.js';
import { randomId, type ResolvedMeshOptions } from './options.js';
import { PeerLink, type PeerLinkEvents, type PeerLinkSettings } from './peer-link.js';
import { RtcFactory } from './rtc-factory.js';
import type { PeerDetails, SignalingTransport } from './signaling.js';
import { TimerSet, backoffDelay } from './timers.js';
import { trace } from '../trace.js';
import { TopicHandle, type WebRTCMeshHandler } from './topic.js';

/** How long the non-offering side of a shared roster waits for the offer before saying hello. */
const HELLO_GRACE_MS = 500;

/**
 * All WebRTC links of one peer (a creator starts another only for a topic this one holds): a
 * single link per remote peer, however many topics (RxDB collections) the two share, each topic
 * multiplexed on its own channel.
 * Topics come and go as handlers open and close; the network ends with the last one.
 */
export class MeshNetwork implements PeerLinkEvents {
  readonly session = randomId();
  private readonly timers: TimerSet;
  private readonly links = new Map<string, PeerLink>();
  private readonly rtc: RtcFactory;
  private readonly topics = new Map<string, TopicHandle>();
  /** Per remote peer: the local topics whose signaling reaches it (capped per topic). */
  private readonly reach: Reach;
  /** Topics whose cap refused a peer since they were last below it: reported once per episode. */
  private readonly capReported = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly pendingRetries = new Map<string, () => void>();
  /** Per remote: the newest link attempt of theirs we have seen, and its session (for hello). */
  private readonly lastLinkSeen = new Map<string, { session: string; link: number }>();
  private readonly sessions = new RemoteSessions();
  private linkCounter = 0;
  private crashed = false;
  private ended = false;

  constructor(
    readonly options: ResolvedMeshOptions,
    private readonly linkSettings: PeerLinkSettings,
    private readonly peerDetails: PeerDetails | undefined,
  ) {
    this.timers = new TimerSet(options.clock);
    this.reach = new Reach(options.maxPeersPerTopic);
    this.rtc = new RtcFactory(linkSettings);
  }

  get peerId(): string {
    return this.options.peerId;
  }

  /** False once the last topic closed (or the network crashed): open a new network then. */
  get isOpen(): boolean {
    return !this.ended && !this.crashed;
  }

  /** True while a handler of this peer holds `topic`: a second one there needs a peer of its own. */
  hasTopic(topic: string): boolean {
    return this.topics.has(topic);
  }

  /** Joins `topic` through `transports`; resolves once one of them joined (or keeps retrying). */
  async openTopic(topic: string, transports: readonly SignalingTransport[]): Promise<WebRTCMeshHandler> {
    // The creator opens a new peer instead, so only a caller bypassing it gets here.
    if (this.topics.has(topic)) {
      throw new P2PError(P2PErrorCode.INVALID_OPTION, `topic ${topic} is already open on this peer (one peer has one handler per topic)`);
    }
    const used = new Set([...this.topics.values()].map((open) => open.channel));
    let channel = 0;
    while (used.has(channel)) channel++;
    const handle = new TopicHandle(this, topic, channel, transports);
    this.topics.set(topic, handle);
    const starting = handle.start();
    // The first link will need a connection: made while the signaling connects (unless one came first).
    if (this.topics.size === 1) this.timers.after(0, () => this.isOpen && this.links.size === 0 && this.rtc.prepare());
    await starting;
    // Peers join the topic only once the caller holds the handler: a connect$ emitted before it
    // subscribed would be lost (subjects are hot), e.g. a link that was open already, to a peer
    // that announced the topic before we had it (RxDB collections opened at different times).
    this.timers.after(0, () => this.deliver(handle));
    return handle.handler;
  }

  /** Announces a topic the caller now holds on every open link, and adds the peers that have it. */
  private deliver(handle: TopicHandle): void {
    if (this.topics.get(handle.topic) !== handle) return;
    handle.markDelivered();
    for (const link of this.links.values()) this.meetOnLink(link, handle);
  }

  /**
   * A topic is announced to, and accepted from, only a peer seen in that topic's room, and as a
   * tag only that peer can check (topic-tag.ts): a peer of one topic never learns of, nor gets
   * into, another.
   */
  private meetOnLink(link: PeerLink, handle: TopicHandle): void {
    const { topic } = handle;
    if (link.state !== 'open' || !handle.delivered || !this.reach.reaches(link.remoteId, topic)) return;
    // Presences repeat (Nostr, MQTT): a topic already met on this link needs no tags hashed again.
    if (link.announced.has(topic) && link.topicPeers.has(topic)) return;
    const theirs = topicTag(topic, link.remoteId, this.peerId);
    if ([...link.remoteChannels.values()].includes(theirs)) {
      trace.frame('%s admits %s into %s', this.peerId, link.remoteId, topic);
      link.admittedTags.set(theirs, topic);
      this.onRemoteJoin(link, topic);
    }
    // After adding the peer: the remote writes to this topic only once it has our announcement.
    if (link.announced.has(topic)) return;
    link.announced.add(topic);
    trace.frame('%s announces %s to %s on channel %d', this.peerId, topic, link.remoteId, handle.channel);
    void link.send([encodeJoin(handle.channel, topicTag(topic, this.peerId, link.remoteId))]).catch(() => {});
  }

  /**
   * `remoteId` was seen in `topic`'s room: if a link is open already, the topic may now go on it.
   * False when the room already holds `maxPeersPerTopic` others: then nothing is done for it.
   */
  private seenInRoom(topic: string, remoteId: string): boolean {
    if (!this.reach.add(topic, remoteId)) {
      if (!this.capReported.has(topic)) {
        this.capReported.add(topic);
        const message = `topic ${topic} reaches its cap of ${this.options.maxPeersPerTopic} peers: ${remoteId} and others after it are ignored`;
        this.topics.get(topic)?.reportError(new P2PError(P2PErrorCode.LIMIT_EXCEEDED, message, { peerId: remoteId }));
      }
      return false;
    }
    const link = this.links.get(remoteId);
    const handle = this.topics.get(topic);
    if (link && handle) this.meetOnLink(link, handle);
    return true;
  }

  // ---- called by TopicHandle ----------------------------------------------------------

  onTopicPeerJoined(topic: string, remoteId: string, sharedRoster: boolean): void {
    if (!this.isOpen || !this.seenInRoom(topic, remoteId)) return;
    this.reachOut(remoteId, sharedRoster);
  }

  onTopicPeerLeft(topic: string, remoteId: string): void {
    this.capReported.delete(topic);
    if (!this.reach.remove(topic, remoteId)) return;
    this.pendingRetries.get(remoteId)?.();
    this.pendingRetries.delete(remoteId);
    // An open link outlives the signaling channel; only a half-made one is abandoned.
    const link = this.links.get(remoteId);
    if (link?.state === 'connecting') link.close();
  }

  onTopicSignal(topic: string, from: string, raw: unknown, via: SignalingTransport): void {
    if (!this.isOpen) return;
    const signal = parseMeshSignal(raw, from);
    if (signal instanceof P2PError) return this.topics.get(topic)?.reportError(signal);
    if (!this.seenInRoom(topic, from) || !this.sessions.admit(from, signal.session)) return;
    if (signal.type === 'hello') this.onHello(from, signal);
    else this.onRtcSignal(from, signal, via);
  }

  roundTripTime(remoteId: string): Promise<number | undefined> {
    return this.links.get(remoteId)?.roundTripTimeMs() ?? Promise.resolve(undefined);
  }

  async sendOnTopic(handle: TopicHandle, peer: P2PPeer, payload: P2PMessage | P2PResponse): Promise<void> {
    const link = this.links.get(peer.id);
    if (!link || link.state !== 'open' || link.topicPeers.get(handle.topic) !== peer) {
      throw new P2PError(P2PErrorCode.PEER_NOT_CONNECTED, `peer ${peer.id} is not connected`, { peerId: peer.id });
    }
    const frames = encodeMessage(payload, handle.channel, this.options.maxMessageBytes);
    if (trace.frame.enabled) trace.frame('%s sends %d bytes to %s in %s', this.peerId, frames.reduce((sum, frame) => sum + frame.byteLength, 0), peer.id, handle.topic);
    await link.send(frames);
  }

  /** A topic handler closed: tell every link, forget the topic, end the network after the last. */
  async closeTopic(handle: TopicHandle): Promise<void> {
    if (this.topics.get(handle.topic) !== handle) return;
    this.topics.delete(handle.topic);
    for (const link of this.links.values()) {
      const peer = link.topicPeers.get(handle.topic);
      if (peer) handle.hub.removePeer(peer);
      link.topicPeers.delete(handle.topic);
      for (const [tag, topic] of link.admittedTags) if (topic === handle.topic) link.admittedTags.delete(tag);
      const announced = link.announced.delete(handle.topic);
      if (link.state === 'open' && !this.crashed && announced) void link.send([encodeLeave(handle.channel)]).catch(() => {});
    }
    this.reach.removeTopic(handle.topic);
    this.capReported.delete(handle.topic);
    if (this.topics.size === 0) return this.end();
    for (const link of [...this.links.values()]) this.closeIfIdle(link);
  }

  /** Stops like a crashed process: no goodbye, no answer, nothing emitted. */
  async crash(): Promise<void> {
    this.crashed = true;
    this.timers.dispose();
    this.rtc.dispose();
    for (const link of this.links.values()) link.freeze();
    await Promise.all([...this.topics.values()].map((handle) => handle.stopSignaling()));
  }

  // ---- who connects to whom -----------------------------------------------------------

  /** One side of each pair initiates, fixed by id order, so two offers never cross (no glare). */
  private initiates(remoteId: string): boolean {
    return this.peerId < remoteId;
  }

  /** `offerExpected`: the initiator heard of us when we heard of it, so its offer is on the way. */
  private reachOut(remoteId: string, offerExpected = false): void {
    if (this.links.has(remoteId) || this.pendingRetries.has(remoteId)) return;
    if (this.initiates(remoteId)) {
      this.openLink(remoteId, ++this.linkCounter, true);
    } else if (offerExpected) {
      trace.link('%s expects an offer from %s', this.peerId, remoteId);
      // The hello still goes out if no offer came by then (it may hold a link to our stale self).
      this.retryLater(remoteId, HELLO_GRACE_MS);
    } else {
      const seen = this.lastLinkSeen.get(remoteId);
      this.sendSignal(remoteId, { v: 1, type: 'hello', session: this.session, lastLink: seen?.link, target: seen?.session });
      // A lost hello (lossy transports, a reconnecting initiator) must not strand the pair.
      this.retryLater(remoteId, this.options.connectTimeoutMs);
    }
  }

  private retryLater(remoteId: string, delay: number): void {
    this.pendingRetries.get(remoteId)?.();
    trace.link('%s reaches out to %s again in %d ms', this.peerId, remoteId, delay);
    const cancel = this.timers.after(delay, () => {
      this.pendingRetries.delete(remoteId);
      if (this.reach.has(remoteId) && !this.links.has(remoteId)) this.reachOut(remoteId);
    });
    this.pendingRetries.set(remoteId, cancel);
  }

  /** Through the signaling of one topic that reaches the peer (its transports are redundant already). */
  private sendSignal(to: string, signal: MeshSignal): void {
    const viaTopic = this.reach.anyTopicOf(to);
    const handle = (viaTopic && this.topics.get(viaTopic)) || this.topics.values().next().value;
    handle?.signaling.send(to, signal);
  }

  private onHello(from: string, hello: HelloSignal): void {
    // Addressed to an earlier session of ours: stale, whatever it says about our links.
    if (!this.initiates(from) || (hello.target !== undefined && hello.target !== this.session)) {
      return trace.link('%s ignores a hello of %s (not its initiator, or for an earlier session)', this.peerId, from);
    }
    const link = this.links.get(from);
    const restarted = link?.remoteSession !== undefined && link.remoteSession !== hello.session;
    const lostByRemote = link !== undefined && hello.lastLink === link.linkNumber && hello.target === this.session;
    if (link && !restarted && !lostByRemote) {
      trace.link('%s keeps link #%d to %s on its hello', this.peerId, link.linkNumber, from);
      link.remoteSession ??= hello.session;
      return;
    }
    link?.close();
    this.pendingRetries.get(from)?.();
    this.pendingRetries.delete(from);
    this.openLink(from, ++this.linkCounter, true).remoteSession = hello.session;
  }

  private onRtcSignal(from: string, signal: RtcSignal, via: SignalingTransport): void {
    if (signal.target !== undefined && signal.target !== this.session) {
      return trace.link('%s drops a signal of %s for an earlier session', this.peerId, from);
    }
    let link = this.links.get(from);
    if (this.initiates(from)) {
      if (!link || link.linkNumber !== signal.link) {
        return trace.link('%s drops a signal of %s for link #%d (current: #%s)', this.peerId, from, signal.link, link?.linkNumber);
      }
      if (link.remoteSession !== undefined && link.remoteSession !== signal.session) return;
      link.remoteSession = signal.session;
    } else if (!link || link.remoteSession !== signal.session || link.linkNumber !== signal.link) {
      if (link && link.remoteSession === signal.session && signal.link < link.linkNumber) return;
      link?.close();
      this.pendingRetries.get(from)?.();
      this.pendingRetries.delete(from);
      link = this.openLink(from, signal.link, false);
      link.remoteSession = signal.session;
      this.lastLinkSeen.set(from, { session: signal.session, link: signal.link });
    }
    // Redundant transports deliver the same signal more than once; feed each one once.
    if (!link.admitSignal(signal.seq)) return;
    link.signaledVia.add(via);
    link.signal(signal.data);
  }

  private openLink(remoteId: string, linkNumber: number, initiator: boolean): PeerLink {
    trace.link('%s opens link #%d to %s as %s', this.peerId, linkNumber, remoteId, initiator ? 'initiator' : 'answerer');
    const link = new PeerLink(remoteId, linkNumber, initiator, this.linkSettings, this, this.rtc.create(initiator));
    this.links.set(remoteId, link);
    return link;
  }

  /** A link no local topic shares any more, to a peer no topic's signaling reaches, is closed. */
  private closeIfIdle(link: PeerLink): void {
    if (link.topicPeers.size === 0 && !this.reach.has(link.remoteId)) void link.closeGracefully();
  }

  private onRemoteJoin(link: PeerLink, topic: string): void {
    const handle = this.topics.get(topic);
    if (!handle?.delivered || link.topicPeers.has(topic)) return;
    const peer = createPeer(link.remoteId, this.peerDetails?.(link.remoteId, link.signaledVia));
    link.topicPeers.set(topic, peer);
    handle.hub.addPeer(peer);
  }

  private forgetTag(link: PeerLink, tag: string): void {
    const topic = link.admittedTags.get(tag);
    link.admittedTags.delete(tag);
    if (topic !== undefined) this.dropTopicPeer(link, topic);
  }

  private dropTopicPeer(link: PeerLink, topic: string): void {
    const peer = link.topicPeers.get(topic);
    if (!peer) return;
    link.topicPeers.delete(topic);
    this.topics.get(topic)?.hub.removePeer(peer);
  }

  // ---- link events (PeerLinkEvents) ---------------------------------------------------

  signal(link: PeerLink, data: RtcSignalData): void {
    if (this.links.get(link.remoteId) !== link) return;
    const signal: RtcSignal = { v: 1, type: 'rtc', session: this.session, target: link.remoteSession, link: link.linkNumber, seq: link.nextSignalSeq++, data };
    this.sendSignal(link.remoteId, signal);
  }

  open(link: PeerLink): void {
    if (this.links.get(link.remoteId) !== link || !this.isOpen) return link.close();
    trace.link('%s has link #%d to %s open', this.peerId, link.linkNumber, link.remoteId);
    this.failures.delete(link.remoteId);
    for (const handle of this.topics.values()) this.meetOnLink(link, handle);
  }

  frame(link: PeerLink, frame: Exclude<DecodedFrame, { kind: 'ping' | 'partial' | 'goodbye' }>): void {
    if (frame.kind === 'join') {
      const previous = link.remoteChannels.get(frame.channel);
      if (previous === undefined && link.remoteChannels.size >= MAX_CHANNELS) {
        return link.close(new P2PError(P2PErrorCode.PROTOCOL, `peer ${link.remoteId} announced over ${MAX_CHANNELS} topics`, { peerId: link.remoteId }));
      }
      if (previous !== undefined && previous !== frame.tag) this.forgetTag(link, previous);
      link.remoteChannels.set(frame.channel, frame.tag);
      for (const handle of this.topics.values()) this.meetOnLink(link, handle);
      return;
    }
    const tag = link.remoteChannels.get(frame.channel);
    if (tag === undefined) {
      return link.close(new P2PError(P2PErrorCode.PROTOCOL, `peer ${link.remoteId} used channel ${frame.channel} without announcing it`, { peerId: link.remoteId }));
    }
    if (frame.kind === 'leave') {
      link.remoteChannels.delete(frame.channel);
      this.forgetTag(link, tag);
      return this.closeIfIdle(link);
    }
    const topic = link.admittedTags.get(tag);
    const peer = topic === undefined ? undefined : link.topicPeers.get(topic);
    if (peer) this.topics.get(topic!)?.hub.deliver(peer, frame.payload);
  }

  closed(link: PeerLink, error: P2PError | undefined): void {
    trace.link('%s closed link #%d to %s: %s', this.peerId, link.linkNumber, link.remoteId, error ? `${error.code} ${error.message}` : 'orderly');
    // Errors about one peer go to the topics it shares with us, or to every topic if none.
    const shared = [...link.topicPeers.keys()].map((topic) => this.topics.get(topic));
    if (error) for (const handle of shared.length ? shared : [...this.topics.values()]) handle?.reportError(error);
    for (const topic of [...link.topicPeers.keys()]) this.dropTopicPeer(link, topic);
    if (this.links.get(link.remoteId) !== link) return;
    this.links.delete(link.remoteId);
    if (!this.isOpen || !this.reach.has(link.remoteId)) return;
    const failures = (this.failures.get(link.remoteId) ?? 0) + 1;
    this.failures.set(link.remoteId, failures);
    this.retryLater(link.remoteId, backoffDelay(failures - 1, this.options.reconnectMinDelayMs, this.options.reconnectMaxDelayMs));
  }

  private async end(): Promise<void> {
    this.ended = true;
    this.timers.dispose();
    this.rtc.dispose();
    const links = [...this.links.values()];
    this.links.clear();
    await Promise.all(links.map((link) => link.closeGracefully()));
  }
}
