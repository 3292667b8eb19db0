import { check, fail, firstDifference, preview, within } from '../checks.js';
import { blockString } from '../payloads.js';
import type { HandlerProbe } from '../probe.js';
import type { P2PMessage, P2PPeer, P2PResponse } from '../../types.js';
import type { ConformanceCase } from '../types.js';
import { bulkTimeout, pair } from './steps.js';

const MiB = 1024 * 1024;
/** Every BIG_EVERY-th payload is big; the rest straddle the 16 KiB data-channel limit. */
const BIG_EVERY = 50;
const SMALL_SPREAD = 20_000;

interface LoadContent {
  load: string;
  seq: number;
  body: string;
}

function sizeOf(seq: number, big: number): number {
  return seq % BIG_EVERY === BIG_EVERY - 1 ? big : (seq * 7919) % SMALL_SPREAD;
}

function bodyOf(direction: string, seq: number, big: number): string {
  return blockString(sizeOf(seq, big), `${direction}${seq}:`);
}

/** Requests, replies and change-stream pushes in turn: ordering must hold across both streams. */
function payloadOf(direction: string, seq: number, big: number): P2PMessage | P2PResponse {
  const content: LoadContent = { load: direction, seq, body: bodyOf(direction, seq, big) };
  if (seq % 3 === 0) return { id: `load-${direction}-${seq}`, method: 'conformanceLoad', params: [content] };
  if (seq % 3 === 1) return { id: `load-${direction}-${seq}`, result: content };
  return { id: 'masterChangeStream$', result: content };
}

/** Reads what `probe` received from `direction` incrementally, so waiting stays linear. */
function collect(probe: HandlerProbe, after: number, direction: string) {
  let scanned = after;
  const seqs: number[] = [];
  const contents: LoadContent[] = [];
  return {
    seqs,
    contents,
    count(): number {
      for (; scanned < probe.events.length; scanned += 1) {
        const { stream, value } = probe.events[scanned]!;
        const content = stream === 'message$' ? value?.message?.params?.[0] : stream === 'response$' ? value?.response?.result : undefined;
        if (content?.load !== direction) continue;
        seqs.push(content.seq);
        contents.push(content);
      }
      return seqs.length;
    },
  };
}

function sendAll(from: HandlerProbe, peer: P2PPeer, payloads: Array<P2PMessage | P2PResponse>): Promise<void>[] {
  // Called back to back without awaiting, as RxDB does: the handler must queue in call order.
  return payloads.map((payload) => {
    try {
      return Promise.resolve(from.handler.send(peer, payload));
    } catch (error) {
      return Promise.reject(error);
    }
  });
}

export const loadCase: ConformanceCase = {
  name: 'order is kept under load, mixed sizes, both directions at once',
  async run(ctx) {
    const a = await ctx.open();
    const b = await ctx.open();
    const { onA, onB } = await pair(a, b);
    const count = ctx.caps.loadMessages;
    const big = Math.min(MiB, Math.floor(ctx.caps.maxPayloadBytes / 4));
    const fromA = Array.from({ length: count }, (_, seq) => payloadOf('A', seq, big));
    const fromB = Array.from({ length: count }, (_, seq) => payloadOf('B', seq, big));
    const totalBytes = fromA.reduce((sum, _, seq) => sum + sizeOf(seq, big), 0) * 2;
    const timeoutMs = bulkTimeout(ctx, totalBytes);
    const atB = collect(b, b.mark(), 'A');
    const atA = collect(a, a.mark(), 'B');

    const sends = [...sendAll(a, onA, fromA), ...sendAll(b, onB, fromB)];
    const outcomes = await within(Promise.allSettled(sends), timeoutMs, `${count} sends each way did not all settle`);
    const failed = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failed) fail(`a send() under load rejected: ${preview((failed as PromiseRejectedResult).reason)}`);

    for (const [probe, seen, sender] of [[b, atB, a], [a, atA, b]] as const) {
      await probe.until(() => seen.count() >= count, () => `received ${seen.count()} of ${count} payloads from ${sender.name}`, timeoutMs);
      const direction = sender === a ? 'A' : 'B';
      for (let position = 0; position < count; position += 1) {
        const seq = seen.seqs[position];
        check(seq === position, () => `${probe.name}: payload #${String(seq)} from ${sender.name} arrived in position ${position}; order must be kept`);
        const difference = firstDifference(seen.contents[position]?.body, bodyOf(direction, position, big), `body of #${position}`);
        if (difference) fail(`${probe.name}: payload from ${sender.name} damaged: ${difference}`);
      }
    }
  },
};
