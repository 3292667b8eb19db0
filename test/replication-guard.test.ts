/**
 * The replication guard's parts on a real RxDB collection (docs/replication.md): how the
 * version book counts writes, how the master decides a push by versions, and that a peer's
 * malformed push gets an error answer instead of breaking anything.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RxCollection } from 'rxdb';
import { createMemoryNetwork, getConnectionHandlerMemory } from '../handlers/memory/index.js';
import { guardedMasterWrite } from '../src/replication/master-write.js';
import { VersionBook } from '../src/replication/version-book.js';
import { compareVersions, mergeVersions, parseVersion } from '../src/replication/versions.js';
import type { P2PConnectionHandler, P2PPeer } from '../src/types.js';
import { memoryDocsDatabase, type DocsDatabase } from './fixtures/memory-database.js';
import { next } from './helpers/wait.js';

interface Doc {
  id: string;
  value: string;
}
type Db = DocsDatabase<Doc>;
const schema = { version: 0, primaryKey: 'id', type: 'object', properties: { id: { type: 'string', maxLength: 100 }, value: { type: 'string' } }, required: ['id', 'value'] } as const;

const opened: Array<{ close(): Promise<unknown> }> = [];
test.after.each(async () => {
  await Promise.allSettled(opened.splice(0).map((thing) => thing.close()));
});

async function collection(): Promise<{ docs: RxCollection<Doc>; book: VersionBook; self: string }> {
  const db = await memoryDocsDatabase<Doc>('guard', schema);
  opened.push(db);
  const self = await db.storageToken;
  const book = new VersionBook(db.docs as RxCollection, self);
  opened.push({ close: async () => book.stop() });
  return { docs: db.docs, book, self };
}

const state = (id: string, value: string, deleted = false) => ({ id, value, _deleted: deleted });

test('versions: order, merge, and what a peer may send', () => {
  assert.is(compareVersions({ a: 1 }, { a: 2 }), 'before');
  assert.is(compareVersions({ a: 2, b: 1 }, { a: 2 }), 'after');
  assert.is(compareVersions({ a: 1 }, { b: 1 }), 'concurrent');
  assert.is(compareVersions({}, {}), 'equal');
  assert.equal(mergeVersions({ a: 3, b: 1 }, { b: 2, c: 1 }), { a: 3, b: 2, c: 1 });
  for (const bad of [null, [], 'x', { a: -1 }, { a: 1.5 }, { a: '1' }, { '': 1 }, Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`w${i}`, 1]))]) {
    assert.is(parseVersion(bad), undefined, JSON.stringify(bad)?.slice(0, 40));
  }
  assert.equal(parseVersion({ a: 0, b: 7 }), { a: 0, b: 7 });
});

test('the book: an app write counts one more write of this database on top of the state it replaced', async () => {
  const { docs, book, self } = await collection();
  await docs.insert({ id: 'd', value: 'one' });
  assert.equal(book.versionOf('d', state('d', 'one')), { [self]: 1 });
  book.heard('d', state('d', 'remote'), { other: 4 });
  // A replication write takes the version that came with the state it writes.
  await docs.storageInstance.bulkWrite([{ previous: (await docs.storageInstance.findDocumentsById(['d'], true))[0], document: { ...state('d', 'remote'), _meta: { lwt: Date.now() + 1 }, _rev: '2-x', _attachments: {} } as never }], 'replication-downstream-test');
  assert.equal(book.versionOf('d', state('d', 'remote')), { other: 4 });
  await (await docs.findOne('d').exec())!.incrementalPatch({ value: 'two' });
  assert.equal(book.versionOf('d', state('d', 'two')), { other: 4, [self]: 2 }, 'own count never goes back');
  assert.equal(book.versionOf('d', state('d', 'one')), { [self]: 1 }, 'an earlier state is remembered');
  assert.equal(book.versionOf('unknown', state('unknown', 'x')), {}, 'a document nobody wrote since the book started');
});

test('the master writes a newer push whatever its assumed state, and answers an older one with its newer state', async () => {
  const { docs, book, self } = await collection();
  await docs.insert({ id: 'd', value: 'v1' });
  const newer = { row: { newDocumentState: state('d', 'v2') }, version: { [self]: 2 } };
  assert.equal(await guardedMasterWrite(docs as RxCollection, book, [newer]), { conflicts: [], versions: [] }, 'no assumed state, still written');
  assert.is((await docs.findOne('d').exec())!.value, 'v2');
  // RxDB would write this one (its assumed state is the master's), losing v2: the stale push.
  const older = { row: { newDocumentState: state('d', 'v1'), assumedMasterState: state('d', 'v2') }, version: { [self]: 1 } };
  const answer = await guardedMasterWrite(docs as RxCollection, book, [older]);
  assert.equal(answer.conflicts, [state('d', 'v2')]);
  assert.equal(answer.versions, [{ [self]: 2 }]);
  assert.is((await docs.findOne('d').exec())!.value, 'v2');
});

test('a deletion pushed to a master that never had the document keeps its version, though the storage tells of no such write', async () => {
  const { docs, book } = await collection();
  const deleted = state('d', 'last', true);
  assert.equal(await guardedMasterWrite(docs as RxCollection, book, [{ row: { newDocumentState: deleted }, version: { writer: 3 } }]), { conflicts: [], versions: [] });
  // Inserting a document already deleted makes no change event: the book must know it anyway.
  assert.equal(book.versionOf('d', deleted), { writer: 3 }, 'the deleted state is not taken for one nobody wrote');
  // An older copy of the document, still on its way from another peer, must not bring it back.
  const older = await guardedMasterWrite(docs as RxCollection, book, [{ row: { newDocumentState: state('d', 'last') }, version: { writer: 2 } }]);
  assert.equal(older.conflicts, [deleted]);
  assert.equal(older.versions, [{ writer: 3 }]);
  assert.is(await docs.findOne('d').exec(), null, 'still deleted');
});

test('pushes from two peers at once are decided one after the other: an older copy cannot slip in over a deletion both read as absent', async () => {
  const { docs, book } = await collection();
  const deleted = state('d', 'last', true);
  const [first, second] = await Promise.all([
    guardedMasterWrite(docs as RxCollection, book, [{ row: { newDocumentState: deleted }, version: { writer: 3 } }]),
    guardedMasterWrite(docs as RxCollection, book, [{ row: { newDocumentState: state('d', 'first') }, version: { writer: 1 } }]),
  ]);
  assert.equal(first.conflicts, []);
  assert.equal(second.conflicts, [deleted], 'the older copy is answered with the deletion');
  assert.is(await docs.findOne('d').exec(), null, 'still deleted');
});

test('a fork answered by two masters at once resolves each conflict with the version of the state it took', async () => {
  const { docs, book, self } = await collection();
  await docs.insert({ id: 'd', value: 'mine' });
  // One master still holds the document, another already holds its later deletion.
  book.heardConflict('d', state('d', 'theirs'), { writer: 1 });
  book.heardConflict('d', state('d', 'theirs', true), { writer: 2 });
  const stored = (await docs.storageInstance.findDocumentsById(['d'], true))[0]!;
  await docs.storageInstance.bulkWrite([{ previous: stored, document: { ...state('d', 'theirs'), _meta: { lwt: Date.now() + 1 }, _rev: '2-x', _attachments: {} } as never }], 'replication-up-write-conflict');
  // Taking the first master's state must not claim the deletion it never saw: that would make it
  // newer than the deletion, and the deletion would be lost.
  assert.equal(book.versionOf('d', state('d', 'theirs')), { [self]: 1, writer: 1 });
});

test('a deletion replication writes into a fork that never had the document keeps the version it came with', async () => {
  const { docs, book } = await collection();
  const deleted = state('d', 'last', true);
  book.heard('d', deleted, { writer: 3 });
  await docs.storageInstance.bulkWrite([{ document: { ...deleted, _meta: { lwt: Date.now() + 1 }, _rev: '1-x', _attachments: {} } as never }], 'replication-downstream-test');
  assert.equal(book.versionOf('d', deleted), { writer: 3 }, 'what this fork sends on with the state');
  const stored = (await docs.storageInstance.findDocumentsById(['d'], true))[0]!;
  assert.equal(book.versionOfStored('d', stored), { writer: 3 }, 'what this side decides pushes by, as a master');
  // The app writing the document again builds on the deletion it replaced.
  await docs.insert({ id: 'd', value: 'again' });
  const again = book.versionOf('d', state('d', 'again'));
  assert.is(again?.writer, 3, `the new write includes the deletion: ${JSON.stringify(again)}`);
});

test('concurrent pushes settle on the same state whichever side is master (content order, then the conflict handler)', async () => {
  const finals: string[] = [];
  for (const masterHolds of ['apple', 'pear']) {
    const { docs, book } = await collection();
    book.heard('d', state('d', masterHolds), { x: 1 });
    await docs.storageInstance.bulkWrite([{ document: { ...state('d', masterHolds), _meta: { lwt: Date.now() + 1 }, _rev: '1-x', _attachments: {} } as never }], 'replication-downstream-test');
    const pushed = masterHolds === 'apple' ? 'pear' : 'apple';
    await guardedMasterWrite(docs as RxCollection, book, [{ row: { newDocumentState: state('d', pushed), assumedMasterState: state('d', masterHolds) }, version: { y: 1 } }]);
    finals.push((await docs.findOne('d').exec())!.value);
  }
  assert.is(finals[0], finals[1], `both masters keep the same state (${finals.join(' / ')})`);
});

test('a push without versions is decided by RxDB’s own rule', async () => {
  const { docs, book } = await collection();
  await docs.insert({ id: 'd', value: 'v1' });
  const matching = await guardedMasterWrite(docs as RxCollection, book, [{ row: { newDocumentState: state('d', 'v2'), assumedMasterState: state('d', 'v1') }, version: undefined }]);
  assert.equal(matching.conflicts, []);
  const stale = await guardedMasterWrite(docs as RxCollection, book, [{ row: { newDocumentState: state('d', 'v3'), assumedMasterState: state('d', 'v1') }, version: undefined }]);
  assert.equal(stale.conflicts, [state('d', 'v2')]);
});

test('a malformed push gets an error answer with a code; the handler keeps working', async () => {
  const network = createMemoryNetwork();
  const { docs } = await collection();
  const guarded = await getConnectionHandlerMemory({ network })({ topic: 'guard-hostile', collection: docs } as never);
  const raw = await getConnectionHandlerMemory({ network })({ topic: 'guard-hostile' });
  opened.push(guarded, raw);
  const remote: P2PPeer = await next(raw.connect$, 'the raw handler meeting the guarded one');
  const answers: Array<{ id: string; result: unknown; error?: { code?: string } }> = [];
  raw.response$.subscribe(({ response }) => answers.push(response));
  const bad = [undefined, 'rows', [null], [{ newDocumentState: { value: 'no id' } }], [{ newDocumentState: state('ok', 'fine') }]];
  const versions = [undefined, 'x', [{ evil: -1 }], null, [{ far: 9 }]];
  const last = next(raw.response$, 'the answer to the last push', 15_000, ({ response }) => response.id === 'push-4');
  for (const [index, rows] of bad.entries()) {
    await raw.send(remote, { id: `push-${index}`, method: 'masterWrite', params: rows === undefined ? [] : [rows], versions: versions[index] } as never);
  }
  await last;
  assert.equal(answers.map((answer) => answer.error?.code), ['ERR_PROTOCOL', 'ERR_PROTOCOL', 'ERR_PROTOCOL', 'ERR_PROTOCOL', undefined]);
  assert.is((await docs.findOne('ok').exec())!.value, 'fine', 'a well-formed push after them is written');
  await closeBoth(guarded, raw);
});

async function closeBoth(...handlers: P2PConnectionHandler[]): Promise<void> {
  await Promise.all(handlers.map((handler) => handler.close()));
}

test.run();
