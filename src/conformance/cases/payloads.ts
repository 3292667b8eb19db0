import { check, expectSamePayload, fail, firstDifference, within } from '../checks.js';
import { blockString, encodedBytes, multiByteString, nestedSample, UNICODE_SAMPLES } from '../payloads.js';
import type { CaseContext } from '../types.js';
import { bulkTimeout, pair, payloadOf, request, response, transfer } from './steps.js';
import { loadCase } from './load.js';
import { defineGroup } from './define.js';

const NESTING = 64;

async function pairAB(ctx: CaseContext) {
  const a = await ctx.open();
  const b = await ctx.open();
  return { a, b, ...(await pair(a, b)) };
}

export const payloads = defineGroup('payloads', [
  {
    name: 'a payload arrives as an equal copy, unaffected by later changes',
    async run(ctx) {
      const { a, b, onA } = await pairAB(ctx);
      const payload = request(ctx.nextId(), [{ nested: { n: 1 }, list: [1, 2, 3] }]);
      const original = structuredClone(payload);
      const markB = b.mark();
      // send() is called directly so the change lands right after it, before any await.
      const sent = a.handler.send(onA, payload);
      (payload.params[0] as { nested: { n: number } }).nested.n = 2;
      (payload.params[0] as { list: number[] }).list.push(4);
      await within(Promise.resolve(sent), ctx.caps.timeoutMs, `${a.name}: send() did not settle`);
      const received = await b.next('message$', { after: markB, where: (event) => event.message?.id === payload.id, what: `payload ${payload.id}` });
      check(received.message !== payload, `${b.name}: message$ delivered the sender's own object, not a copy`);
      expectSamePayload(received.message, original, `${b.name}: payload changed by the sender after send()`);
    },
  },
  {
    name: 'unicode survives: astral, emoji, combining, RTL, controls, lone surrogates, split multi-byte',
    async run(ctx) {
      const { a, b, onA, onB } = await pairAB(ctx);
      const keyed = Object.fromEntries(UNICODE_SAMPLES.map((text, index) => [`${index}:${text}`, text]));
      const longText = multiByteString(300 * 1024);
      const out = request(ctx.nextId(), [UNICODE_SAMPLES, keyed]);
      expectSamePayload(payloadOf(await transfer(a, onA, b, out)), out, `${b.name}: unicode request`);
      const back = response(ctx.nextId(), { samples: UNICODE_SAMPLES, keyed });
      expectSamePayload(payloadOf(await transfer(b, onB, a, back)), back, `${a.name}: unicode response`);
      const long = request(ctx.nextId(), [longText]);
      const timeoutMs = bulkTimeout(ctx, encodedBytes(long));
      expectSamePayload(payloadOf(await transfer(a, onA, b, long, { timeoutMs })), long, `${b.name}: 300 KiB of multi-byte text`);
    },
  },
  {
    name: 'nested JSON survives: deep nesting, awkward numbers, empty containers, odd keys',
    async run(ctx) {
      const { a, b, onA, onB } = await pairAB(ctx);
      const sample = nestedSample(NESTING);
      const out = request(ctx.nextId(), [sample]);
      expectSamePayload(payloadOf(await transfer(a, onA, b, out)), out, `${b.name}: nested request`);
      const back = response(ctx.nextId(), sample);
      expectSamePayload(payloadOf(await transfer(b, onB, a, back)), back, `${a.name}: nested response`);
    },
  },
  {
    name: 'the largest payload (maxPayloadBytes, 16 MiB by default) arrives intact both ways',
    async run(ctx) {
      const { a, b, onA, onB } = await pairAB(ctx);
      const bytes = ctx.caps.maxPayloadBytes;
      const timeoutMs = bulkTimeout(ctx, bytes);
      for (const [from, peer, to, make] of [
        [a, onA, b, (text: string) => request(ctx.nextId('big'), [text])],
        [b, onB, a, (text: string) => response(ctx.nextId('big'), text)],
      ] as const) {
        const envelope = encodedBytes(make(''));
        if (envelope >= bytes) fail(`maxPayloadBytes ${bytes} is smaller than an empty payload`);
        // Exactly maxPayloadBytes once encoded: a transport with an off-by-one limit fails here.
        const payload = make(blockString(bytes - envelope, from.name.slice(-1)));
        const received = await transfer(from, peer, to, payload, { timeoutMs });
        const difference = firstDifference(payloadOf(received), payload);
        if (difference) fail(`${to.name}: ${bytes}-byte payload from ${from.name} arrived damaged: ${difference}`);
      }
    },
  },
  loadCase,
]);
