/**
 * The memory handler: the whole conformance suite (with and without latency), then the
 * parts of its own API the suite cannot see (options, latency, crash timing, limits).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createMemoryNetwork, getConnectionHandlerMemory, type MemoryNetwork } from '../handlers/memory/index.js';
import { HandlerProbe, runConformanceSuite } from '../src/conformance/index.js';
import type { P2PConnectionHandler, P2PPeer } from '../src/types.js';
import { memoryTarget } from './fixtures/memory-target.js';

const runs = [
  runConformanceSuite(memoryTarget()),
  runConformanceSuite(memoryTarget('memory with latency', { latencyMs: 3, crashDetectionMs: 100 })),
];

const WAIT_MS = 2_000;
const test = suite('memory network');
const opened: P2PConnectionHandler[] = [];

async function open(network: MemoryNetwork, topic: string, options: { peerId?: string; maxPayloadBytes?: number } = {}): Promise<HandlerProbe> {
  const handler = await getConnectionHandlerMemory({ network, ...options })({ topic });
  opened.push(handler);
  return new HandlerProbe(`handler ${opened.length}`, topic, handler, WAIT_MS);
}

async function openPair(network: MemoryNetwork, topic = 'unit-topic'): Promise<[HandlerProbe, HandlerProbe, P2PPeer, P2PPeer]> {
  const a = await open(network, topic);
  const b = await open(network, topic);
  const [onA, onB] = await Promise.all([a.next<P2PPeer>('connect$'), b.next<P2PPeer>('connect$')]);
  return [a, b, onA, onB];
}

async function rejectsWith(action: () => unknown, code: string): Promise<void> {
  try {
    await action();
  } catch (error) {
    assert.is((error as { code?: unknown }).code, code, `expected ${code}, got ${String(error)}`);
    return;
  }
  assert.unreachable(`expected a rejection with ${code}`);
}

test.after.each(async () => {
  await Promise.allSettled(opened.splice(0).map((handler) => handler.close()));
});

test('invalid options throw ERR_INVALID_OPTION at construction', async () => {
  const network = createMemoryNetwork();
  const bad: Array<() => unknown> = [
    () => createMemoryNetwork({ latencyMs: -1 }),
    () => createMemoryNetwork({ crashDetectionMs: Number.NaN }),
    () => getConnectionHandlerMemory(undefined as never),
    () => getConnectionHandlerMemory({} as never),
    () => getConnectionHandlerMemory({ network: {} as MemoryNetwork }),
    () => getConnectionHandlerMemory({ network, peerId: '' }),
    () => getConnectionHandlerMemory({ network, maxPayloadBytes: 0 }),
    () => getConnectionHandlerMemory({ network })({ topic: '' }),
    () => getConnectionHandlerMemory({ network })({} as never),
  ];
  for (const action of bad) await rejectsWith(action, 'ERR_INVALID_OPTION');
  assert.equal(createMemoryNetwork().options, { latencyMs: 0, crashDetectionMs: 0 });
});

test('payloads cross as JSON copies, never synchronously', async () => {
  const [a, b, onA] = await openPair(createMemoryNetwork());
  const payload = { id: 'json', result: { when: new Date(0), gone: undefined, kept: [1, null] } };
  const mark = b.mark();
  await a.handler.send(onA, payload);
  assert.is(b.mark(), mark, 'delivered before send() returned to its caller');
  const received = await b.next('response$', { after: mark });
  assert.equal(received.response, { id: 'json', result: { when: '1970-01-01T00:00:00.000Z', kept: [1, null] } });
  assert.is.not(received.response, payload);
});

test('peerId is the id others see; a second live handler with it is refused until the first closes', async () => {
  const network = createMemoryNetwork();
  const a = await open(network, 'ids', { peerId: 'alice' });
  const b = await open(network, 'ids');
  const seen = await b.next<P2PPeer>('connect$');
  assert.is(seen.id, 'alice');
  assert.equal(network.members('ids'), ['alice', (await a.next<P2PPeer>('connect$')).id]);
  await rejectsWith(() => open(network, 'ids', { peerId: 'alice' }), 'ERR_ID_TAKEN');
  const mark = b.mark();
  await a.handler.close();
  await b.next('disconnect$', { after: mark });
  await open(network, 'ids', { peerId: 'alice' });
  const again = await b.next<P2PPeer>('connect$', { after: mark });
  assert.is(again.id, 'alice');
  assert.is.not(again, seen);
});

test('latencyMs delays connect$ and every payload', async () => {
  const latencyMs = 40;
  const network = createMemoryNetwork({ latencyMs });
  let started = performance.now();
  const [a, b, onA] = await openPair(network);
  assert.ok(performance.now() - started >= latencyMs - 2, 'connect$ came before the latency passed');
  const mark = b.mark();
  started = performance.now();
  await a.handler.send(onA, { id: 'slow', method: 'm', params: [] });
  await b.next('message$', { after: mark });
  assert.ok(performance.now() - started >= latencyMs - 2, 'the payload came before the latency passed');
});

test('crash: survivors notice after crashDetectionMs; sends meanwhile are lost, not rejected', async () => {
  const crashDetectionMs = 80;
  const network = createMemoryNetwork({ crashDetectionMs });
  const [a, b, onA] = await openPair(network, 'crash');
  const mark = a.mark();
  const started = performance.now();
  await network.crash(b.handler);
  assert.equal(network.members('crash').length, 1);
  await a.handler.send(onA, { id: 'into the void', method: 'm', params: [] });
  await a.next('disconnect$', { after: mark });
  assert.ok(performance.now() - started >= crashDetectionMs - 2, 'disconnect$ came before the crash could be noticed');
  assert.is(b.values('message$').length, 0);
  await rejectsWith(() => a.handler.send(onA, { id: 'gone', result: null }), 'ERR_PEER_NOT_CONNECTED');
  await network.crash(b.handler);
});

test('maxPayloadBytes bounds the JSON size send() accepts', async () => {
  const network = createMemoryNetwork();
  const a = await open(network, 'limits', { maxPayloadBytes: 64 });
  const b = await open(network, 'limits');
  const onA = await a.next<P2PPeer>('connect$');
  await b.next('connect$');
  const envelope = JSON.stringify({ id: 'x', result: '' }).length;
  await a.handler.send(onA, { id: 'x', result: 'a'.repeat(64 - envelope) });
  await rejectsWith(() => a.handler.send(onA, { id: 'x', result: 'a'.repeat(65 - envelope) }), 'ERR_PAYLOAD_TOO_LARGE');
  await rejectsWith(() => a.handler.send(onA, { id: 'x', result: 1n } as never), 'ERR_NOT_SERIALIZABLE');
});

test('injectFrame: a malformed frame surfaces on error$ and the handler keeps working', async () => {
  const network = createMemoryNetwork();
  const [a, b, onA, onB] = await openPair(network, 'inject');
  network.injectFrame(b.handler, [1, 2, 3]);
  const error = await b.next('error$');
  assert.is(error.code, 'ERR_PROTOCOL');
  const mark = a.mark();
  await b.handler.send(onB, { id: 'still', method: 'm', params: [] });
  const delivered = await a.next('message$', { after: mark });
  assert.is(delivered.peer, onA);
  const lonely = await open(network, 'alone');
  await rejectsWith(() => network.injectFrame(lonely.handler, {}), 'ERR_PEER_NOT_CONNECTED');
  await rejectsWith(() => createMemoryNetwork().crash(a.handler), 'ERR_INVALID_OPTION');
});

test('networks are isolated from each other', async () => {
  const first = createMemoryNetwork();
  const second = createMemoryNetwork();
  const [a, b] = await openPair(first, 'shared');
  // Joins on one network are the sync point for the other: a cross link would be up by now.
  const [x, y] = await openPair(second, 'shared');
  for (const probe of [a, b, x, y]) assert.is(probe.livePeers.length, 1, `${probe.name} linked across networks`);
  assert.is(first.members('shared').length, 2);
  assert.is(second.members('shared').length, 2);
});

// Queued after the conformance suites above, so both runs are complete when this runs.
test('runConformanceSuite reports a result for every case it registered', async () => {
  for (const run of runs) {
    const results = await run.done;
    assert.is(results, run.results);
    assert.equal(results.map((result) => result.fullName), [...run.cases]);
    const failed = results.filter((result) => !result.passed || result.cleanupError !== undefined);
    assert.is(failed.length, 0, failed.map((result) => result.fullName).join(', '));
    assert.ok(run.cases.includes('disconnect › a crash gives disconnect$ on every other peer, and they keep working'));
  }
});

test.run();
