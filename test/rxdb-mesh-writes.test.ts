/**
 * No write is lost in a mesh (docs/replication.md): the seeded property run of
 * fixtures/mesh-writes.ts over the memory handler and over socket.io with real WebRTC, both
 * through our replicateP2P and through RxDB's replicateWebRTC unchanged, with RxDB's default
 * conflict handler. Peers per seed cycle through 3, 4 and 6. A failure names its seed; replay
 * one with MESH_SEED=n, or run more with MESH_SEEDS=n (memory), MESH_LATENCY_SEEDS=n (memory, 20 ms)
 * and MESH_SOCKET_SEEDS=n.
 */
import { test } from 'uvu';
import { createMemoryNetwork, getConnectionHandlerMemory } from '../handlers/memory/index.js';
import { getConnectionHandlerSocketIo } from '../handlers/socket-io/client.js';
import { startSocketIoSignalingServer } from '../handlers/socket-io/server/index.js';
import type { P2PConnectionHandlerCreator } from '../src/types.js';
import { runMeshSeed } from './fixtures/mesh-writes.js';

const BASE = Number(process.env.MESH_SEED_BASE ?? 20261203);
const only = process.env.MESH_SEED === undefined ? undefined : Number(process.env.MESH_SEED);
const seeds = (count: number) => (only !== undefined ? [only] : Array.from({ length: count }, (_, index) => BASE + index));
const SIZES = [3, 4, 6];
/** The latency run draws other schedules than the plain memory run; MESH_SEED=n replays seed n itself. */
const LATENCY_SEED_OFFSET = only === undefined ? 100_000 : 0;

/** Runs each seed with the peer count and API it draws, printing its summary. */
async function runSeeds(list: number[], creator: () => P2PConnectionHandlerCreator, operations?: number): Promise<void> {
  for (const seed of list) {
    const api = seed % 2 === 0 ? 'replicateP2P' : 'replicateWebRTC';
    const summary = await runMeshSeed({ seed, peers: SIZES[seed % SIZES.length]!, api, creator, ...(operations ? { operations } : {}) });
    console.log(`  ${summary}`);
  }
}

test(`memory handler: ${only ?? process.env.MESH_SEEDS ?? 50} seeds, every single-writer write survives, contested ones converge`, async () => {
  const network = createMemoryNetwork();
  await runSeeds(seeds(Number(process.env.MESH_SEEDS ?? 50)), () => getConnectionHandlerMemory({ network }));
});

test(`memory handler 20 ms away: ${only ?? process.env.MESH_LATENCY_SEEDS ?? 30} seeds, the same`, async () => {
  // Every message 20 ms late: pushes, answers and change streams from different peers overlap,
  // which found deletions and updates being lost (docs/replication.md).
  const network = createMemoryNetwork({ latencyMs: 20 });
  const list = seeds(Number(process.env.MESH_LATENCY_SEEDS ?? 30)).map((seed) => seed + LATENCY_SEED_OFFSET);
  await runSeeds(list, () => getConnectionHandlerMemory({ network }));
});

test(`socket.io over WebRTC: ${only ?? process.env.MESH_SOCKET_SEEDS ?? 10} seeds, the same`, async () => {
  const server = await startSocketIoSignalingServer();
  try {
    const creator = () => getConnectionHandlerSocketIo({ url: server.url, config: { iceServers: [] } });
    await runSeeds(seeds(Number(process.env.MESH_SOCKET_SEEDS ?? 10)), creator, 40);
  } finally {
    await server.close();
  }
});

test.run();
