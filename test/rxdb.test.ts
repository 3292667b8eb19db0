/** Real RxDB 17 databases replicating through p2p-handlers (memory and socket.io over real WebRTC). */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { firstValueFrom, filter, timeout } from 'rxjs';
import { createRxDatabase, type RxCollection, type RxDatabase, type RxStorage } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { wrappedKeyEncryptionCryptoJsStorage } from 'rxdb/plugins/encryption-crypto-js';
import wrtc from '@roamhq/wrtc';
import { WebSocket } from 'ws';
import { getConnectionHandlerSimplePeer, replicateWebRTC } from 'rxdb/plugins/replication-webrtc';
import { replicateP2P, type P2PReplicationPool } from '../src/rxdb.js';
import { getConnectionHandlerSocketIo, getPeerIdentity } from '../handlers/socket-io/client.js';
import { startSocketIoSignalingServer, type SocketIoSignalingServer } from '../handlers/socket-io/server/index.js';
import { createMemoryNetwork, getConnectionHandlerMemory } from '../handlers/memory/index.js';
import { getConnectionHandlerNostr, getPeerPublicKey } from '../handlers/nostr/client.js';
import { startNostrRelay } from '../handlers/nostr/relay/index.js';
import { getConnectionHandlerPeerJS } from '../handlers/peerjs/client.js';
import { startPeerServer } from '../handlers/peerjs/server.js';
import { getConnectionHandlerMqtt } from '../handlers/mqtt/client.js';
import { startMqttBroker } from '../handlers/mqtt/broker.js';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import type { P2PConnectionHandlerCreator } from '../src/types.js';

const test = suite('rxdb');
const WAIT_MS = 30_000;
const databases: Array<{ close(): Promise<boolean> }> = [];
const pools: P2PReplicationPool<any>[] = [];
let server: SocketIoSignalingServer | undefined;

test.after.each(async () => {
  await Promise.allSettled(pools.splice(0).map((pool) => pool.cancel()));
  await Promise.allSettled(databases.splice(0).map((db) => db.close()));
  await server?.close();
  server = undefined;
});

interface Todo {
  id: string;
  title: string;
  secret?: string;
}

const todoSchema = (encrypted: string[] = []) =>
  ({
    version: 0,
    primaryKey: 'id',
    type: 'object',
    properties: { id: { type: 'string', maxLength: 100 }, title: { type: 'string' }, secret: { type: 'string' } },
    required: ['id', 'title'],
    encrypted,
  }) as const;

type Collections = { todos: RxCollection<Todo>; notes: RxCollection<Todo>; users: RxCollection<Todo> };
type Db = RxDatabase<Collections>;

let counter = 0;
async function database(
  collections: string[] = ['todos'],
  extra: { storage?: RxStorage<any, any>; password?: string; encrypted?: string[]; conflictHandler?: any } = {},
): Promise<Db> {
  const db = await createRxDatabase<Collections>({
    name: `db${Date.now()}x${counter++}`,
    storage: extra.storage ?? getRxStorageMemory(),
    multiInstance: false,
    ...(extra.password ? { password: extra.password } : {}),
  });
  databases.push(db);
  await db.addCollections(
    Object.fromEntries(collections.map((name) => [name, { schema: todoSchema(extra.encrypted), ...(extra.conflictHandler ? { conflictHandler: extra.conflictHandler } : {}) }])),
  );
  return db;
}

async function replicate(collection: RxCollection<Todo>, creator: P2PConnectionHandlerCreator, topic = 'rxdb-topic'): Promise<P2PReplicationPool<Todo>> {
  const pool = await replicateP2P<Todo>({ collection, topic, connectionHandlerCreator: creator, pull: {}, push: {} });
  pools.push(pool);
  return pool;
}

