/**
 * P2 full mesh: N peers (one creator each) on one fresh topic, two peers per process
 * (bench/peer-worker.ts: a whole mesh in one process runs out of file descriptors), timed from
 * the moment all are told to call their creators until every peer has a live connect$ for each
 * of the N−1 others. Runs are interleaved across contenders; the processes are started once.
 */
import { Cleanup, errorText, now, rotated, rowOfRuns, spawnWorker, within, type FigureResult, type Measured, type ServerInfo, type ServerKind, type Worker } from './lib.js';
import { proxiedInfos, WAN_DELAY_MS, type LatencyProxy } from './latency-proxy.js';
import type { Contender, Contenders } from './transports.js';

const PEERS_PER_PROCESS = 2;

export const P2_METHOD =
  '8 and 16 peers (8 only with --quick), each its own creator, on one fresh topic, two peers per process; timed from all creators called until ' +
  'every peer has a live connect$ for each of the others; median of 5 runs (1 with --quick) after a warm-up run, interleaved in a rotating order. Anchor: RxDB getConnectionHandlerSimplePeer. ' +
  'CPU per link: user + system CPU time of all peer processes from the creators called until meshed, divided by the N·(N−1)/2 links formed; median over the runs.';

export const P2W_METHOD =
  `P2 with 8 peers, every signaling server behind the P1w latency proxy (${WAN_DELAY_MS} ms each way); median of 5 runs (1 with --quick) after a warm-up run, interleaved. Anchor: RxDB getConnectionHandlerSimplePeer.`;

async function startPeerProcesses(peers: number, servers: ReadonlyMap<ServerKind, ServerInfo>, cleanup: Cleanup): Promise<Worker[]> {
  const infos = [...servers];
  const count = Math.ceil(peers / PEERS_PER_PROCESS);
  const workers = Array.from({ length: count }, (_, index) => spawnWorker('bench/peer-worker.ts', [], `peer process ${index + 1}`));
  for (const worker of workers) {
    cleanup.add(async () => {
      worker.post({ type: 'exit' });
      await within(worker.exited, 15_000, 'a peer process exiting').catch(() => worker.kill());
    });
  }
  await Promise.all(workers.map((worker) => worker.ask('ready', { type: 'init', infos }, 60_000)));
  return workers;
}

export interface MeshRun {
  ms: number;
  /** CPU time of every peer process while the mesh formed. */
  cpuMicros: number;
}

export async function fullMesh(processes: readonly Worker[], size: number, contender: Contender, topic: string): Promise<MeshRun> {
  const used = processes.slice(0, Math.ceil(size / PEERS_PER_PROCESS));
  const timeout = size * 4_000;
  try {
    const started = now();
    const meshed = used.map((worker, index) => {
      const peers = Math.min(PEERS_PER_PROCESS, size - index * PEERS_PER_PROCESS);
      return worker.ask('meshed', { type: 'open', contender: contender.name, topic, peers, expect: size - 1 }, timeout);
    });
    const replies: Array<{ cpuMicros: number }> = await within(Promise.all(meshed), timeout, `${contender.name}: a full mesh of ${size}`);
    return { ms: now() - started, cpuMicros: replies.reduce((sum, reply) => sum + reply.cpuMicros, 0) };
  } finally {
    await Promise.allSettled(used.map((worker) => worker.ask('closed', { type: 'close' }, 20_000)));
  }
}

interface MeshFigure {
  figure: 'P2' | 'P2w';
  servers: ReadonlyMap<ServerKind, ServerInfo>;
  sizes: number[];
  runs: number;
}

export async function runP2(contenders: Contenders, quick: boolean): Promise<FigureResult> {
  const servers = new Map([...contenders.servers].map(([kind, server]) => [kind, server.info] as const));
  return meshFigure(contenders, { figure: 'P2', servers, sizes: quick ? [8] : [8, 16], runs: quick ? 1 : 5 });
}

export async function runP2w(contenders: Contenders, quick: boolean): Promise<FigureResult> {
  const proxies: LatencyProxy[] = [];
  try {
    const servers = new Map([...contenders.servers].map(([kind, server]) => [kind, server.info] as const));
    const far = await proxiedInfos(servers, WAN_DELAY_MS, proxies);
    return await meshFigure(contenders, { figure: 'P2w', servers: far, sizes: [8], runs: quick ? 1 : 5 });
  } finally {
    await Promise.all(proxies.map((proxy) => proxy.close()));
  }
}

async function meshFigure(contenders: Contenders, { figure, servers, sizes, runs }: MeshFigure): Promise<FigureResult> {
  const anchor = contenders.rxdbSimplePeer;
  const field = [...contenders.ours, anchor];
  const rows: Measured[] = [];
  const notes: string[] = [`${figure}: ${PEERS_PER_PROCESS} peers per process, ${runs} run(s) per size and contender, median, interleaved`];
  const cleanup = new Cleanup();
  try {
    const processes = await startPeerProcesses(Math.max(...sizes), servers, cleanup);
    for (const size of sizes) {
      const results = new Map<string, MeshRun[]>(field.map((contender) => [contender.name, []]));
      // Run -1 warms every contender's code up in the peer processes and is not counted.
      for (let run = -1; run < runs; run++) {
        for (const contender of rotated(field, run)) {
          const topic = `bench-${figure}-${contender.name}-${size}-${run}-${Math.random().toString(36).slice(2, 8)}`;
          try {
            const measured = await fullMesh(processes, size, contender, topic);
            if (run >= 0) results.get(contender.name)!.push(measured);
          } catch (error) {
            notes.push(`${figure} ${contender.name} ${size} peers, run ${run + 1}: ${errorText(error)}`);
          }
        }
      }
      const list = (values: MeshRun[]) => values.map((each) => each.ms.toFixed(0)).join(', ');
      notes.push(`${figure} ${size} peers, every run (ms): ${field.map((contender) => `${contender.name} ${list(results.get(contender.name)!)}`).join('; ')}`);
      rows.push(...meshRows(figure, size, runs, contenders.ours, anchor, results, notes));
    }
  } finally {
    await cleanup.run();
  }
  return { rows, notes };
}

function meshRows(figure: string, size: number, runs: number, ours: Contender[], anchor: Contender, results: Map<string, MeshRun[]>, notes: string[]): Measured[] {
  const rows: Measured[] = [];
  const theirs = results.get(anchor.name)!;
  const links = (size * (size - 1)) / 2;
  const cpuPerLink = (values: MeshRun[]) => values.map((each) => each.cpuMicros / 1000 / links);
  for (const contender of ours) {
    const mine = results.get(contender.name)!;
    if (!mine.length || !theirs.length) {
      notes.push(`${figure} ${contender.name} ${size} peers: no successful run of ${mine.length ? anchor.name : contender.name}, row skipped`);
      continue;
    }
    const note = mine.length < runs || theirs.length < runs ? `${mine.length}/${theirs.length} runs succeeded` : undefined;
    const ms = (values: MeshRun[]) => values.map((each) => each.ms);
    rows.push(rowOfRuns(figure, `${contender.name} full mesh, ${size} peers`, ms(mine), anchor.name, ms(theirs), 'ms', 'lower', { op: '<=', value: 0.7 }, note));
    if (figure === 'P2') {
      rows.push(rowOfRuns(figure, `${contender.name} CPU per link, ${size} peers`, cpuPerLink(mine), anchor.name, cpuPerLink(theirs), 'ms CPU', 'lower', { op: '<=', value: 0.9 }, note));
    }
  }
  return rows;
}
