/**
 * Simulated peers in their own process, for P2 (bench/p2-mesh.ts). A full mesh of 16 in one
 * process would hold 240 RTCPeerConnections, and @roamhq/wrtc opens ~90 sockets (up to ~250)
 * for each on loopback (UDP and TCP candidates, ICE checks): more than the 20,000 descriptors
 * a process may have. A few peers per process keep each well under it. Driven over IPC:
 *   ← { type: 'init', infos: [[kind, info], …] }          → { type: 'ready' }
 *   ← { type: 'open', contender, topic, peers, expect }    → { type: 'meshed', cpuMicros } once each
 *                                                            of the `peers` new peers has `expect`
 *                                                            live (cpuMicros: this process's user +
 *                                                            system CPU time spent meanwhile)
 *   ← { type: 'close' }                                    → { type: 'closed' }
 *   ← { type: 'exit' }                                     → closes, then the process ends on its own
 * Every reply may carry `error` instead.
 */
import type { Subscription } from 'rxjs';
import type { WebRTCImplementation } from '../src/mesh/wrtc.js';
import { collectGarbage, errorText, type ServerInfo, type ServerKind } from './lib.js';
import { allContenders, contendersFor, open, type Contender, type Handler } from './transports.js';

interface OpenMessage {
  type: 'open';
  contender: string;
  topic: string;
  peers: number;
  expect: number;
}

const send = (message: object) => process.send?.(message);

let byName = new Map<string, Contender>();
const openings: Array<Promise<Handler>> = [];
const subscriptions: Subscription[] = [];

async function init(infos: Array<[ServerKind, ServerInfo]>): Promise<void> {
  const wrtc = ((await import('@roamhq/wrtc')) as { default: WebRTCImplementation }).default;
  const contenders = await contendersFor(wrtc, new Map(infos));
  byName = new Map(allContenders(contenders).map((contender) => [contender.name, contender]));
}

/** Calls `peers` creators (one per peer) and resolves once each has `expect` live peers. */
async function openPeers({ contender: name, topic, peers, expect }: OpenMessage): Promise<{ cpuMicros: number }> {
  const contender = byName.get(name);
  if (!contender) throw new Error(`no contender ${name} here`);
  const cpuBefore = process.cpuUsage();
  const creators = Array.from({ length: peers }, () => contender.newPeer());
  await Promise.all(
    creators.map(async (creator) => {
      const opening = open(creator, topic);
      openings.push(opening);
      const handler = await opening;
      await new Promise<void>((resolve) => {
        // Peer objects, not ids: a reconnect is a new object after a disconnect$ of the old one.
        const live = new Set<object>();
        subscriptions.push(handler.disconnect$.subscribe((peer) => live.delete(peer)));
        subscriptions.push(
          handler.connect$.subscribe((peer) => {
            live.add(peer);
            if (live.size >= expect) resolve();
          }),
        );
      });
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  return { cpuMicros: cpu.user + cpu.system };
}

async function closePeers(): Promise<void> {
  subscriptions.splice(0).forEach((subscription) => subscription.unsubscribe());
  const handlers = await Promise.all(openings.splice(0).map((opening) => opening.catch(() => undefined)));
  await Promise.all(handlers.map((handler) => handler?.close()));
  collectGarbage();
}

process.on('message', (message: { type?: string; infos?: Array<[ServerKind, ServerInfo]> }) => {
  const reply = (type: string, work: () => Promise<object | void>) =>
    void work().then(
      (result) => send({ ...result, type }),
      (error) => send({ type, error: errorText(error) }),
    );
  if (message.type === 'init') reply('ready', () => init(message.infos ?? []));
  if (message.type === 'open') reply('meshed', () => openPeers(message as unknown as OpenMessage));
  if (message.type === 'close') reply('closed', closePeers);
  if (message.type === 'exit') void closePeers().finally(() => process.disconnect?.());
});
// The parent went away without asking: close, so nothing outlives the bench.
process.on('disconnect', () => void closePeers());
