import { check, preview } from '../checks.js';
import { pair, roundTrip, send } from './steps.js';
import { defineGroup } from './define.js';

export const errors = defineGroup('errors', [
  {
    name: 'send() of an unserializable payload rejects with a coded error and the link keeps working',
    level: 'strict',
    async run(ctx) {
      const a = await ctx.open();
      const b = await ctx.open();
      const { onA, onB } = await pair(a, b);
      const cyclic: { id: string; result: { self?: unknown } } = { id: ctx.nextId(), result: {} };
      cyclic.result.self = cyclic;
      await ctx.rejects(send(a, onA, cyclic), 'any', `${a.name}: send() of a cyclic payload`);
      await roundTrip(a, onA, b, onB, (prefix) => ctx.nextId(prefix), ctx.caps.timeoutMs);
      check(a.values('disconnect$').length === 0 && b.values('disconnect$').length === 0, 'a failed send() broke the link (disconnect$ emitted)');
    },
  },
  {
    name: 'error$ emissions carry a code and do not terminate the handler',
    level: 'strict',
    requires: (caps) => caps.provokeError !== undefined,
    async run(ctx) {
      const a = await ctx.open();
      const b = await ctx.open();
      const { onA, onB } = await pair(a, b);
      const markA = a.mark();
      await ctx.provokeError(a);
      const error = await a.next('error$', { after: markA, what: 'after capabilities.provokeError()' });
      check(typeof error?.code === 'string', `${a.name}: error$ emitted ${preview(error)} without a string code`);
      check(a.completed.size === 0, `${a.name}: ${[...a.completed].join(', ')} completed after an error$ emission`);
      await roundTrip(a, onA, b, onB, (prefix) => ctx.nextId(prefix), ctx.caps.timeoutMs);
      check(a.livePeers.includes(onA), `${a.name}: the link to ${b.name} is gone after an error$ emission`);
    },
  },
]);