/** Resolves once the collection's documents satisfy `holds`, failing with `what` after WAIT_MS. */
function until(collection: RxCollection<Todo>, what: string, holds: (docs: Todo[]) => boolean): Promise<unknown> {
  return firstValueFrom(
    collection.find().$.pipe(
      filter((docs) => holds(docs.map((doc) => doc.toJSON() as Todo))),
      timeout({ first: WAIT_MS, with: () => { throw new Error(`${what} did not happen within ${WAIT_MS} ms`); } }),
    ),
  );
}

const titles = (docs: Todo[]) => docs.map((doc) => `${doc.id}=${doc.title}`).sort().join(',');

async function socketIoCreator(extra: Record<string, unknown> = {}): Promise<P2PConnectionHandlerCreator> {
  server ??= await startSocketIoSignalingServer();
  return getConnectionHandlerSocketIo({ url: server.url, config: { iceServers: [] }, ...extra });
}

test('a custom conflict handler decides when both changed one document apart, and all end equal', async () => {
  let resolved = 0;
  const conflictHandler = {
    isEqual: (x: Todo, y: Todo) => x.title === y.title,
    // Neither side's value: proof that this handler, not RxDB's default, decided.
    resolve: async (input: { newDocumentState: Todo; realMasterState: Todo }) => {
      resolved++;
      const merged = [...new Set([...input.newDocumentState.title.split(' | '), ...input.realMasterState.title.split(' | ')])].sort().join(' | ');
      return { ...input.realMasterState, title: merged };
    },
  };
  const [a, b] = [await database(['todos'], { conflictHandler }), await database(['todos'], { conflictHandler })];
  const aPool = await replicate(a.collections.todos, await socketIoCreator());
  const bPool = await replicate(b.collections.todos, await socketIoCreator());
  await a.collections.todos.insert({ id: 'shared', title: 'original' });
  await until(b.collections.todos, 'b has the shared document', (docs) => docs.length === 1);
  await Promise.all([aPool.cancel(), bPool.cancel()]);
  await (await a.collections.todos.findOne('shared').exec())!.patch({ title: 'changed on a' });
  await (await b.collections.todos.findOne('shared').exec())!.patch({ title: 'changed on b' });
  await replicate(a.collections.todos, await socketIoCreator());
  await replicate(b.collections.todos, await socketIoCreator());
  const merged = 'changed on a | changed on b';
  await until(a.collections.todos, 'a holds the merged title', (docs) => docs[0]?.title === merged);
  await until(b.collections.todos, 'b holds the merged title', (docs) => docs[0]?.title === merged);
  assert.ok(resolved > 0);
});

test('an encrypted collection replicates peer to peer and stays encrypted at rest', async () => {
  const rawInstances: any[] = [];
  const memory = getRxStorageMemory();
  const spiedMemory: RxStorage<any, any> = {
    ...memory,
    createStorageInstance: (async (params: any) => {
      const instance = await memory.createStorageInstance(params);
      rawInstances.push(instance);
      return instance;
    }) as RxStorage<any, any>['createStorageInstance'],
  };
  const storage = wrappedKeyEncryptionCryptoJsStorage({ storage: spiedMemory });
  const [a, b] = [
    await database(['todos'], { storage, password: 'password-of-a', encrypted: ['secret'] }),
    await database(['todos'], { storage: wrappedKeyEncryptionCryptoJsStorage({ storage: getRxStorageMemory() }), password: 'password-of-b', encrypted: ['secret'] }),
  ];
  await replicate(a.collections.todos, await socketIoCreator());
  await replicate(b.collections.todos, await socketIoCreator());
  await b.collections.todos.insert({ id: 's1', title: 'note', secret: 'the launch code is 1234' });
  await until(a.collections.todos, 'a received the encrypted document', (docs) => docs[0]?.secret === 'the launch code is 1234');
  const stored = (await Promise.all(rawInstances.map((instance) => instance.findDocumentsById(['s1'], false)))).flat();
  assert.is(stored.length, 1, 'the document is in a’s underlying storage');
  assert.type(stored[0].secret, 'string');
  assert.not.ok(stored[0].secret.includes('launch code'), 'stored as ciphertext');
});

