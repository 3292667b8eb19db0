import { expectSamePayload } from '../checks.js';
import type { P2PMessage, P2PResponse } from '../../types.js';
import type { CaseContext } from '../types.js';
import { pair, payloadOf, transfer } from './steps.js';
import { defineGroup } from './define.js';

/** Sends each payload A→B in turn; `transfer` fails when one lands on the wrong stream. */
async function routeAll(ctx: CaseContext, payloads: Array<P2PMessage | P2PResponse>): Promise<void> {
  const a = await ctx.open();
  const b = await ctx.open();
  const { onA, onB } = await pair(a, b);
  for (const payload of payloads) {
    const received = await transfer(a, onA, b, payload, { expectPeer: onB });
    expectSamePayload(payloadOf(received), payload, `${b.name}: payload ${payload.id}`);
  }
}

export const routing = defineGroup('routing', [
  {
    name: 'a request (string method) arrives on message$, even with an empty method',
    run: (ctx) =>
      routeAll(ctx, [
        { id: ctx.nextId(), method: 'token', params: [] },
        { id: ctx.nextId(), method: 'masterChangesSince', params: [{ id: 'doc-1', lwt: 1 }, 20] },
        { id: ctx.nextId(), method: 'masterWrite', params: [[{ newDocumentState: { id: 'x', _deleted: false }, assumedMasterState: null }]] },
        { id: ctx.nextId(), method: '', params: [] },
      ]),
  },
  {
    name: "responses arrive on response$, including results null, 0, '' and false",
    run: (ctx) =>
      routeAll(
        ctx,
        ([null, 0, '', false, true, 1, -1, 'text', [], {}] as unknown[]).map((result): P2PResponse => ({ id: ctx.nextId(), result })).concat([
          // JSON drops an undefined result: the reply `{ id }` must still be a response.
          { id: ctx.nextId(), result: undefined },
        ]),
      ),
  },
  {
    name: 'masterChangeStream$ pushes arrive on response$',
    run: (ctx) =>
      routeAll(ctx, [
        { id: 'masterChangeStream$', result: { documents: [{ id: 'doc-1', _deleted: false }], checkpoint: { id: 'doc-1', lwt: 2 } } },
        { id: 'masterChangeStream$', result: 'RESYNC' },
        { id: 'masterChangeStream$', result: null },
      ]),
  },
  {
    name: 'payloads whose method is not a string arrive on response$',
    run: (ctx) =>
      routeAll(ctx, [
        { id: ctx.nextId(), method: 42, result: 1 } as P2PResponse,
        { id: ctx.nextId(), method: null, result: 2 } as P2PResponse,
        { id: ctx.nextId(), method: { name: 'token' }, result: 3 } as P2PResponse,
        { id: ctx.nextId(), method: false, result: 0 } as P2PResponse,
      ]),
  },
  {
    name: 'error responses arrive on response$ with the error intact',
    run: (ctx) =>
      routeAll(ctx, [
        {
          id: ctx.nextId(),
          result: null,
          error: { name: 'RxError', code: 'RC_PUSH', message: 'boom', parameters: { errors: [{ status: 409 }] }, stack: 'at x' },
        },
        { id: ctx.nextId(), result: false, error: { message: '' } },
      ]),
  },
]);
