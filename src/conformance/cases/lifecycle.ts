import { P2PErrorCode } from '../../errors.js';
import { check, fail, preview, within } from '../checks.js';
import { STREAMS, type HandlerProbe, type StreamName } from '../probe.js';
import { settleResources, TimerTracker } from '../resources.js';
import { pair, request, roundTrip, send } from './steps.js';
import { defineGroup } from './define.js';

function closed(probe: HandlerProbe, timeoutMs: number, how: 'close' | 'destroy' = 'close'): Promise<void> {
  return within(how === 'close' ? probe.close() : probe.destroy(), timeoutMs, `${probe.name}: ${how}() did not settle`);
}

/** A subscription made after close() must complete at once and replay nothing. */
async function subscribeLate(probe: HandlerProbe, stream: StreamName, timeoutMs: number): Promise<void> {
  const values: unknown[] = [];
  let unsubscribe = (): void => {};
  const completed = new Promise<void>((resolve, reject) => {
    const subscription = probe.handler[stream].subscribe({ next: (value: unknown) => values.push(value), complete: resolve, error: reject });
    unsubscribe = () => subscription.unsubscribe();
  });
  try {
    await within(completed, timeoutMs, `${probe.name}: a subscription to ${stream} made after close() did not complete`);
  } finally {
    unsubscribe();
  }
  check(values.length === 0, () => `${probe.name}: a subscription to ${stream} made after close() received ${values.length} value(s), e.g. ${preview(values[0])}`);
}