test('3 collections, 3 peers: 2 WebRTC connections per peer, not 6', async () => {
  const collections = ['todos', 'notes', 'users'];
  // Connections that carried a link: each has its remote description set once, in either role
  // (the core also keeps spare connections ready, closed unused after 10 s).
  const linked: Array<Set<unknown>> = [];
  const dbs = [await database(collections), await database(collections), await database(collections)];
  for (const [index, db] of dbs.entries()) {
    const used = (linked[index] = new Set());
    class CountedPeerConnection extends (wrtc as any).RTCPeerConnection {
      setRemoteDescription(...args: any[]) {
        used.add(this);
        return super.setRemoteDescription(...args);
      }
    }
    const creator = await socketIoCreator({ wrtc: { ...(wrtc as any), RTCPeerConnection: CountedPeerConnection } });
    for (const name of collections) await replicate(db.collections[name as keyof Collections], creator, `rxdb-${name}`);
  }
  for (const name of collections) await dbs[0]!.collections[name as keyof Collections].insert({ id: `${name}-1`, title: name });
  for (const db of dbs) {
    for (const name of collections) await until(db.collections[name as keyof Collections], `${name} replicated`, (docs) => docs.length === 1);
  }
  assert.equal(linked.map((used) => used.size), [2, 2, 2]);
  assert.equal(server!.stats().sockets, 3);
});

test('isPeerValid checks the identity the signaling server verified', async () => {
  const users: Record<string, string> = { a: 'alice', b: 'bob', m: 'mallory' };
  server = await startSocketIoSignalingServer({
    authenticate: (handshake) => (users[String(handshake.auth?.token)] ? { user: users[String(handshake.auth?.token)] } : false),
  });
  const isPeerValid = (peer: any) => getPeerIdentity(peer) !== undefined && (getPeerIdentity(peer) as { user: string }).user !== 'mallory';
  const [alice, bob, mallory] = [await database(), await database(), await database()];
  const start = async (db: Db, token: string, check?: typeof isPeerValid) => {
    const creator = await socketIoCreator({ socketOptions: { auth: { token } } });
    const pool = await replicateP2P<Todo>({ collection: db.collections.todos, topic: 'rxdb-identity', connectionHandlerCreator: creator, pull: {}, push: {}, ...(check ? { isPeerValid: check } : {}) });
    pools.push(pool);
  };
  await start(alice, 'a', isPeerValid);
  await start(bob, 'b', isPeerValid);
  await start(mallory, 'm');
  await mallory.collections.todos.insert({ id: 'from-mallory', title: 'spam' });
  await alice.collections.todos.insert({ id: 'from-alice', title: 'hello bob' });
  await until(bob.collections.todos, 'bob got alice’s document', (docs) => docs.some((doc) => doc.id === 'from-alice'));
  // Bounded wait for something that must NOT happen: mallory's data never reaches alice or bob.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.not.ok((await alice.collections.todos.findOne('from-mallory').exec()), 'alice refused mallory');
  assert.not.ok((await bob.collections.todos.findOne('from-mallory').exec()), 'bob refused mallory');
  assert.not.ok((await mallory.collections.todos.findOne('from-alice').exec()), 'mallory got nothing');
});

test('RxDB’s own getConnectionHandlerSimplePeer replicates through our server unchanged', async () => {
  server = await startSocketIoSignalingServer();
  const [a, b] = [await database(), await database()];
  for (const db of [a, b]) {
    const pool = await replicateWebRTC<Todo, any>({
      collection: db.collections.todos,
      topic: 'rxdb-own-handler',
      connectionHandlerCreator: getConnectionHandlerSimplePeer({
        signalingServerUrl: server.rxdbUrl!,
        wrtc: wrtc as any,
        config: { iceServers: [] },
        webSocketConstructor: WebSocket as any,
      }),
      pull: {},
      push: {},
    });
    pools.push(pool as unknown as P2PReplicationPool<Todo>);
  }
  await a.collections.todos.insert({ id: 'r1', title: 'via rxdb’s handler' });
  await b.collections.todos.insert({ id: 'r2', title: 'back again' });
  await until(b.collections.todos, 'b got a’s document', (docs) => docs.length === 2);
  await until(a.collections.todos, 'a got b’s document', (docs) => docs.length === 2);
});

