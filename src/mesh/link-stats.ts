/**
 * The round-trip time of a link's ICE candidate pair in use, from the standard
 * `RTCPeerConnection.getStats()`: what browsers and Node's WebRTC implementations all report.
 */

interface StatsEntry {
  type?: string;
  id?: string;
  selectedCandidatePairId?: string;
  nominated?: boolean;
  selected?: boolean;
  state?: string;
  currentRoundTripTime?: number;
  totalRoundTripTime?: number;
  responsesReceived?: number;
}

/** Milliseconds, or undefined when the connection reports no pair in use (yet) or no time for it. */
export async function selectedPairRoundTripMs(pc: Pick<RTCPeerConnection, 'getStats'>): Promise<number | undefined> {
  const entries: StatsEntry[] = [];
  (await pc.getStats()).forEach((entry: StatsEntry) => entries.push(entry));
  const pairs = entries.filter((entry) => entry.type === 'candidate-pair');
  // Chromium and libwebrtc name the pair in use on the transport; Firefox marks it `selected`.
  const selectedId = entries.find((entry) => entry.type === 'transport' && entry.selectedCandidatePairId)?.selectedCandidatePairId;
  const pair =
    pairs.find((entry) => entry.id === selectedId) ??
    pairs.find((entry) => entry.selected) ??
    pairs.find((entry) => entry.nominated && entry.state === 'succeeded');
  if (!pair) return undefined;
  if (typeof pair.currentRoundTripTime === 'number') return pair.currentRoundTripTime * 1000;
  if (typeof pair.totalRoundTripTime === 'number' && pair.responsesReceived) return (pair.totalRoundTripTime / pair.responsesReceived) * 1000;
  return undefined;
}
