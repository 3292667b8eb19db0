import type SimplePeer from 'simple-peer';
import type { IceCandidateInit, RtcSignalData } from './envelope.js';
import { onIceComplete, peerConnectionOf } from './simple-peer-internals.js';
import type { TimerSet } from './timers.js';

/** Candidates that turn up within this long of each other travel in one signal. */
const CANDIDATE_BATCH_MS = 5;

type Description = Extract<RtcSignalData, { sdp: string }>;

/**
 * Cuts the signals a link takes from 5–9 to 3–4. Every signal costs a relay hop through the
 * server, and on Nostr a signature, a verification and an encryption, which is what limits
 * how fast a mesh forms. The offer waits for the first candidates and carries them in its
 * SDP: they come in one burst, within a millisecond or two of the description, and join it
 * before their events fire, and the answerer could not start its checks without them. The
 * wait is capped, so a slow STUN or TURN server cannot hold the offer back. The answer leaves
 * at once: the offerer learns the answerer's address from its checks, and the answer is what
 * it waits for to finish ICE and DTLS (3 ms sooner here). Candidates found apart from a
 * description (the answerer's, and server-reflexive, relay and TCP ones, which libwebrtc looks
 * for ~100 ms on) are sent a few milliseconds' worth per signal.
 */
export class SignalBundler {
  private held: Description | undefined;
  private sentSdp = '';
  private batch: IceCandidateInit[] = [];
  /** Cancel the held description's timers: its wait cap, and the flush after its first candidate. */
  private cancelCap: () => void = () => {};
  private cancelBurst: (() => void) | undefined;

  constructor(
    private readonly rtc: SimplePeer.Instance,
    private readonly waitMs: number,
    private readonly timers: TimerSet,
    private readonly emit: (data: RtcSignalData) => void,
  ) {
    // simple-peer's own event for the end of gathering (the null candidate, or its timeout).
    onIceComplete(rtc, () => this.flushDescription());
  }

  /** A local signal from simple-peer. */
  push(data: RtcSignalData): void {
    if (data.type === 'offer') return this.hold(data);
    if (data.type === 'answer') return this.sendDescription(data);
    if (data.type !== 'candidate' || this.waitMs <= 0) return this.emit(data);
    if (this.held) {
      // It is in the held description already; the rest of its burst has a moment to arrive.
      this.cancelBurst ??= this.timers.after(0, () => this.flushDescription());
      return;
    }
    if (this.sentSdp.includes(data.candidate.candidate)) return;
    this.batch.push(data.candidate);
    if (this.batch.length === 1) this.timers.after(CANDIDATE_BATCH_MS, () => this.flushCandidates());
  }

  private hold(data: Description): void {
    if (this.waitMs <= 0) return this.emit(data);
    if (this.pc()?.iceGatheringState === 'complete') return this.sendDescription(data);
    this.held = data;
    this.cancelCap = this.timers.after(this.waitMs, () => this.flushDescription());
  }

  private flushDescription(): void {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    this.cancelCap();
    this.cancelBurst?.();
    this.cancelBurst = undefined;
    this.sendDescription(held);
  }

  /** Sends the description as it stands now, candidates included, if the connection has one. */
  private sendDescription(data: Description): void {
    const current = this.pc()?.localDescription?.sdp;
    const sdp = typeof current === 'string' && current.length > 0 ? current : data.sdp;
    this.sentSdp = sdp;
    this.emit({ type: data.type, sdp });
  }

  private flushCandidates(): void {
    const candidates = this.batch;
    this.batch = [];
    if (candidates.length === 1) this.emit({ type: 'candidate', candidate: candidates[0]! });
    else if (candidates.length > 1) this.emit({ type: 'candidates', candidates });
  }

  private pc(): RTCPeerConnection | undefined {
    return peerConnectionOf(this.rtc);
  }
}
