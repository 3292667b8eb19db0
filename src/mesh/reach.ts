/**
 * Which remote peers each local topic's signaling room has shown us, with a cap per topic:
 * without one, an outsider announcing fresh ids (Nostr presences from new keys, for instance)
 * costs a WebRTC connection attempt each, for as long as it likes.
 */
export class Reach {
  private readonly byRemote = new Map<string, Set<string>>();
  private readonly count = new Map<string, number>();

  constructor(private readonly maxPeersPerTopic: number) {}

  /** `remoteId` was seen in `topic`'s room; false when that room already holds its cap of others. */
  add(topic: string, remoteId: string): boolean {
    const topics = this.byRemote.get(remoteId);
    if (topics?.has(topic)) return true;
    const count = this.count.get(topic) ?? 0;
    if (count >= this.maxPeersPerTopic) return false;
    this.count.set(topic, count + 1);
    if (topics) topics.add(topic);
    else this.byRemote.set(remoteId, new Set([topic]));
    return true;
  }

  /** `remoteId` left `topic`'s room; true when no room of ours reaches it any more. */
  remove(topic: string, remoteId: string): boolean {
    const topics = this.byRemote.get(remoteId);
    if (topics?.delete(topic)) this.count.set(topic, (this.count.get(topic) ?? 1) - 1);
    if (topics?.size) return false;
    this.byRemote.delete(remoteId);
    return true;
  }

  /** Our topic closed: its room reaches nobody any more. */
  removeTopic(topic: string): void {
    for (const remoteId of [...this.byRemote.keys()]) this.remove(topic, remoteId);
    this.count.delete(topic);
  }

  has(remoteId: string): boolean {
    return this.byRemote.has(remoteId);
  }

  reaches(remoteId: string, topic: string): boolean {
    return this.byRemote.get(remoteId)?.has(topic) ?? false;
  }

  /** One topic whose room reaches `remoteId`, to signal it through. */
  anyTopicOf(remoteId: string): string | undefined {
    return this.byRemote.get(remoteId)?.values().next().value;
  }
}
