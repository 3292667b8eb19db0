import SimplePeer from 'simple-peer';
import { clearIceCompleteTimer, simplePeerDefaultConfig } from './simple-peer-internals.js';
import { TimerSet, type Clock } from './timers.js';
import type { WebRTCImplementation } from './wrtc.js';

export interface RtcSettings {
  wrtc: WebRTCImplementation | undefined;
  config: RTCConfiguration | undefined;
  clock: Clock;
}

/** An unused spare is closed after this long: a peer alone in its rooms holds no idle connection. */
const SPARE_MAX_AGE_MS = 10_000;

/**
 * Makes the simple-peer instance of every link, and keeps one RTCPeerConnection ready for the
 * first. The first connection of a process (or the first after all were released) is the
 * expensive one: @roamhq/wrtc starts its factory and threads, ~10 ms of main-thread time here
 * and far more on a loaded machine (60 ms for a process's very first). Made when a peer opens
 * its first topic, while the signaling connection is still being set up, it is off the path
 * from "a peer is there" to "the offer is sent". A bare connection, so either role can use it
 * and it signals nothing before a link takes it.
 */
export class RtcFactory {
  private spare: { pc: RTCPeerConnection; release: () => void } | undefined;
  private readonly timers: TimerSet;

  constructor(private readonly settings: RtcSettings) {
    this.timers = new TimerSet(settings.clock);
  }

  /** Makes the spare connection, unless there is one (or no WebRTC implementation to make it with). */
  prepare(): void {
    const implementation = this.implementation();
    if (this.spare || !implementation) return;
    let pc: RTCPeerConnection;
    try {
      pc = new implementation.RTCPeerConnection(this.rtcConfig());
    } catch {
      return; // a bad config: the link that needs a connection reports it
    }
    const cancel = this.timers.after(SPARE_MAX_AGE_MS, () => this.dispose());
    this.spare = { pc, release: cancel };
  }

  /** A simple-peer instance for one link attempt, on the spare connection if there is one. */
  create(initiator: boolean): SimplePeer.Instance {
    const spare = this.spare;
    this.spare = undefined;
    spare?.release();
    const implementation = this.implementation();
    // simple-peer constructs its connection with `new`; a constructor may return an existing object.
    const construct = (config: RTCConfiguration) => dropCandidatesAfterClose(spare?.pc ?? new implementation!.RTCPeerConnection(config));
    const wrtc = implementation ? { ...implementation, RTCPeerConnection: function Made(config: RTCConfiguration) { return construct(config); } } : undefined;
    return new SimplePeer({
      initiator,
      trickle: true,
      wrtc: wrtc as SimplePeer.Options['wrtc'],
      config: this.settings.config,
      channelConfig: { ordered: true },
    });
  }

  dispose(): void {
    const spare = this.spare;
    this.spare = undefined;
    spare?.release();
    spare?.pc.close();
  }

  /** What simple-peer would construct with: the given implementation, else the platform's. */
  private implementation(): WebRTCImplementation | undefined {
    if (this.settings.wrtc) return this.settings.wrtc;
    const platform = globalThis as Partial<WebRTCImplementation>;
    return typeof platform.RTCPeerConnection === 'function'
      ? { RTCPeerConnection: platform.RTCPeerConnection, RTCSessionDescription: platform.RTCSessionDescription, RTCIceCandidate: platform.RTCIceCandidate }
      : undefined;
  }

  /** The configuration simple-peer gives its connections: its defaults under ours. */
  private rtcConfig(): RTCConfiguration {
    return Object.assign({}, simplePeerDefaultConfig(), this.settings.config);
  }
}

/**
 * Candidates still on their way when a link closes are refused by the closed connection, and
 * simple-peer prints a console warning for each refusal: dropping them quietly loses nothing.
 * Whether it was closed is kept here, in JavaScript: reading a closed @roamhq/wrtc connection's
 * own state (a native getter) can touch freed memory and crash the process.
 */
function dropCandidatesAfterClose(pc: RTCPeerConnection): RTCPeerConnection {
  let closed = false;
  const [add, close] = [pc.addIceCandidate.bind(pc), pc.close.bind(pc)];
  pc.close = () => {
    closed = true;
    close();
  };
  pc.addIceCandidate = ((candidate?: RTCIceCandidateInit) =>
    add(candidate).catch((error: unknown) => {
      if (!closed) throw error;
    })) as RTCPeerConnection['addIceCandidate'];
  return pc;
}

/** Destroys a simple-peer instance for good: no event, no timer left behind. */
export function destroyRtc(rtc: SimplePeer.Instance): void {
  rtc.removeAllListeners();
  // An 'error' with no listener would throw; after close nothing it says matters.
  rtc.on('error', () => {});
  rtc.on('close', () => clearIceCompleteTimer(rtc));
  rtc.destroy();
  clearIceCompleteTimer(rtc);
}
