/**
 * The versions of one collection's documents, kept by watching every write to its storage.
 * A write by the app counts as a new write of this database; a write by replication takes the
 * version that came with the state over the wire (see ReplicationGuard); a conflict resolved
 * on this side takes the version of the side it chose, or both sides' when they were
 * concurrent, and counts as a new write only when the handler made a new content.
 */
import type { Subscription } from 'rxjs';
import type { RxCollection } from 'rxdb';
import { now } from 'rxdb';
import { SerialQueue } from '../kit/serial-queue.js';
import { BOTTOM, compareVersions, contentKey, mergeVersions, type Version } from './versions.js';

/** Kept per document: its current state and the few before it, whose copies may still be in flight. */
interface Entry {
  key: string;
  /** Storage revision → version, for the current state and the ones before it, to recognise them when read back. */
  revs: Map<string, Version>;
  version: Version;
  /** This database's own write count for the document, never lowered (so no two states share a version). */
  own: number;
  recent: Map<string, Version>;
}

/** States received per document and not yet written: enough for the states in flight at once. */
const HEARD_PER_DOCUMENT = 8;
/** Past states remembered per document, for copies of them that are still being sent. */
const RECENT_PER_DOCUMENT = 8;

/** RxDB's write contexts for a conflict it resolved on the fork side, and for any replication write. */
const RESOLVED_CONTEXT = 'replication-up-write-conflict';
const REPLICATION_CONTEXT = 'replication-';

export class VersionBook {
  private readonly entries = new Map<string, Entry>();
  /** docId → content key → version, for states received from peers until they are written. */
  private readonly heardStates = new Map<string, Map<string, Version>>();
  /** docId → the master states conflict answers carried (content key → version), until the fork resolves them. */
  private readonly heardConflicts = new Map<string, Map<string, Version>>();
  /**
   * docId → every deletion of it heard, as one version, until the book sees the document
   * written: replication storing a deletion of a document this side never had makes no change
   * event, so a deletion stored that way is among these.
   */
  private readonly heardDeletions = new Map<string, Version>();
  private readonly subscription: Subscription;
  /**
   * Pushes from different peers are decided one at a time: a storage takes an insert over a
   * deleted document without a conflict, so two masters' reads of "not there" could each write.
   */
  readonly masterWrites = new SerialQueue();
  /** Documents last written before this (by the storage's clock) predate the book: BOTTOM. */
  private readonly startedAt = now();

  constructor(
    private readonly collection: RxCollection,
    /** This database's name in every version: its storage token and a part new to each book. */
    readonly self: string,
  ) {
    this.subscription = collection.storageInstance.changeStream().subscribe((bulk) => {
      for (const event of bulk.events) this.written(event.documentId, event.documentData, bulk.context);
    });
  }

  get primaryPath(): string {
    return this.collection.schema.primaryPath as string;
  }

  /**
   * The version of a state this database holds or held; BOTTOM for a document nobody wrote
   * since the book started; undefined for a state the book does not know (peers then use
   * RxDB's own rule for it).
   */
  versionOf(id: string, state: unknown): Version | undefined {
    const entry = this.entries.get(id);
    const key = contentKey(state);
    if (!entry) return this.heardStates.get(id)?.get(key) ?? BOTTOM;
    return key === entry.key ? entry.version : entry.recent.get(key);
  }

  /**
   * The version of a document as just read from the storage, or undefined when the book has
   * not yet seen that write (a storage may emit its change event after a read can see it).
   */
  versionOfStored(id: string, document: { _rev: string; _meta: { lwt: number } }): Version | undefined {
    const entry = this.entries.get(id);
    if (entry) return entry.revs.get(document._rev);
    // Stored without a change event (see recordWrite): the version it came with, if heard.
    return this.heardStates.get(id)?.get(contentKey(document)) ?? (document._meta.lwt < this.startedAt ? BOTTOM : undefined);
  }

  /**
   * A write this side made at `version`. A storage emits no change event for a document that
   * is inserted already deleted (a deletion reaching a peer that never had the document), so
   * the book cannot wait for one; when an event does come, it finds the same version.
   */
  recordWrite(id: string, document: { _rev: string }, version: Version): void {
    const entry = this.entries.get(id);
    if (entry?.revs.has(document._rev)) return;
    const key = contentKey(document);
    const own = Math.max(entry?.own ?? 0, entry?.version[this.self] ?? 0);
    this.entries.set(id, { key, version, own, recent: remember(entry?.recent, key, version), revs: remember(entry?.revs, document._rev, version) });
    this.heardDeletions.delete(id);
  }

