import SimplePeer from 'simple-peer';
import wrtc from '@roamhq/wrtc';
import type { SignalingEvents, SignalingTransport } from '../../src/mesh/signaling.js';
import { encodeJoin } from '../../src/mesh/framing.js';
import { topicTag } from '../../src/mesh/topic-tag.js';

/**
 * A hand-driven remote that speaks the mesh's signal envelope but writes whatever raw frames
 * a test wants on the data channel: a malicious or buggy peer. Its id must sort after the
 * mesh handler's, so the handler initiates and this side answers.
 */
export class RawPeer {
  rtc: SimplePeer.Instance | undefined;
  readonly frames: Uint8Array[] = [];
  offers = 0;
  private onConnect: (() => void) | undefined;

  constructor(private readonly transport: SignalingTransport, readonly peerId: string, private readonly session = 'raw-session') {}

  private room = '';

  async join(room: string): Promise<void> {
    this.room = room;
    const events: SignalingEvents = {
      peerJoined: () => {},
      peerLeft: () => {},
      lost: () => {},
      error: () => {},
      signal: (from, signal: any) => this.onSignal(from, signal),
    };
    await this.transport.join(room, this.peerId, events);
  }

  /** Resolves when the next link opens. */
  connected(): Promise<void> {
    return new Promise((resolve) => (this.onConnect = resolve));
  }

  private currentLink = -1;
  private seq = 0;
  private remoteId = '';

  /** Sends `count` more signals on the current link, each with a fresh number: a signal flood. */
  async flood(count: number, data: unknown): Promise<void> {
    for (let i = 0; i < count; i++) {
      await this.transport.send(this.remoteId, { v: 1, type: 'rtc', session: this.session, link: this.currentLink, seq: this.seq++, data });
    }
  }

  private onSignal(from: string, signal: any): void {
    if (signal?.type !== 'rtc') return;
    if (signal.link !== this.currentLink) {
      this.destroy();
      this.currentLink = signal.link;
      this.remoteId = from;
      this.offers++;
      const rtc = new SimplePeer({ initiator: false, trickle: true, wrtc, config: { iceServers: [] } });
      rtc.on('signal', (data: any) => {
        if (data.type === 'offer' || data.type === 'answer' || data.type === 'candidate') {
          void this.transport.send(from, { v: 1, type: 'rtc', session: this.session, link: this.currentLink, seq: this.seq++, data });
        }
      });
      rtc.on('connect', () => {
        // Announce the room as channel 0, as an honest peer would, so the handler lists us.
        rtc.send(encodeJoin(0, topicTag(this.room, this.peerId, from)));
        this.onConnect?.();
      });
      rtc.on('data', (frame: Uint8Array) => this.frames.push(frame));
      rtc.on('error', () => {});
      this.rtc = rtc;
    }
    try {
      const data = signal.data;
      if (data?.type !== 'candidates') this.rtc?.signal(data);
      else for (const candidate of data.candidates) this.rtc?.signal({ type: 'candidate', candidate });
    } catch {
      // A link the other side already gave up on; the next attempt brings a new link number.
    }
  }

  send(frame: Uint8Array): void {
    this.rtc?.send(frame);
  }

  destroy(): void {
    const rtc = this.rtc as (SimplePeer.Instance & { _iceCompleteTimer?: ReturnType<typeof setTimeout> }) | undefined;
    if (!rtc) return;
    this.rtc = undefined;
    rtc.removeAllListeners();
    rtc.on('error', () => {});
    rtc.destroy();
    clearTimeout(rtc._iceCompleteTimer);
  }
}
