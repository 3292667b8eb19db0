import { check, preview } from '../checks.js';
import type { HandlerProbe } from '../probe.js';
import type { CaseContext } from '../types.js';
import { identify, mesh, pair, roundTrip } from './steps.js';
import { defineGroup } from './define.js';

async function openMany(ctx: CaseContext, count: number): Promise<HandlerProbe[]> {
  // Created at once, as apps starting together would: joins race each other.
  return Promise.all(Array.from({ length: count }, () => ctx.open()));
}

function checkDistinctPeers(probe: HandlerProbe): void {
  const ids = probe.livePeers.map((peer) => peer.id);
  check(new Set(ids).size === ids.length, `${probe.name}: live peers share ids ${preview(ids)}; each remote needs its own`);
}

export const pairing = defineGroup('pairing', [
  {
    name: 'two handlers on one topic both emit connect$',
    async run(ctx) {
      const a = await ctx.open();
      const b = await ctx.open();
      const { onA, onB } = await pair(a, b);
      await roundTrip(a, onA, b, onB, (prefix) => ctx.nextId(prefix), ctx.caps.timeoutMs);
    },
  },
  {
    name: 'handlers created at once on one topic form a full mesh',
    async run(ctx) {
      const probes = await openMany(ctx, ctx.caps.meshSize);
      await mesh(probes);
      const directory = await identify(probes);
      for (const probe of probes) {
        checkDistinctPeers(probe);
        const connects = probe.values('connect$').length;
        check(connects === probes.length - 1, `${probe.name}: ${connects} connect$ for ${probes.length - 1} peers`);
        const objects = new Set(directory.get(probe)?.values());
        check(objects.size === probes.length - 1, `${probe.name}: hellos from ${probes.length - 1} peers came with ${objects.size} distinct peer objects`);
      }
    },
  },
  {
    name: 'a late joiner connects to everyone already there',
    async run(ctx) {
      const early = await openMany(ctx, ctx.caps.meshSize - 1);
      await mesh(early);
      const marks = early.map((probe) => probe.mark());
      const late = await ctx.open();
      await Promise.all(early.map((probe, index) => probe.next('connect$', { after: marks[index], what: `for the late ${late.name}` })));
      await mesh([...early, late]);
      await identify([...early, late]);
      checkDistinctPeers(late);
    },
  },
  {
    name: 'handlers on different topics never connect',
    async run(ctx) {
      const other = ctx.randomTopic();
      const a = await ctx.open();
      const x = await ctx.open({ topic: other });
      const b = await ctx.open();
      const y = await ctx.open({ topic: other });
      const ab = await pair(a, b);
      const xy = await pair(x, y);
      // Traffic on both topics is the sync point: a stray cross-topic link would show by now.
      await roundTrip(a, ab.onA, b, ab.onB, (prefix) => `${ctx.nextId(prefix)}-t1`, ctx.caps.timeoutMs);
      await roundTrip(x, xy.onA, y, xy.onB, (prefix) => `${ctx.nextId(prefix)}-t2`, ctx.caps.timeoutMs);
      for (const probe of [a, b, x, y]) {
        const connects = probe.values('connect$').length;
        check(connects === 1, `${probe.name} (topic ${probe.topic === other ? 'two' : 'one'}): ${connects} connect$; only its topic partner may connect`);
        const foreign = [...probe.values('message$'), ...probe.values('response$')].filter(
          (event) => String((event.message ?? event.response)?.id).endsWith(probe.topic === other ? '-t1' : '-t2'),
        );
        check(foreign.length === 0, () => `${probe.name}: received ${preview(foreign[0])} from the other topic`);
      }
    },
  },
  {
    name: 'topics of 6 and 99 characters work',
    async run(ctx) {
      for (const length of [6, 99]) {
        const topic = ctx.randomTopic(length);
        const a = await ctx.open({ topic });
        const b = await ctx.open({ topic });
        const { onA, onB } = await pair(a, b);
        await roundTrip(a, onA, b, onB, (prefix) => ctx.nextId(`${prefix}-${length}`), ctx.caps.timeoutMs);
      }
    },
  },
]);