export const lifecycle = defineGroup('lifecycle', [
  {
    name: 'close() before any peer completes all five streams',
    async run(ctx) {
      const a = await ctx.open();
      await closed(a, ctx.caps.timeoutMs);
      await a.completion();
      check(a.events.length === 0, () => `${a.name}: emitted ${preview(a.events[0])} while alone on its topic`);
    },
  },
  {
    name: 'close() completes all five streams and later subscribers complete at once',
    async run(ctx) {
      const a = await ctx.open();
      const b = await ctx.open();
      await pair(a, b);
      await closed(a, ctx.caps.timeoutMs);
      await a.completion();
      for (const stream of STREAMS) await subscribeLate(a, stream, ctx.caps.timeoutMs);
    },
  },
  {
    name: 'close() twice resolves both times and changes nothing more',
    level: 'strict',
    async run(ctx) {
      const a = await ctx.open();
      const b = await ctx.open();
      const { onB } = await pair(a, b);
      const markB = b.mark();
      await closed(a, ctx.caps.timeoutMs);
      const gone = await b.next('disconnect$', { after: markB, what: `for ${a.name} after its close()`, timeoutMs: ctx.caps.disconnectTimeoutMs });
      check(gone === onB, `${b.name}: disconnect$ carried a different object than connect$ for ${a.name}`);
      const markA = a.mark();
      await closed(a, ctx.caps.timeoutMs);
      await closed(a, ctx.caps.timeoutMs, 'destroy');
      check(a.mark() === markA, () => `${a.name}: a second close() emitted ${preview(a.events[markA])}`);
      // A newcomer is the sync point: anything a second close() set off on B arrives before it.
      const c = await ctx.open();
      const markC = b.mark();
      await pair(b, c, { a: markC });
      const after = b.events.slice(markB);
      const disconnects = after.filter((event) => event.stream === 'disconnect$').length;
      const connects = after.filter((event) => event.stream === 'connect$').length;
      check(disconnects === 1 && connects === 1, `${b.name}: after ${a.name} closed twice saw ${disconnects} disconnect$ and ${connects} connect$ (expected 1 and 1, the latter for ${c.name})`);
    },
  },
  {
    name: 'both close() (RxDB 17) and destroy() (RxDB 14) are there, one teardown',
    level: 'strict',
    async run(ctx) {
      const a = await ctx.open();
      const handler = a.handler as unknown as Record<string, unknown>;
      const missing = ['close', 'destroy'].filter((method) => typeof handler[method] !== 'function');
      check(missing.length === 0, `${a.name}: the handler has no ${missing.join(' or ')}() (RxDB 17 calls close(), RxDB 14 destroy(): strict asks for both)`);
      await closed(a, ctx.caps.timeoutMs, 'destroy');
      await a.completion();
    },
  },
  {
    name: 'concurrent close() and destroy() calls all resolve',
    level: 'strict',
    async run(ctx) {
      const a = await ctx.open();
      const b = await ctx.open();
      const { onB } = await pair(a, b);
      const markB = b.mark();
      const outcomes = await within(
        Promise.allSettled([a.close(), a.close(), a.destroy()]),
        ctx.caps.timeoutMs,
        `${a.name}: concurrent close(), close(), destroy() did not all settle`,
      );
      const rejected = outcomes.flatMap((outcome, index) => (outcome.status === 'rejected' ? [`call ${index + 1}: ${preview(outcome.reason)}`] : []));
      check(rejected.length === 0, `${a.name}: concurrent close/destroy calls must all resolve; rejected: ${rejected.join('; ')}`);
      await a.completion();
      const gone = await b.next('disconnect$', { after: markB, what: `for ${a.name}`, timeoutMs: ctx.caps.disconnectTimeoutMs });
      check(gone === onB, `${b.name}: disconnect$ carried a different object than connect$ for ${a.name}`);
    },
  },
  {
    name: 'send() during and after close() rejects with ERR_DESTROYED',
    async run(ctx) {
      const a = await ctx.open();
      const b = await ctx.open();
      const { onA } = await pair(a, b);
      const markB = b.mark();
      const closing = a.close();
      await ctx.rejects(send(a, onA, request(ctx.nextId('during'))), P2PErrorCode.DESTROYED, `${a.name}: send() while close() is pending`);
      await within(closing, ctx.caps.timeoutMs, `${a.name}: close() did not settle`);
      await ctx.rejects(send(a, onA, request(ctx.nextId('after'))), P2PErrorCode.DESTROYED, `${a.name}: send() after close()`);
      await ctx.rejects(
        send(a, { id: 'no-such-peer' }, request(ctx.nextId('after'))),
        P2PErrorCode.DESTROYED,
        `${a.name}: send() to an unknown peer after close()`
      );
      await b.next('disconnect$', { after: markB, what: `for ${a.name}`, timeoutMs: ctx.caps.disconnectTimeoutMs });
      const leaked = b.values('message$', markB);
      check(leaked.length === 0, () => `${b.name}: received ${preview(leaked[0])}, sent by the closing ${a.name}`);
    },
  },
  {
    name: 'a closed handler emits nothing, even when peers keep sending and new peers join',
    level: 'strict',
    async run(ctx) {
      const a = await ctx.open();
      const b = await ctx.open();
      const { onB } = await pair(a, b);
      // B keeps talking through A's close; some of these may fail, none may reach a closed A.
      const chatter = Array.from({ length: 20 }, () => send(b, onB, request(ctx.nextId('chatter'))).catch(() => undefined));
      await closed(a, ctx.caps.timeoutMs);
      const markA = a.mark();
      await Promise.all(chatter);
      const c = await ctx.open();
      const markB = b.mark();
      const { onA: cOnB, onB: bOnC } = await pair(c, b, { b: markB });
      await roundTrip(c, cOnB, b, bOnC, (prefix) => ctx.nextId(prefix), ctx.caps.timeoutMs);
      check(a.mark() === markA, () => `${a.name}: emitted ${preview(a.events[markA])} after close() resolved`);
      check(c.livePeers.length === 1, `${c.name}: connected to ${c.livePeers.length} peers; the closed ${a.name} must not be one`);
    },
  },
  {
    name: 'close() emits disconnect$ for every live peer before completing',
    async run(ctx) {
      const a = await ctx.open();
      const others = [];
      for (let i = 1; i < ctx.caps.meshSize; i += 1) others.push(await ctx.open());
      const want = others.length;
      await a.until(() => a.livePeers.length >= want, () => `connect$ reached ${a.livePeers.length} of ${want} peers`);
      const live = a.livePeers;
      await closed(a, ctx.caps.timeoutMs);
      await a.completion(['disconnect$']);
      const left = a.liveWhenDisconnectCompleted ?? 0;
      check(left === 0, `${a.name}: disconnect$ completed with ${left} of ${live.length} live peers never disconnected`);
    },
  },
  {
    name: 'close() right after creation, while pairing, leaves no live link',
    async run(ctx) {
      const a = await ctx.open();
      const b = await ctx.open();
      await closed(a, ctx.caps.timeoutMs);
      const c = await ctx.open();
      const cOnB = await c.next('connect$', { what: `for ${b.name}` });
      const hello = request(ctx.nextId('hello'));
      const markB = b.mark();
      await send(c, cOnB, hello);
      const heard = await b.next('message$', { after: markB, where: (event) => event.message?.id === hello.id, what: `the hello from ${c.name}` });
      await b.until(
        () => b.livePeers.length === 1 && b.livePeers[0] === heard.peer,
        () => `live peers stayed ${b.livePeers.length}; only ${c.name} may remain (the link to the closed ${a.name} must go)`,
        ctx.caps.disconnectTimeoutMs,
      );
      check(c.livePeers.length === 1, `${c.name}: connected to ${c.livePeers.length} peers; the closed ${a.name} must not be one`);
    },
  },
  {
    name: 'leaves no timers or sockets once closed',
    level: 'strict',
    requires: (caps) => caps.checkResources,
    async run(ctx) {
      const tracker = new TimerTracker();
      tracker.start();
      try {
        const a = await ctx.open();
        const b = await ctx.open();
        const { onA, onB } = await pair(a, b);
        await roundTrip(a, onA, b, onB, (prefix) => ctx.nextId(prefix), ctx.caps.timeoutMs);
        await Promise.all([closed(a, ctx.caps.timeoutMs), closed(b, ctx.caps.timeoutMs)]);
        const baseline = ctx.baseline;
        if (baseline === undefined) fail('no resource baseline was taken');
        const excess = await settleResources(baseline, ctx.caps.resourceSettleMs);
        const timers = await tracker.settle(ctx.caps.resourceSettleMs);
        const problems = [
          ...(excess.length ? [`still active ${ctx.caps.resourceSettleMs} ms after every handler closed: ${excess.join(', ')}`] : []),
          ...(timers.length ? [`${timers.length} timer(s) created during the case never fired or were cleared (unref'd ones included), made at: ${timers.slice(0, 3).join(' | ')}`] : []),
        ];
        check(problems.length === 0, problems.join('; '));
      } finally {
        tracker.stop();
      }
    },
  },
]);
