/**
 * The master side of a push, decided by versions instead of RxDB's content comparison:
 * - a pushed state that includes everything the master's state includes is written;
 * - an older copy (one the master's state already includes) gets a conflict answer with the
 *   master's newer state, which RxDB's fork then takes;
 * - two states neither of which includes the other (concurrent writes) are settled by the
 *   collection's conflict handler, given the two in an order every peer agrees on (by
 *   content), so every pair of peers that meets them settles on the same state;
 * - a peer that sends no versions is answered by RxDB's own rule.
 * The read and the write are one compare-and-swap (the write names the state it replaces): a
 * write landing in between is decided again, never overwritten unseen.
 */
import { docStateToWriteDoc, writeDocToDocState, type RxCollection, type RxReplicationWriteToMasterRow, type WithDeleted } from 'rxdb';
import type { VersionBook } from './version-book.js';
import { BOTTOM, compareVersions, contentKey, mergeVersions, type Version } from './versions.js';

type Row = RxReplicationWriteToMasterRow<any>;
type StoredDocument = Parameters<RxCollection['storageInstance']['bulkWrite']>[0][number]['document'];
type State = WithDeleted<any>;

export interface PushedRow {
  row: Row;
  /** The version the pushing peer gave the state; undefined when it sent none. */
  version: Version | undefined;
}

export interface PushAnswer {
  /** The master's states for the rows not written as pushed, as RxDB's `masterWrite` returns them. */
  conflicts: State[];
  versions: Version[];
}

/**
 * Rounds of read, decide and write before the rest is answered by RxDB's own rule: a storage
 * refusing a write that often is being written without pause.
 */
const MAX_ROUNDS = 20;

type Decision =
  | { kind: 'write'; state: State; version: Version; /** Also answered as a conflict, so the fork takes it. */ answer: boolean }
  | { kind: 'conflict'; state: State; version: Version }
  | { kind: 'same' }
  | { kind: 'unknown' };

export function guardedMasterWrite(collection: RxCollection, book: VersionBook, pushed: readonly PushedRow[]): Promise<PushAnswer> {
  return book.masterWrites.run(() => decideAndWrite(collection, book, pushed));
}

async function decideAndWrite(collection: RxCollection, book: VersionBook, pushed: readonly PushedRow[]): Promise<PushAnswer> {
  const answer: PushAnswer = { conflicts: [], versions: [] };
  let pending = pushed;
  for (let round = 1; pending.length > 0; round++) {
    const ids = pending.map(({ row }) => idOf(book, row.newDocumentState));
    const stored = new Map((await collection.storageInstance.findDocumentsById(ids, true)).map((doc) => [idOf(book, doc), doc]));
    const writes: Array<{ document: StoredDocument; previous?: StoredDocument }> = [];
    const written = new Map<string, { item: PushedRow; decision: Decision & { kind: 'write' }; document: StoredDocument }>();
    const again: PushedRow[] = [];
    for (const item of pending) {
      const id = idOf(book, item.row.newDocumentState);
      const current = stored.get(id);
      const decision = await decide(collection, book, id, item, current, round >= MAX_ROUNDS);
      if (decision.kind === 'conflict') addConflict(answer, decision.state, decision.version);
      else if (decision.kind === 'unknown') again.push(item);
      else if (decision.kind === 'write') {
        book.heard(id, decision.state, decision.version);
        const document = docStateToWriteDoc(collection.database.token, false, false, decision.state, current) as StoredDocument;
        writes.push(current ? { document, previous: current } : { document });
        written.set(id, { item, decision, document });
      }
    }
    if (writes.length > 0) {
      const result = await collection.storageInstance.bulkWrite(writes, 'replication-master-write');
      const failed = result.error.find((error) => error.status !== 409);
      if (failed) throw new Error(`the master could not write ${failed.documentId} (status ${failed.status})`);
      const refused = new Set(result.error.map((error) => error.documentId));
      for (const [id, { item, decision, document }] of written) {
        // Written meanwhile by someone else: decided again against what is there now.
        if (refused.has(id)) {
          again.push(item);
          continue;
        }
        book.recordWrite(id, document, decision.version);
        if (decision.answer) addConflict(answer, decision.state, decision.version);
      }
    }
    // A storage may tell of a write only after a read can see it: let its change event arrive.
    if (again.length > 0 && writes.length === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    pending = again;
  }
  return answer;
}

async function decide(collection: RxCollection, book: VersionBook, id: string, { row, version }: PushedRow, current: StoredDocument | undefined, last: boolean): Promise<Decision> {
  const pushed = row.newDocumentState as State;
  if (!current) return { kind: 'write', state: pushed, version: version ?? {}, answer: false };
  const state = writeDocToDocState(current, false, false) as State;
  const held = book.versionOfStored(id, current);
  if (!held && version && !last) return { kind: 'unknown' };
  if (collection.conflictHandler.isEqual(state, pushed, 'p2p-master-write-same')) {
    // Already here: nothing to write, but the state now includes what the pushed copy does.
    if (version) book.heard(id, state, version);
    return { kind: 'same' };
  }
  if (version && held) {
    const order = compareVersions(version, held);
    if (order === 'after') return { kind: 'write', state: pushed, version, answer: false };
    if (order === 'before') return { kind: 'conflict', state, version: held };
    return settle(collection, { state: pushed, version }, { state, version: held });
  }
  // No versions to go by: RxDB's own rule.
  const assumed = row.assumedMasterState;
  if (assumed && collection.conflictHandler.isEqual(state, assumed, 'p2p-master-write-assumed')) {
    return { kind: 'write', state: pushed, version: mergeVersions(version ?? {}, held ?? {}), answer: false };
  }
  return { kind: 'conflict', state, version: held ?? book.versionOf(id, state) ?? BOTTOM };
}

interface Versioned {
  state: State;
  version: Version;
}

/**
 * Concurrent writes: the conflict handler picks, shown the two states in content order so
 * its answer does not depend on which side is master. The result includes both; being a
 * function of the two states alone, it is the same wherever the two meet.
 */
async function settle(collection: RxCollection, fork: Versioned, master: Versioned): Promise<Decision> {
  const [first, second] = contentKey(fork.state) < contentKey(master.state) ? [fork, master] : [master, fork];
  const chosen = (await collection.conflictHandler.resolve(
    { newDocumentState: first.state, realMasterState: second.state, assumedMasterState: undefined },
    'p2p-master-write-concurrent',
  )) as State;
  const version = mergeVersions(fork.version, master.version);
  if (collection.conflictHandler.isEqual(chosen, master.state, 'p2p-master-write-chosen')) return { kind: 'conflict', state: master.state, version: master.version };
  const takesFork = collection.conflictHandler.isEqual(chosen, fork.state, 'p2p-master-write-chosen');
  return { kind: 'write', state: takesFork ? fork.state : chosen, version, answer: !takesFork };
}

function addConflict(answer: PushAnswer, state: State, version: Version): void {
  answer.conflicts.push(state);
  answer.versions.push(version);
}

function idOf(book: VersionBook, state: unknown): string {
  return (state as Record<string, string>)[book.primaryPath]!;
}
