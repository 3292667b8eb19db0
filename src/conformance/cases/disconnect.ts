import { P2PErrorCode } from '../../errors.js';
import { check } from '../checks.js';
import type { HandlerProbe } from '../probe.js';
import type { CaseContext } from '../types.js';
import { identify, mesh, pair, request, roundTrip, send } from './steps.js';
import { defineGroup } from './define.js';

/** Takes `leaver` out with `leave`, then checks every survivor saw its disconnect$ and still works. */
async function survivorsCarryOn(ctx: CaseContext, leave: (probe: HandlerProbe) => Promise<void>, how: string): Promise<void> {
  const probes: HandlerProbe[] = [];
  for (let i = 0; i < ctx.caps.meshSize; i += 1) probes.push(await ctx.open());
  await mesh(probes);
  const directory = await identify(probes);
  const leaver = probes[probes.length - 1]!;
  const survivors = probes.slice(0, -1);
  const marks = survivors.map((probe) => probe.mark());
  await leave(leaver);
  await Promise.all(
    survivors.map(async (probe, index) => {
      const expected = directory.get(probe)?.get(leaver);
      const gone = await probe.next('disconnect$', {
        after: marks[index],
        what: `for ${leaver.name} after its ${how}`,
        timeoutMs: ctx.caps.disconnectTimeoutMs,
      });
      check(gone === expected, `${probe.name}: disconnect$ after the ${how} of ${leaver.name} carried another peer (id ${gone?.id})`);
    }),
  );
  const [first, second] = survivors as [HandlerProbe, HandlerProbe];
  const firstOnSecond = directory.get(first)?.get(second);
  const secondOnFirst = directory.get(second)?.get(first);
  check(firstOnSecond && secondOnFirst, 'hellos did not map the survivors to each other');
  await roundTrip(first, firstOnSecond, second, secondOnFirst, (prefix) => ctx.nextId(prefix), ctx.caps.timeoutMs);
}

type Paired = Awaited<ReturnType<typeof pair>>;

/**
 * Pairs two new handlers, lets `whilePaired` use the link, closes the second and waits for
 * the first's disconnect$ (returned as `gone`).
 */
async function pairThenClose(ctx: CaseContext, whilePaired?: (a: HandlerProbe, b: HandlerProbe, link: Paired) => Promise<void>) {
  const a = await ctx.open();
  const b = await ctx.open();
  const link = await pair(a, b);
  await whilePaired?.(a, b, link);
  const markA = a.mark();
  await b.close();
  const gone = await a.next('disconnect$', { after: markA, what: `for ${b.name} after its close()`, timeoutMs: ctx.caps.disconnectTimeoutMs });
  return { a, b, ...link, gone };
}

export const disconnect = defineGroup('disconnect', [
  {
    name: 'a remote close() gives disconnect$ with the connected peer object',
    async run(ctx) {
      const { a, b, onA, gone } = await pairThenClose(ctx);
      check(gone === onA, `${a.name}: disconnect$ carried a different object than connect$ for ${b.name}`);
    },
  },
  {
    name: 'the others keep working when one peer closes',
    run: (ctx) => survivorsCarryOn(ctx, (probe) => probe.close(), 'close()'),
  },
  {
    name: 'a crash gives disconnect$ on every other peer, and they keep working',
    requires: (caps) => caps.crash !== undefined,
    run: (ctx) => survivorsCarryOn(ctx, (probe) => ctx.crash(probe), 'crash'),
  },
  {
    name: 'send() to a peer that left rejects with ERR_PEER_NOT_CONNECTED',
    async run(ctx) {
      const { a, b, onA } = await pairThenClose(ctx);
      await ctx.rejects(
        send(a, onA, request(ctx.nextId())),
        P2PErrorCode.PEER_NOT_CONNECTED,
        `${a.name}: send() to ${b.name} after its disconnect$`
      );
    },
  },
  {
    name: 'send() to an unknown peer rejects with ERR_PEER_NOT_CONNECTED',
    async run(ctx) {
      const a = await ctx.open();
      await ctx.rejects(
        send(a, { id: 'no-such-peer' }, request(ctx.nextId())),
        P2PErrorCode.PEER_NOT_CONNECTED,
        `${a.name}: send() to an unknown peer while alone`
      );
      const b = await ctx.open();
      const { onA, onB } = await pair(a, b);
      await ctx.rejects(
        send(a, Object.freeze({ id: `stranger-${ctx.nextId()}` }), request(ctx.nextId())),
        P2PErrorCode.PEER_NOT_CONNECTED,
        `${a.name}: send() to an unknown peer while connected to ${b.name}`
      );
      await roundTrip(a, onA, b, onB, (prefix) => ctx.nextId(prefix), ctx.caps.timeoutMs);
    },
  },
  {
    name: 'a peer that comes back on the same topic connects again as a new object',
    async run(ctx) {
      const { a, b, ...first } = await pairThenClose(ctx, (a, b, link) =>
        roundTrip(a, link.onA, b, link.onB, (prefix) => ctx.nextId(prefix), ctx.caps.timeoutMs),
      );
      const again = a.mark();
      const b2 = await ctx.reopen(b);
      const second = await pair(a, b2, { a: again });
      check(second.onA !== first.onA, `${a.name}: connect$ for the returning ${b2.name} re-used the object of its previous session`);
      await roundTrip(a, second.onA, b2, second.onB, (prefix) => ctx.nextId(prefix), ctx.caps.timeoutMs);
      await ctx.rejects(
        send(a, first.onA, request(ctx.nextId())),
        P2PErrorCode.PEER_NOT_CONNECTED,
        `${a.name}: send() with the peer object of ${b.name}'s previous session`
      );
    },
  },
]);
