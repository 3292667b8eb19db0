/**
 * A write lost for good by RxDB's WebRTC replication with more than two peers, with RxDB's own
 * simple-peer handler, its own signaling server and its default conflict handler. No race:
 * the same steps lose the write every time.
 *
 *   1. author and relay replicate; the author writes doc = "old"; the relay gets it.
 *   2. The author leaves. other joins and gets "old" from the relay. The relay leaves.
 *   3. The author, offline, writes doc = "new", and joins again.
 *   4. author and other meet for the first time. The author is the fork of that pair (RxDB picks
 *      the master by hashing both storage tokens; the script picks databases so it is), so it
 *      pushes "new" with no assumedMasterState; the master answers with a conflict because it
 *      holds the document, and the default handler keeps the master's "old". Both end at "old":
 *      the author's own newer write is gone, on the author too.
 *
 * Run (needs rxdb 17, ws and a WebRTC implementation for Node, here @roamhq/wrtc):
 *   node docs/repro/rxdb-mesh-lost-write.mjs
 * Prints the value both peers end with ("old": the write was lost).
 */
import { createRxDatabase } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { isMasterInWebRTCReplication, replicateWebRTC } from 'rxdb/plugins/replication-webrtc';
import { combineLatest, filter, firstValueFrom, timeout } from 'rxjs';

const schema = {
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: { id: { type: 'string', maxLength: 100 }, value: { type: 'string' } },
  required: ['id', 'value'],
};

/**
 * Runs the steps above with `creator()` giving each join a connection handler creator; resolves
 * with the value author and other agree on. Closes everything it opened.
 */
export async function runLostWriteScenario({ creator, topic = 'lost-write-repro', waitMs = 30_000 }) {
  const opened = [];
  const pools = new Map();
  let count = 0;
  const database = async () => {
    const db = await createRxDatabase({ name: `repro${count++}x${Date.now()}`, storage: getRxStorageMemory(), multiInstance: false });
    await db.addCollections({ docs: { schema } });
    opened.push(db);
    return db;
  };
  const join = async (db) => pools.set(db, await replicateWebRTC({ collection: db.docs, topic, connectionHandlerCreator: creator(), pull: {}, push: {} }));
  const leave = async (db) => {
    await pools.get(db)?.cancel();
    pools.delete(db);
  };
  const holds = (db, value) =>
    firstValueFrom(db.docs.findOne('doc').$.pipe(filter((doc) => doc?.value === value), timeout(waitMs)));
  try {
    const author = await database();
    const relay = await database();
    const token = await author.storageToken;
    let other = await database();
    for (let tries = 0; (await isMasterInWebRTCReplication(author.hashFunction, token, await other.storageToken)) && tries < 40; tries++) {
      other = await database();
    }
    await join(author);
    await join(relay);
    await author.docs.upsert({ id: 'doc', value: 'old' });
    await holds(relay, 'old');
    await leave(author);
    await join(other);
    await holds(other, 'old');
    await leave(relay);
    await author.docs.upsert({ id: 'doc', value: 'new' });
    await join(author);
    // Both agreeing, then every replication idle, then they still agree: that is where it ends.
    const agreed = () =>
      firstValueFrom(
        combineLatest([author.docs.findOne('doc').$, other.docs.findOne('doc').$]).pipe(
          filter(([a, o]) => !!a && !!o && a.value === o.value),
          timeout(waitMs),
        ),
      );
    await agreed();
    const states = [author, other].flatMap((db) => [...pools.get(db).peerStates$.getValue().values()]);
    await Promise.all(states.map((state) => state.replicationState?.awaitInSync()));
    const [final] = await agreed();
    return final.value;
  } finally {
    for (const db of [...pools.keys()]) await leave(db);
    await Promise.allSettled(opened.map((db) => db.close()));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { getConnectionHandlerSimplePeer, startSignalingServerSimplePeer } = await import('rxdb/plugins/replication-webrtc');
  const { WebSocket } = await import('ws');
  const wrtc = (await import('@roamhq/wrtc')).default;
  const port = 18000 + Math.floor(Math.random() * 1000);
  const server = await startSignalingServerSimplePeer({ port });
  const creator = () => getConnectionHandlerSimplePeer({ signalingServerUrl: `ws://127.0.0.1:${port}`, wrtc, webSocketConstructor: WebSocket, config: { iceServers: [] } });
  const value = await runLostWriteScenario({ creator });
  console.log(`author and other both hold doc = "${value}"${value === 'old' ? ': the author’s newer write "new" is lost' : ''}`);
  server.server.close();
}