/** Every handler, each with its own embedded server: the same replication must work on all. */
interface Service {
  creator(): P2PConnectionHandlerCreator;
  close(): Promise<void>;
}
const transports: Array<{ name: string; start(): Promise<Service> }> = [
  {
    name: 'socket.io',
    start: async () => {
      const signaling = await startSocketIoSignalingServer();
      return { creator: () => getConnectionHandlerSocketIo({ url: signaling.url, config: { iceServers: [] } }), close: () => signaling.close() };
    },
  },
  {
    name: 'memory',
    start: async () => {
      const network = createMemoryNetwork();
      return { creator: () => getConnectionHandlerMemory({ network }), close: async () => {} };
    },
  },
  {
    name: 'MQTT (embedded broker)',
    start: async () => {
      const broker = await startMqttBroker();
      return { creator: () => getConnectionHandlerMqtt({ url: broker.url, config: { iceServers: [] } }), close: () => broker.close() };
    },
  },
  {
    name: 'Nostr (embedded relay)',
    start: async () => {
      const relay = await startNostrRelay();
      return { creator: () => getConnectionHandlerNostr({ relays: [relay.url], config: { iceServers: [] } }), close: () => relay.close() };
    },
  },
  {
    name: 'PeerJS (local PeerServer)',
    start: async () => {
      const peerServer = await startPeerServer();
      return { creator: () => getConnectionHandlerPeerJS({ ...peerServer.clientOptions, config: { iceServers: [] } }), close: () => peerServer.close() };
    },
  },
];

const scenarios: Array<{ name: string; run(service: Service): Promise<void> }> = [
  {
    name: 'inserts, updates and deletes replicate both ways',
    async run(service) {
      const [a, b] = [await database(), await database()];
      await replicate(a.collections.todos, service.creator());
      await replicate(b.collections.todos, service.creator());
      await a.collections.todos.insert({ id: 'a1', title: 'from a' });
      await b.collections.todos.insert({ id: 'b1', title: 'from b' });
      await until(b.collections.todos, 'b has both', (docs) => titles(docs) === 'a1=from a,b1=from b');
      await until(a.collections.todos, 'a has both', (docs) => titles(docs) === 'a1=from a,b1=from b');
      await (await b.collections.todos.findOne('a1').exec())!.patch({ title: 'edited on b' });
      await (await a.collections.todos.findOne('b1').exec())!.remove();
      await until(a.collections.todos, 'a sees the edit and the delete', (docs) => titles(docs) === 'a1=edited on b');
      await until(b.collections.todos, 'b sees the edit and the delete', (docs) => titles(docs) === 'a1=edited on b');
    },
  },
  {
    name: 'a third peer that joins late catches up, and one that leaves and comes back resumes',
    async run(service) {
      const [a, b, c] = [await database(), await database(), await database()];
      await replicate(a.collections.todos, service.creator());
      const bPool = await replicate(b.collections.todos, service.creator());
      await a.collections.todos.bulkInsert(Array.from({ length: 50 }, (_, i) => ({ id: `early${i}`, title: `early ${i}` })));
      await until(b.collections.todos, 'b has the early documents', (docs) => docs.length === 50);
      await replicate(c.collections.todos, service.creator());
      await until(c.collections.todos, 'the late peer caught up', (docs) => docs.length === 50);
      await bPool.cancel();
      await a.collections.todos.insert({ id: 'while-away', title: 'written while b was away' });
      await until(c.collections.todos, 'c got the write made while b was away', (docs) => docs.length === 51);
      await replicate(b.collections.todos, service.creator());
      await until(b.collections.todos, 'b resumed and caught up', (docs) => docs.some((doc) => doc.id === 'while-away'));
    },
  },
  {
    name: 'documents of 1 MiB and a batch of 10,000 documents arrive',
    async run(service) {
      const [a, b] = [await database(), await database()];
      await replicate(a.collections.todos, service.creator());
      await replicate(b.collections.todos, service.creator());
      const big = 'x'.repeat(1024 * 1024);
      await a.collections.todos.insert({ id: 'big', title: big });
      await a.collections.todos.bulkInsert(Array.from({ length: 10_000 }, (_, i) => ({ id: `doc${i}`, title: `document ${i}` })));
      await firstValueFrom(
        b.collections.todos.count().$.pipe(
          filter((count) => count === 10_001),
          timeout({ first: 120_000, with: () => { throw new Error('10,001 documents did not arrive within 120 s'); } }),
        ),
      );
      assert.is((await b.collections.todos.findOne('big').exec())!.title, big);
    },
  },
];

