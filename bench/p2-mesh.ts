/**
 * P2 full mesh: N peers (one creator each) on one fresh topic, two peers per process
 * (bench/peer-worker.ts: a whole mesh in one process runs out of file descriptors), timed from
 * the moment all are told to call their creators until every peer has a live connect$ for each
 * of the N−1 others. Runs are interleaved across contenders; the processes are started once.
 */
import { Cleanup, errorText, median, now, rotated, row, spawnWorker, within, type FigureResult, type Measured, type Worker } from './lib.js';
import type { Contender, Contenders } from './transports.js';

const PEERS_PER_PROCESS = 2;

export const P2_METHOD =
  '8 and 16 peers (8 only with --quick), each its own creator, on one fresh topic, two peers per process; timed from all creators called until ' +
  'every peer has a live connect$ for each of the others; median of 5 runs (1 with --quick), interleaved in a rotating order. Anchor: RxDB getConnectionHandlerSimplePeer.';

async function startPeerProcesses(peers: number, contenders: Contenders, cleanup: Cleanup): Promise<Worker[]> {
  const infos = [...contenders.servers].map(([kind, server]) => [kind, server.info]);
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

export async function fullMesh(processes: readonly Worker[], size: number, contender: Contender, topic: string): Promise<number> {
  const used = processes.slice(0, Math.ceil(size / PEERS_PER_PROCESS));
  const timeout = size * 4_000;
  try {
    const started = now();
    const meshed = used.map((worker, index) => {
      const peers = Math.min(PEERS_PER_PROCESS, size - index * PEERS_PER_PROCESS);
      return worker.ask('meshed', { type: 'open', contender: contender.name, topic, peers, expect: size - 1 }, timeout);
    });
    await within(Promise.all(meshed), timeout, `${contender.name}: a full mesh of ${size}`);
    return now() - started;
  } finally {
    await Promise.allSettled(used.map((worker) => worker.ask('closed', { type: 'close' }, 20_000)));
  }
}

export async function runP2(contenders: Contenders, quick: boolean): Promise<FigureResult> {
  const sizes = quick ? [8] : [8, 16];
  const runs = quick ? 1 : 5;
  const anchor = contenders.rxdbSimplePeer;
  const field = [...contenders.ours, anchor];
  const rows: Measured[] = [];
  const notes: string[] = [`P2: ${PEERS_PER_PROCESS} peers per process, ${runs} run(s) per size and contender, median, interleaved`];
  const cleanup = new Cleanup();
  try {
    const processes = await startPeerProcesses(Math.max(...sizes), contenders, cleanup);
    for (const size of sizes) {
      const times = new Map<string, number[]>(field.map((contender) => [contender.name, []]));
      for (let run = 0; run < runs; run++) {
        for (const contender of rotated(field, run)) {
          const topic = `bench-p2-${contender.name}-${size}-${run}-${Math.random().toString(36).slice(2, 8)}`;
          try {
            times.get(contender.name)!.push(await fullMesh(processes, size, contender, topic));
          } catch (error) {
            notes.push(`P2 ${contender.name} ${size} peers, run ${run + 1}: ${errorText(error)}`);
          }
        }
      }
      const list = (values: number[]) => values.map((ms) => ms.toFixed(0)).join(', ');
      notes.push(`P2 ${size} peers, every run (ms): ${field.map((contender) => `${contender.name} ${list(times.get(contender.name)!)}`).join('; ')}`);
      const theirs = times.get(anchor.name)!;
      for (const contender of contenders.ours) {
        const ours = times.get(contender.name)!;
        if (!ours.length || !theirs.length) {
          notes.push(`P2 ${contender.name} ${size} peers: no successful run of ${ours.length ? anchor.name : contender.name}, row skipped`);
          continue;
        }
        const note = ours.length < runs || theirs.length < runs ? `${ours.length}/${theirs.length} runs succeeded` : undefined;
        rows.push(row('P2', `${contender.name} full mesh, ${size} peers`, median(ours), anchor.name, median(theirs), 'ms', 'lower', { op: '<=', value: 0.7 }, note));
      }
    }
  } finally {
    await cleanup.run();
  }
  return { rows, notes };
}
