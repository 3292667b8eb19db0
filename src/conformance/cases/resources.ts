import { check, fail } from '../checks.js';
import { settleResources } from '../resources.js';
import { defineGroup } from './define.js';

/** Runs last: every earlier case's handlers and env are gone by now. */
export const resources = defineGroup('resources', [
  {
    name: 'the whole run leaves no timers or sockets behind',
    level: 'strict',
    requires: (caps) => caps.checkResources,
    withoutEnv: true,
    async run(ctx) {
      if (ctx.runBaseline === undefined) fail('no baseline was taken when the run started');
      const excess = await settleResources(ctx.runBaseline, ctx.caps.resourceSettleMs);
      check(
        excess.length === 0,
        `still active ${ctx.caps.resourceSettleMs} ms after every case closed its handlers and tore its env down: ${excess.join(', ')}`,
      );
    },
  },
]);