for (const transport of transports) {
  for (const scenario of scenarios) {
    test(`${scenario.name} (${transport.name})`, async () => {
      const service = await transport.start();
      try {
        await scenario.run(service);
      } finally {
        await Promise.allSettled(pools.splice(0).map((pool) => pool.cancel()));
        await service.close();
      }
    });
  }
}

test('isPeerValid allow-lists Nostr public keys', async () => {
  const relay = await startNostrRelay();
  try {
    const keys = [generateSecretKey(), generateSecretKey(), generateSecretKey()];
    const [alice, bob, stranger] = [await database(), await database(), await database()];
    const trusted = new Set(keys.slice(0, 2).map((key) => getPublicKey(key)));
    const isPeerValid = (peer: any) => trusted.has(getPeerPublicKey(peer) ?? '');
    for (const [index, db] of [alice, bob, stranger].entries()) {
      const creator = getConnectionHandlerNostr({ relays: [relay.url], secretKey: keys[index], config: { iceServers: [] } });
      const pool = await replicateP2P<Todo>({ collection: db.collections.todos, topic: 'rxdb-nostr-keys', connectionHandlerCreator: creator, pull: {}, push: {}, ...(index < 2 ? { isPeerValid } : {}) });
      pools.push(pool);
    }
    await stranger.collections.todos.insert({ id: 'from-stranger', title: 'spam' });
    await alice.collections.todos.insert({ id: 'from-alice', title: 'hello bob' });
    await until(bob.collections.todos, 'bob got alice’s document', (docs) => docs.some((doc) => doc.id === 'from-alice'));
    // Bounded wait for something that must NOT happen.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.not.ok(await alice.collections.todos.findOne('from-stranger').exec(), 'alice refused the stranger');
    assert.not.ok(await stranger.collections.todos.findOne('from-alice').exec(), 'the stranger got nothing');
  } finally {
    await Promise.allSettled(pools.splice(0).map((pool) => pool.cancel()));
    await relay.close();
  }
});

test('replicateP2P is always live and checks its options', async () => {
  const [a] = [await database()];
  const bad = [
    { collection: a.collections.todos, topic: 'rxdb-topic', connectionHandlerCreator: getConnectionHandlerMemory({ network: createMemoryNetwork() }), live: false },
    { collection: a.collections.todos, topic: '', connectionHandlerCreator: getConnectionHandlerMemory({ network: createMemoryNetwork() }) },
    { collection: a.collections.todos, topic: 'rxdb-topic' },
    { topic: 'rxdb-topic', connectionHandlerCreator: getConnectionHandlerMemory({ network: createMemoryNetwork() }) },
  ];
  for (const options of bad) {
    const error = await replicateP2P(options as any).then(() => undefined, (e) => e);
    assert.is(error?.code, 'ERR_INVALID_OPTION', Object.keys(options).join(','));
  }
});

test.run();
