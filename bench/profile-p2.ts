/**
 * Where a full mesh's time goes: N peers of one contender in this one process (default nostr, 8),
 * printing when each peer's k-th connect$ fired (ms from all creators called), so a long tail
 * (links that wait for a repeat announcement or a retry) stands out from a uniformly slow mesh.
 *   bash scripts/in-loopback-namespace.sh node --expose-gc --import tsx bench/profile-p2.ts nostr 8 3
 */
import { Cleanup, now, within } from './lib.js';
import { allContenders, openAll, startContenders, stopContenders } from './transports.js';

const [name = 'nostr', sizeArg = '8', runsArg = '3'] = process.argv.slice(2);
const size = Number(sizeArg);
const wrtc = ((await import('@roamhq/wrtc')) as any).default;
const contenders = await startContenders(wrtc);
const contender = allContenders(contenders).find((c) => c.name === name);
if (!contender) throw new Error(`no contender ${name}`);
for (let run = 0; run < Number(runsArg); run++) {
  const cleanup = new Cleanup();
  const creators = Array.from({ length: size }, () => contender.newPeer());
  const started = now();
  const times: number[][] = creators.map(() => []);
  const done = openAll(creators, `profile-p2-${run}-${Math.random()}`, cleanup).map(async (opening, index) => {
    const handler = await opening;
    await new Promise<void>((resolve) => {
      const subscription = handler.connect$.subscribe(() => {
        times[index]!.push(now() - started);
        if (times[index]!.length >= size - 1) resolve();
      });
      cleanup.add(() => subscription.unsubscribe());
    });
  });
  await within(Promise.all(done), size * 4_000, 'mesh');
  const all = times.flat().sort((a, b) => a - b);
  const pick = (q: number) => all[Math.min(all.length - 1, Math.floor(q * all.length))]!.toFixed(0);
  console.log(`${name} ${size} run ${run}: total ${(now() - started).toFixed(0)} ms; connect$ p10 ${pick(0.1)} p50 ${pick(0.5)} p90 ${pick(0.9)} max ${pick(1)}`);
  console.log('  per peer, last connect$: ' + times.map((t) => Math.max(...t).toFixed(0)).join(' '));
  await cleanup.run();
  await new Promise((r) => setTimeout(r, 300));
}
await stopContenders(contenders);
