/**
 * P4 replication: database A holds N documents of ~1 KiB, database B is empty; timed from both
 * replications started until B has all N. Ours: `replicateP2P` over the socket.io handler;
 * anchor: RxDB's `replicateWebRTC` over its own simple-peer handler and server. Memory
 * storage, `multiInstance: false`, RxDB's default batch sizes (20) on both; databases are
 * closed after each run (the free RxDB build allows 13 open collections per process).
 */
import type { RxCollection } from 'rxdb';
import { memoryDocsDatabase } from '../test/fixtures/memory-database.js';
import { replicateWebRTC, type WebRTCConnectionHandlerCreator } from 'rxdb/plugins/replication-webrtc';
import { replicateP2P } from '../src/rxdb.js';
import { Cleanup, collectGarbage, errorText, now, rowOfRuns, within, type FigureResult } from './lib.js';
import type { Contender, Contenders } from './transports.js';

export const P4_METHOD =
  '10,000 documents of ~1 KiB (1,000 with --quick) in one RxDB 17 database, none in the other (memory storage, multiInstance: false, default batch size 20); ' +
  'timed from both replications started until the second has every document; replicateP2P over our socket.io handler vs replicateWebRTC over ' +
  "RxDB's simple-peer handler and server; median of 5 runs (1 with --quick); databases closed after each run.";

interface Doc {
  id: string;
  title: string;
  body: string;
}

const schema = {
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: { id: { type: 'string', maxLength: 32 }, title: { type: 'string' }, body: { type: 'string' } },
  required: ['id', 'title', 'body'],
} as const;

/** ~1 KiB of JSON per document. */
const documents = (count: number): Doc[] =>
  Array.from({ length: count }, (_, index) => ({
    id: `doc-${String(index).padStart(6, '0')}`,
    title: `document ${index}`,
    body: `${index}:`.padEnd(980, 'lorem ipsum dolor sit amet '),
  }));

async function database(cleanup: Cleanup): Promise<RxCollection<Doc>> {
  const db = await memoryDocsDatabase<Doc>('benchp4', schema);
  cleanup.add(() => db.close());
  return db.docs;
}

/** Resolves once `collection` has seen `count` distinct documents inserted. */
function inserted(collection: RxCollection<Doc>, count: number, cleanup: Cleanup): Promise<void> {
  const ids = new Set<string>();
  return new Promise((resolve) => {
    const subscription = collection.eventBulks$.subscribe((bulk) => {
      for (const event of bulk.events) if (event.operation === 'INSERT') ids.add(event.documentId);
      if (ids.size >= count) resolve();
    });
    cleanup.add(() => subscription.unsubscribe());
  });
}

export async function replicateOnce(contender: Contender, ours: boolean, docs: Doc[]): Promise<number> {
  const cleanup = new Cleanup();
  try {
    const [source, target] = await Promise.all([database(cleanup), database(cleanup)]);
    await source.bulkInsert(docs);
    const complete = inserted(target, docs.length, cleanup);
    const topic = `bench-p4-${contender.name}-${Math.random().toString(36).slice(2, 10)}`;
    const started = now();
    await Promise.all(
      [source, target].map(async (collection) => {
        const options = { collection, topic, pull: {}, push: {} };
        const pool = ours
          ? await replicateP2P({ ...options, connectionHandlerCreator: contender.newPeer() })
          : await replicateWebRTC({ ...options, connectionHandlerCreator: contender.newPeer() as unknown as WebRTCConnectionHandlerCreator<any> });
        // Before the databases close (cleanup runs in reverse order).
        cleanup.add(() => pool.cancel());
      }),
    );
    await within(complete, 60_000 + docs.length * 20, `${contender.name}: ${docs.length} documents replicated`);
    return now() - started;
  } finally {
    await cleanup.run();
    collectGarbage();
  }
}

export async function runP4(contenders: Contenders, quick: boolean): Promise<FigureResult> {
  const count = quick ? 1_000 : 10_000;
  const runs = quick ? 1 : 5;
  const docs = documents(count);
  const ours = contenders.ours.find((candidate) => candidate.name === 'socket.io');
  if (!ours) return { rows: [], notes: ['P4: socket.io not among the transports, skipped'] };
  const anchor = contenders.rxdbSimplePeer;
  const times = { ours: [] as number[], anchor: [] as number[] };
  const notes = [`P4: ${count} documents of ${JSON.stringify(docs[0]).length} bytes of JSON, ${runs} run(s) each, median, interleaved`];
  for (let run = 0; run < runs; run++) {
    for (const [key, contender] of [['ours', ours], ['anchor', anchor]] as const) {
      try {
        times[key].push(await replicateOnce(contender, key === 'ours', docs));
      } catch (error) {
        notes.push(`P4 ${contender.name}, run ${run + 1}: ${errorText(error)}`);
      }
    }
  }
  notes.push(`P4 every run (ms): ours ${times.ours.map((ms) => ms.toFixed(0)).join(', ')}; ${anchor.name} ${times.anchor.map((ms) => ms.toFixed(0)).join(', ')}`);
  if (!times.ours.length || !times.anchor.length) return { rows: [], notes: [...notes, 'P4: a side never completed, no row'] };
  return {
    rows: [rowOfRuns('P4', `socket.io replicateP2P, ${count} docs`, times.ours, anchor.name, times.anchor, 'ms', 'lower', { op: '<=', value: 1.0 })],
    notes,
  };
}
