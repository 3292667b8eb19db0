/**
 * P1w pair connect with every signaling service 25 ms away (a latency proxy in front of each,
 * the same proxy for every contender), beside the same pair on loopback in the same run. The
 * difference between the two, divided by one round trip, is how many sequential signaling
 * round trips a contender needs until both data channels are open: the design choice that
 * loopback hides and users feel.
 */
import { median, p90, row, rowOfRuns, type FigureResult, type Measured } from './lib.js';
import { proxiedInfos, WAN_DELAY_MS, type LatencyProxy } from './latency-proxy.js';
import { interleavedPairConnects } from './p1-connect.js';
import { allContenders, contendersFor, type Contender, type Contenders } from './transports.js';
import type { WebRTCImplementation } from '../src/mesh/wrtc.js';

export const P1W_METHOD =
  `P1 with a TCP latency proxy (${WAN_DELAY_MS} ms each way, every chunk held in order) in front of every signaling server, the same for every contender; ` +
  'WebRTC itself stays on loopback. 10 runs (3 with --quick) after a warm-up, each contender on loopback and through the proxy, all interleaved; median. ' +
  `Round trips = (median through the proxy − median on loopback) / ${2 * WAN_DELAY_MS} ms: the sequential signaling round trips until both data channels are open.`;

export async function runP1w(contenders: Contenders, quick: boolean, wrtc: WebRTCImplementation): Promise<FigureResult> {
  const runs = quick ? 3 : 10;
  const proxies: LatencyProxy[] = [];
  try {
    const infos = new Map([...contenders.servers].map(([kind, server]) => [kind, server.info] as const));
    const wan = await contendersFor(wrtc, await proxiedInfos(infos, WAN_DELAY_MS, proxies));
    const kept = new Set(allContenders(contenders).map((contender) => contender.name));
    const wanByName = new Map(allContenders(wan).filter((contender) => kept.has(contender.name)).map((contender) => [contender.name, contender]));
    const field: Array<{ contender: Contender; key: string }> = allContenders(contenders).flatMap((contender) => {
      const far = wanByName.get(contender.name);
      return [{ contender, key: `${contender.name}/loopback` }, ...(far ? [{ contender: far, key: `${contender.name}/wan` }] : [])];
    });
    const { times, failures } = await interleavedPairConnects(field, runs, 'p1w');
    return summarize(contenders, times, failures, runs);
  } finally {
    await Promise.all(proxies.map((proxy) => proxy.close()));
  }
}

function summarize(contenders: Contenders, times: Map<string, number[]>, failures: Map<string, string[]>, runs: number): FigureResult {
  const notes = [...failures].map(([key, errors]) => `P1w ${key}: ${errors.length} failed run(s): ${[...new Set(errors)].join('; ')}`);
  notes.push(`P1w: ${runs} runs per contender and network after 1 warm-up, interleaved; ${WAN_DELAY_MS} ms each way`);
  const stat = (key: string, pick: (values: number[]) => number) => {
    const values = times.get(key) ?? [];
    return values.length ? pick(values) : undefined;
  };
  const roundTrips = (name: string) => {
    const far = stat(`${name}/wan`, median);
    const near = stat(`${name}/loopback`, median);
    return far === undefined || near === undefined ? undefined : (far - near) / (2 * WAN_DELAY_MS);
  };
  const rows: Measured[] = [];
  for (const contender of contenders.ours) {
    const nostr = contender.name === 'nostr' && contenders.rxdbNostr;
    const anchor = nostr ? contenders.rxdbNostr! : contenders.rxdbSimplePeer;
    const target = { op: '<=' as const, value: nostr ? 0.3 : 0.6 };
    for (const [label, pick] of [['median', median], ['p90', p90]] as const) {
      const ours = stat(`${contender.name}/wan`, pick);
      const theirs = stat(`${anchor.name}/wan`, pick);
      if (ours === undefined || theirs === undefined) {
        notes.push(`P1w ${contender.name}: no successful runs of ${ours === undefined ? contender.name : anchor.name} through the proxy, ${label} row skipped`);
        continue;
      }
      const name = `${contender.name} pair connect, ${WAN_DELAY_MS} ms away, ${label}`;
      rows.push(
        label === 'median'
          ? rowOfRuns('P1w', name, times.get(`${contender.name}/wan`)!, anchor.name, times.get(`${anchor.name}/wan`)!, 'ms', 'lower', target)
          : row('P1w', name, ours, anchor.name, theirs, 'ms', 'lower', target),
      );
    }
    const ours = roundTrips(contender.name);
    const theirs = roundTrips(anchor.name);
    if (ours !== undefined && theirs !== undefined) {
      rows.push(row('P1w', `${contender.name} signaling round trips until both channels are open`, ours, anchor.name, theirs, 'round trips', 'lower'));
    }
  }
  return { rows, notes };
}
