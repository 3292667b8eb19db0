/**
 * Churn with real RxDB databases (issue #9): 6 peers on our socket.io signaling server
 * (in-process, `getConnectionHandlerSocketIo`, real WebRTC) leave and rejoin at random for
 * CHURN_MS while each keeps writing its own documents and editing a few shared ones. "Leave"
 * cancels the replication (which closes its handler) and keeps the database; "rejoin" is a new
 * handler and replicateP2P on the same database. The schedule comes from a seeded PRNG
 * (CHURN_SEED=n to replay or vary it); every loop ends by itself at the deadline. Then all
 * peers are online, and all must end with identical contents: every document a peer wrote with
 * its last value, each shared document at one value somebody wrote, nothing else.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getConnectionHandlerSocketIo } from '../handlers/socket-io/client.js';
import { startSocketIoSignalingServer } from '../handlers/socket-io/server/index.js';
import { isMasterInWebRTCReplication } from 'rxdb/plugins/replication-webrtc';
import { lastWriteWinsConflictHandler } from '../src/rxdb.js';
import type { P2PConnectionHandlerCreator } from '../src/types.js';
import { until } from './helpers/wait.js';
import { RxWorld, Writer, converged, holds, holdsAll, lastOwnValues, missing, seededRandom, type RxPeer } from './fixtures/rxdb-world.js';

const world = new RxWorld();
const PEERS = 6;
const CHURN_MS = Number(process.env.CHURN_MS ?? 60_000);
const SHARED = 4;
const SEED = Number(process.env.CHURN_SEED ?? 20261126);
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 120_000);

test.after.each(() => world.cleanup());

const isShared = (id: string) => id.startsWith('shared-');

/** A peer's life during the churn: online and offline spells of random length until the deadline. */
async function churn(peer: RxPeer, creator: P2PConnectionHandlerCreator, topic: string, random: () => number, deadline: number, counts: { leaves: number; rejoins: number }): Promise<void> {
  while (Date.now() < deadline) {
    const online = peer.pool !== undefined;
    // Online 1.5–8 s, offline 0.5–4 s: short enough to cut links mid-replication, long enough to sync.
    const spell = online ? 1_500 + random() * 6_500 : 500 + random() * 3_500;
    await new Promise((resolve) => setTimeout(resolve, Math.min(spell, Math.max(0, deadline - Date.now()))));
    if (Date.now() >= deadline) break;
    if (online) {
      await peer.leave();
      counts.leaves++;
    } else {
      await peer.join(creator, topic);
      counts.rejoins++;
    }
  }
}

/** Edits of the shared documents, at a random pace, until the deadline (a few per second). */
async function editShared(peer: RxPeer, random: () => number, deadline: number): Promise<number> {
  let edits = 0;
  while (Date.now() < deadline) {
    await peer.write(`shared-${Math.floor(random() * SHARED)}`, `${peer.name}@${edits++}`);
    await new Promise((resolve) => setTimeout(resolve, 150 + random() * 350));
  }
  return edits;
}

test(`${PEERS} RxDB peers churn for ${CHURN_MS / 1000} s while writing; all converge with no lost write`, async () => {
  const server = world.track(await startSocketIoSignalingServer());
  const topic = 'rxdb-churn-topic';
  const peers: RxPeer[] = [];
  const creators: P2PConnectionHandlerCreator[] = [];
  for (let index = 0; index < PEERS; index++) {
    const peer = await world.peer(`p${index}`);
    // One creator per app instance, kept across its leaves and rejoins, as an app would.
    creators.push(getConnectionHandlerSocketIo({ url: server.url, config: { iceServers: [] } }));
    await peer.join(creators[index]!, topic);
    peers.push(peer);
  }
  const counts = { leaves: 0, rejoins: 0 };
  const start = Date.now();
  const deadline = start + CHURN_MS;
  const writers = peers.map((peer, index) => {
    const random = seededRandom(SEED * 31 + index);
    return new Writer(peer, random, () => 80 + random() * 240);
  });
  const [lives, edits] = await Promise.all([
    Promise.all(peers.map((peer, index) => churn(peer, creators[index]!, topic, seededRandom(SEED * 17 + index), deadline, counts))),
    Promise.all(peers.map((peer, index) => editShared(peer, seededRandom(SEED * 13 + index), deadline))),
  ]);
  void lives;
  await Promise.all(writers.map((writer) => writer.stop()));
  const churnedMs = Date.now() - start;

  // Everyone back online; then nothing may be missing anywhere.
  const settleAt = Date.now();
  for (const [index, peer] of peers.entries()) if (!peer.pool) await peer.join(creators[index]!, topic);
  const expected = lastOwnValues(peers, (_peer, id) => !isShared(id));
  const finalContents = await converged(
    peers,
    (contents) => holdsAll(contents, expected) && contents.size === expected.size + SHARED,
    'all six peers holding every write, shared documents agreed',
    SETTLE_MS,
    (contents) => missing(contents, expected, peers),
  );
  const settledMs = Date.now() - settleAt;

  for (let shared = 0; shared < SHARED; shared++) {
    const id = `shared-${shared}`;
    const value = finalContents.get(id);
    const writtenBy = peers.filter((peer) => peer.written.get(id)?.includes(value!));
    assert.is(writtenBy.length, 1, `${id} holds "${value}", a value one peer wrote`);
  }
  assert.ok(counts.leaves >= PEERS, `peers left ${counts.leaves} times`);
  for (const peer of peers) {
    const open = peer.sessions.flatMap((session, index) => (session.closed || index === peer.sessions.length - 1 ? [] : [index]));
    assert.equal(open, [], `${peer.name}: every handler it left is closed (of ${peer.sessions.length})`);
    assert.not.ok(peer.session!.closed, `${peer.name}: its current handler is open`);
  }
  await until(() => peers.every((peer) => peer.pool!.connectedPeers.size === PEERS - 1), 'a full mesh at the end', 30_000);

  const writes = writers.reduce((sum, writer) => sum + writer.count, 0);
  const sharedEdits = edits.reduce((sum, count) => sum + count, 0);
  const sessions = peers.reduce((sum, peer) => sum + peer.sessions.length, 0);
  console.log(
    `  seed ${SEED}: ${counts.leaves} leaves and ${counts.rejoins} rejoins in ${churnedMs} ms (${sessions} handler sessions), ` +
      `${writes} own writes (${expected.size} documents) + ${sharedEdits} shared edits; converged ${settledMs} ms after the last rejoin; ` +
      `signaling server: ${JSON.stringify(server.stats())}`,
  );
});

