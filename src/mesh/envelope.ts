import { P2PError, P2PErrorCode } from '../errors.js';

/**
 * What the core sends through a transport. `session` is random per handler instance, so a
 * restarted peer that reuses its id is told apart from its stale self (RxDB #5342). `link` is
 * the initiator's attempt number: signals of an earlier attempt can never disturb a later one.
 */
export type MeshSignal = HelloSignal | RtcSignal;

/** From the non-initiating side: "I am here and have no live link to you". */
export interface HelloSignal {
  v: 1;
  type: 'hello';
  session: string;
  /** The last link attempt of yours I saw, so a delayed hello cannot kill a newer link. */
  lastLink?: number;
  /** Your session that `lastLink` belongs to (link numbers restart with every session). */
  target?: string;
}

/** An offer, answer or ICE candidate for one link attempt. */
export interface RtcSignal {
  v: 1;
  type: 'rtc';
  session: string;
  /** The receiver's session when known; signals meant for a previous session are dropped. */
  target?: string;
  link: number;
  /** Per link and sender, counts up from 0: the same signal arriving twice is applied once. */
  seq: number;
  data: RtcSignalData;
}

export interface IceCandidateInit {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

/** `candidates`: several found close together, sent as one signal (SignalBundler). */
export type RtcSignalData =
  | { type: 'offer' | 'answer'; sdp: string }
  | { type: 'candidate'; candidate: IceCandidateInit }
  | { type: 'candidates'; candidates: IceCandidateInit[] };

const MAX_SDP_CHARS = 64 * 1024;
const MAX_ID_CHARS = 128;
const MAX_CANDIDATES_PER_SIGNAL = 64;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isShortString = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_CHARS;

/** Validates a signal from the network; anything else becomes an ERR_PROTOCOL error. */
export function parseMeshSignal(value: unknown, from: string): MeshSignal | P2PError {
  const invalid = (why: string) =>
    new P2PError(P2PErrorCode.PROTOCOL, `peer ${from} sent an invalid signal: ${why}`, { peerId: from });
  if (!isObject(value) || value.v !== 1) return invalid('not a version 1 mesh signal');
  if (!isShortString(value.session)) return invalid('no session');
  if (value.type === 'hello') {
    if (value.lastLink !== undefined && !isLinkNumber(value.lastLink)) return invalid('bad lastLink');
    if (value.target !== undefined && !isShortString(value.target)) return invalid('bad target');
    return value as unknown as HelloSignal;
  }
  if (value.type !== 'rtc') return invalid(`unknown type ${JSON.stringify(value.type)?.slice(0, 40)}`);
  if (!isLinkNumber(value.link)) return invalid('bad link number');
  if (!isLinkNumber(value.seq)) return invalid('bad signal number');
  if (value.target !== undefined && !isShortString(value.target)) return invalid('bad target');
  const data = value.data;
  if (!isObject(data)) return invalid('no data');
  if (data.type === 'offer' || data.type === 'answer') {
    if (typeof data.sdp !== 'string' || data.sdp.length > MAX_SDP_CHARS) return invalid('bad sdp');
  } else if (data.type === 'candidate') {
    if (!isCandidate(data.candidate)) return invalid('bad candidate');
  } else if (data.type === 'candidates') {
    const list = data.candidates;
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_CANDIDATES_PER_SIGNAL || !list.every(isCandidate)) {
      return invalid('bad candidate list');
    }
  } else {
    return invalid('unsupported rtc data');
  }
  return value as unknown as RtcSignal;
}

function isCandidate(value: unknown): boolean {
  return isObject(value) && typeof value.candidate === 'string' && value.candidate.length <= 4096;
}

function isLinkNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
