/**
 * A Node peer of the demo, run as its own process by the e2e tests (so its @roamhq/wrtc
 * natives live and die apart from Playwright's worker). It holds an RxDB database with the
 * page's schema and conflict rule, replicates it over the transport it is given, and talks
 * JSON lines: commands on stdin, events on stdout.
 *
 *   node --import tsx e2e/node-peer.ts '{"transport":"mqtt","room":"r1","config":{…}}'
 */
import { createInterface } from 'node:readline';
import { createRxDatabase, type RxCollection } from 'rxdb/plugins/core';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { replicateP2P } from '../src/rxdb.js';
import { lastWriterWins, todoSchema, type Todo } from '../scripts/demo/page/todos.js';
import { createCreator, isTransportName, type DemoConfig } from '../scripts/demo/page/transports.js';

export type NodePeerCommand =
  | { op: 'insert'; id: string; text: string }
  | { op: 'setText'; id: string; text: string }
  | { op: 'stop' };

export type NodePeerEvent =
  | { event: 'ready'; peerId: string }
  | { event: 'docs'; docs: Todo[] }
  | { event: 'peers'; count: number }
  | { event: 'error'; message: string }
  | { event: 'stopped' };

const { transport, room, config } = JSON.parse(process.argv[2] ?? '{}') as { transport: unknown; room: string; config: DemoConfig };
if (!isTransportName(transport)) throw new Error(`unknown transport ${String(transport)}`);
const emit = (event: NodePeerEvent) => process.stdout.write(`${JSON.stringify(event)}\n`);
const name = 'node-peer';

const database = await createRxDatabase({ name: `nodepeer${Date.now()}`, storage: getRxStorageMemory(), multiInstance: false });
const { todos } = (await database.addCollections({
  todos: { schema: todoSchema, conflictHandler: lastWriterWins(() => {}) },
})) as { todos: RxCollection<Todo> };

const base = createCreator(transport, config);
const pool = await replicateP2P<Todo>({
  collection: todos,
  topic: `p2p-demo-${room}`,
  connectionHandlerCreator: async (options) => {
    const handler = await base(options);
    emit({ event: 'ready', peerId: (handler as { peerId?: string }).peerId ?? '' });
    handler.error$.subscribe((error) => emit({ event: 'error', message: `${(error as { code?: string }).code}: ${error.message}` }));
    return handler;
  },
  pull: {},
  push: {},
});
const docsSubscription = todos.find({ sort: [{ id: 'asc' }] }).$.subscribe((docs) => emit({ event: 'docs', docs: docs.map((doc) => doc.toJSON() as Todo) }));
const peersSubscription = pool.peerStates$.subscribe((states) => emit({ event: 'peers', count: states.size }));

const stamp = () => ({ updatedAt: Date.now(), updatedBy: name });
const lines = createInterface({ input: process.stdin });
let stopping: Promise<void> | undefined;
const stop = () =>
  (stopping ??= (async () => {
    lines.close();
    docsSubscription.unsubscribe();
    peersSubscription.unsubscribe();
    await pool.cancel();
    await database.close();
    emit({ event: 'stopped' });
  })());

lines.on('line', (line) => {
  const command = JSON.parse(line) as NodePeerCommand;
  const done =
    command.op === 'insert'
      ? todos.insert({ id: command.id, text: command.text, done: false, ...stamp() })
      : command.op === 'setText'
        ? todos.findOne(command.id).exec().then((doc) => doc?.incrementalPatch({ text: command.text, ...stamp() }))
        : stop();
  done.catch((error: unknown) => emit({ event: 'error', message: String(error) }));
});
lines.on('close', () => void stop());