/**
 * The churn above, reduced to the smallest case that lost a write before versions: the
 * author's newer write meets an older copy that reached the other peer through a third one. The author is the fork of that
 * pair (RxDB picks the master by hashing both storage tokens), so its push conflicts.
 */
async function staleRelay(conflictHandler: 'rxdb' | undefined): Promise<string> {
  const server = world.track(await startSocketIoSignalingServer());
  const creator = () => getConnectionHandlerSocketIo({ url: server.url, config: { iceServers: [] } });
  const topic = `rxdb-stale-${conflictHandler ?? 'lww'}`;
  const author = await world.peer('author', conflictHandler);
  const relay = await world.peer('relay', conflictHandler);
  const authorToken = await author.db.storageToken;
  let other = await world.peer('other', conflictHandler);
  // Bounded: each try is a coin flip.
  for (let tries = 0; (await isMasterInWebRTCReplication(author.db.hashFunction, authorToken, await other.db.storageToken)) && tries < 40; tries++) {
    other = await world.peer('other', conflictHandler);
  }
  assert.not.ok(await isMasterInWebRTCReplication(author.db.hashFunction, authorToken, await other.db.storageToken), 'the author is the fork');
  await author.join(creator(), topic);
  await relay.join(creator(), topic);
  await author.write('doc', 'old');
  await holds(relay, 'doc', 'old', 'the relay getting the old value');
  await author.leave();
  await other.join(creator(), topic);
  await holds(other, 'doc', 'old', 'the other peer getting the old value from the relay');
  await relay.leave();
  await author.write('doc', 'new');
  await author.join(creator(), topic);
  const settled = await converged([author, other], (contents) => contents.has('doc'), 'author and other agreeing', 30_000);
  return settled.get('doc')!;
}

test('an author’s newer write beats an older copy relayed by a third peer (lastWriteWinsConflictHandler)', async () => {
  assert.is(await staleRelay(undefined), 'new');
});

test('with RxDB’s default conflict handler the author’s newer write wins too (versions decide, not the master)', async () => {
  assert.is(await staleRelay('rxdb'), 'new');
});

test('lastWriteWinsConflictHandler: the larger stamp wins from either side, ties the same way on both, bad field refused', async () => {
  const handler = lastWriteWinsConflictHandler<{ id: string; value: string; at: number }>('at');
  const older = { id: 'x', value: 'a', at: 1, _deleted: false };
  const newer = { id: 'x', value: 'b', at: 2, _deleted: false };
  const tie = { id: 'x', value: 'c', at: 2, _deleted: false };
  assert.is(await handler.resolve({ newDocumentState: older, realMasterState: newer }, 'test'), newer);
  assert.is(await handler.resolve({ newDocumentState: newer, realMasterState: older }, 'test'), newer);
  assert.equal(await handler.resolve({ newDocumentState: tie, realMasterState: newer }, 'test'), await handler.resolve({ newDocumentState: newer, realMasterState: tie }, 'test'));
  assert.ok(handler.isEqual({ ...newer, _meta: { lwt: 1 } } as never, { _deleted: false, at: 2, value: 'b', id: 'x' }, 'test'), 'key order and bookkeeping do not matter');
  assert.not.ok(handler.isEqual(newer, { ...newer, _deleted: true }, 'test'), 'a deletion is a change');
  assert.is((() => { try { lastWriteWinsConflictHandler('' as never); } catch (error) { return (error as { code?: string }).code; } })(), 'ERR_INVALID_OPTION');
});

test.run();