  /** A peer sent `state` of `id` at `version`: the version it gets if it is written here. */
  heard(id: string, state: unknown, version: Version): void {
    const key = contentKey(state);
    if ((state as { _deleted?: unknown } | null)?._deleted === true && !this.entries.has(id)) {
      this.heardDeletions.set(id, mergeVersions(this.heardDeletions.get(id) ?? BOTTOM, version));
    }
    const entry = this.entries.get(id);
    // The content we hold already: it now includes what the peer's copy includes.
    if (entry?.key === key) {
      entry.version = mergeVersions(entry.version, version);
      entry.recent.set(key, entry.version);
      return;
    }
    const states = this.heardStates.get(id) ?? new Map<string, Version>();
    states.delete(key);
    states.set(key, version);
    if (states.size > HEARD_PER_DOCUMENT) states.delete(states.keys().next().value!);
    this.heardStates.set(id, states);
  }

  /** The master answered a push of `id` with a conflict and its state at `version`. */
  heardConflict(id: string, state: unknown, version: Version): void {
    // One per master: a fork pushing to several masters at once can be answered by each.
    const pending = this.heardConflicts.get(id) ?? new Map<string, Version>();
    const key = contentKey(state);
    pending.set(key, mergeVersions(pending.get(key) ?? BOTTOM, version));
    if (pending.size > HEARD_PER_DOCUMENT) pending.delete(pending.keys().next().value!);
    this.heardConflicts.set(id, pending);
    this.heard(id, state, version);
  }

  stop(): void {
    this.subscription.unsubscribe();
    this.entries.clear();
    this.heardStates.clear();
    this.heardConflicts.clear();
    this.heardDeletions.clear();
  }

  private written(id: string, document: { _rev: string }, context: string): void {
    const key = contentKey(document);
    const entry = this.entries.get(id);
    const own = Math.max(entry?.own ?? 0, entry?.version[this.self] ?? 0);
    let version: Version;
    let ownCount = own;
    if (context === RESOLVED_CONTEXT) {
      const master = this.takeConflict(id, key);
      version = resolvedVersion(key, entry, master);
      // Only a new content (a handler that merges) is a new write; taking either side's
      // content is not, and counting it as one would make it look concurrent to that side's next write.
      if (key !== entry?.key && key !== master?.key) version = { ...version, [this.self]: (ownCount = own + 1) };
    } else if (!context.startsWith(REPLICATION_CONTEXT)) {
      // The app wrote: a new write that includes the state it replaced. With no entry, that
      // was nothing, a state older than the book, or a deletion stored without an event.
      const replaced = entry?.version ?? this.heardDeletions.get(id) ?? BOTTOM;
      version = { ...replaced, [this.self]: (ownCount = own + 1) };
    } else {
      version = this.takeHeard(id, key) ?? (entry && (key === entry.key ? entry.version : entry.recent.get(key))) ?? BOTTOM;
    }
    const recent = remember(entry?.recent, key, version);
    const revs = remember(entry?.revs, document._rev, version);
    this.entries.set(id, { key, revs, version, own: ownCount, recent });
    this.heardDeletions.delete(id);
  }

  /**
   * The master state a resolved conflict answered: the one whose content was taken, else the
   * only one pending. With several pending and a new content, none: the new state then counts
   * as concurrent with each (settled again) instead of claiming writes it may not include.
   */
  private takeConflict(id: string, key: string): { key: string; version: Version } | undefined {
    const pending = this.heardConflicts.get(id);
    if (!pending) return undefined;
    const taken = pending.has(key) ? key : pending.size === 1 ? pending.keys().next().value! : undefined;
    if (taken === undefined) return undefined;
    const version = pending.get(taken)!;
    pending.delete(taken);
    if (pending.size === 0) this.heardConflicts.delete(id);
    return { key: taken, version };
  }

  private takeHeard(id: string, key: string): Version | undefined {
    const states = this.heardStates.get(id);
    const version = states?.get(key);
    if (version === undefined) return undefined;
    states!.delete(key);
    if (states!.size === 0) this.heardStates.delete(id);
    return version;
  }
}

/**
 * The version of the state a conflict was resolved to. The handler's choice between two
 * concurrent states includes both; taking a state that already includes the other is that state.
 */
function resolvedVersion(key: string, fork: Entry | undefined, master: { key: string; version: Version } | undefined): Version {
  const forkVersion = fork?.version ?? BOTTOM;
  if (!master) return forkVersion;
  const concurrent = compareVersions(forkVersion, master.version) === 'concurrent';
  if (key === master.key && !concurrent) return master.version;
  if (key === fork?.key && !concurrent) return forkVersion;
  return mergeVersions(forkVersion, master.version);
}

/** Sets `key` as the newest of a small map that forgets its oldest entries. */
function remember(map: Map<string, Version> | undefined, key: string, version: Version): Map<string, Version> {
  const kept = map ?? new Map<string, Version>();
  kept.delete(key);
  kept.set(key, version);
  if (kept.size > RECENT_PER_DOCUMENT) kept.delete(kept.keys().next().value!);
  return kept;
}
