/** Retired sessions remembered per remote peer: one per restart, and restarts are rare. */
const MAX_RETIRED_PER_PEER = 16;
/** Remote peers remembered; the longest unheard are forgotten first. */
const MAX_PEERS = 4_096;

/**
 * Which session (process lifetime) of each remote peer is current. Once a peer's newer session
 * has been heard, its earlier ones are over: a signal still carrying one is a replay (a broker
 * or relay storing and re-sending sealed signals) or a straggler, and must not tear down the
 * link to the live session. No clock is needed: the order in which sessions were heard decides.
 */
export class RemoteSessions {
  private readonly peers = new Map<string, { current: string; retired: string[] }>();

  /** False for a session of `remoteId` that a later one replaced; otherwise records it as current. */
  admit(remoteId: string, session: string): boolean {
    const known = this.peers.get(remoteId);
    if (known?.retired.includes(session)) return false;
    // Most recently heard last, so the first entry is the one to forget.
    this.peers.delete(remoteId);
    if (!known) {
      if (this.peers.size >= MAX_PEERS) this.peers.delete(this.peers.keys().next().value!);
      this.peers.set(remoteId, { current: session, retired: [] });
      return true;
    }
    if (known.current !== session) {
      known.retired.push(known.current);
      if (known.retired.length > MAX_RETIRED_PER_PEER) known.retired.shift();
      known.current = session;
    }
    this.peers.set(remoteId, known);
    return true;
  }
}
