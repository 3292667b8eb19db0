/**
 * P1 pair connect: two peers (two creators) on a fresh topic, timed from both creators called
 * to both connect$ fired. Runs of all contenders are interleaved (run i of each, then run i+1)
 * so load from other processes on the machine falls on all of them alike; one warm-up run
 * each is discarded.
 */
import { Cleanup, collectGarbage, countOf, errorText, median, now, p90, rotated, row, rowOfRuns, within, type FigureResult, type Measured } from './lib.js';
import { allContenders, openAll, type Contender, type Contenders } from './transports.js';

const RUN_TIMEOUT_MS = 20_000;
/**
 * Pause after each run's cleanup: closing peer connections goes on in the background
 * (@roamhq/wrtc reports them closed, and frees them on GC, in later ticks), and without it
 * that work lands in whichever contender runs next.
 */
const SETTLE_MS = 100;

export const P1_METHOD =
  'two peers, each its own creator, on a fresh topic; timed from both creators called to both connect$ fired; ' +
  '20 runs (5 with --quick) after a warm-up, all contenders interleaved run by run in a rotating order, 100 ms of quiet after each run\'s cleanup; median and p90. ' +
  'Ours vs RxDB 17 getConnectionHandlerSimplePeer on startSignalingServerSimplePeer; our Nostr handler vs RxDB getConnectionHandlerNostr, both on our embedded relay.';

/** One pair connect of `contender`, in ms. */
export async function pairConnect(contender: Contender, topic: string): Promise<number> {
  const cleanup = new Cleanup();
  try {
    const creators = [contender.newPeer(), contender.newPeer()];
    const started = now();
    const connected = openAll(creators, topic, cleanup).map(async (opening) => {
      const handler = await opening;
      // Armed as soon as the handler exists: no link can open before its creator resolved.
      const { done, stop } = countOf(handler.connect$, 1);
      cleanup.add(stop);
      return done;
    });
    await within(Promise.all(connected), RUN_TIMEOUT_MS, `${contender.name}: both connect$`);
    return now() - started;
  } finally {
    await cleanup.run();
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  }
}

/**
 * `runs` pair connects of each entry (keyed by `key`) after one warm-up run, interleaved:
 * rotated run by run, so each follows each other one as often (a run's teardown spills into
 * the next run, whoever's it is).
 */
export async function interleavedPairConnects(
  field: ReadonlyArray<{ contender: Contender; key: string }>,
  runs: number,
  label: string,
): Promise<{ times: Map<string, number[]>; failures: Map<string, string[]> }> {
  const times = new Map<string, number[]>(field.map(({ key }) => [key, []]));
  const failures = new Map<string, string[]>();
  for (let run = -1; run < runs; run++) {
    for (const { contender, key } of rotated(field, run)) {
      try {
        const ms = await pairConnect(contender, `bench-${label}-${key}-${run}-${Math.random().toString(36).slice(2, 8)}`);
        if (run >= 0) times.get(key)!.push(ms);
      } catch (error) {
        failures.set(key, [...(failures.get(key) ?? []), errorText(error)]);
      }
    }
  }
  return { times, failures };
}

export async function runP1(contenders: Contenders, quick: boolean): Promise<FigureResult> {
  const runs = quick ? 5 : 20;
  const { times, failures } = await interleavedPairConnects(allContenders(contenders).map((contender) => ({ contender, key: contender.name })), runs, 'p1');
  const notes = [...failures].map(([name, errors]) => `P1 ${name}: ${errors.length} failed run(s): ${[...new Set(errors)].join('; ')}`);
  notes.push(`P1: ${runs} runs per contender after 1 warm-up, interleaved`);
  const rows: Measured[] = [];
  const stats = (name: string) => {
    const values = times.get(name) ?? [];
    return values.length ? { median: median(values), p90: p90(values), n: values.length } : undefined;
  };
  for (const contender of contenders.ours) {
    const anchor = contender.name === 'nostr' && contenders.rxdbNostr ? contenders.rxdbNostr : contenders.rxdbSimplePeer;
    const target = { op: '<=' as const, value: contender.name === 'nostr' ? 0.3 : 0.8 };
    const ours = stats(contender.name);
    const theirs = stats(anchor.name);
    if (!ours || !theirs) {
      notes.push(`P1 ${contender.name}: no successful runs of ${ours ? anchor.name : contender.name}, row skipped`);
      continue;
    }
    const note = ours.n < runs || theirs.n < runs ? `${ours.n}/${theirs.n} runs succeeded` : undefined;
    rows.push(rowOfRuns('P1', `${contender.name} pair connect, median`, times.get(contender.name)!, anchor.name, times.get(anchor.name)!, 'ms', 'lower', target, note));
    rows.push(row('P1', `${contender.name} pair connect, p90`, ours.p90, anchor.name, theirs.p90, 'ms', 'lower', target, note));
  }
  return { rows, notes };
}
