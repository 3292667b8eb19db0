import type { P2PMessage, P2PPeer, P2PResponse } from '../../types.js';
import { check, codeOf, fail, preview, within } from '../checks.js';
import type { HandlerProbe, StreamName } from '../probe.js';

/** Steps several cases share; each waits with its own timeout naming what stayed silent. */

const MiB = 1024 * 1024;

/** Big payloads get more time: a slow transport may move only ~1 MB/s. */
export function bulkTimeout(ctx: { caps: { timeoutMs: number } }, bytes: number): number {
  return ctx.caps.timeoutMs * Math.max(1, Math.ceil(bytes / (4 * MiB)));
}

export function request(id: string, params: unknown[] = [], method = 'conformanceEcho'): P2PMessage {
  return { id, method, params };
}

export function response(id: string, result: unknown, extra: Record<string, unknown> = {}): P2PResponse {
  return { id, result, ...extra };
}

export function streamFor(payload: object): StreamName {
  return typeof (payload as { method?: unknown }).method === 'string' ? 'message$' : 'response$';
}

export function payloadOf(event: { message?: unknown; response?: unknown }): any {
  return event.message ?? event.response;
}

/** Calls send() so that a synchronous throw becomes a rejection, with a timeout. */
export function send(from: HandlerProbe, peer: P2PPeer, payload: object, timeoutMs = from.timeoutMs): Promise<void> {
  return within(
    Promise.resolve().then(() => from.handler.send(peer, payload as P2PMessage)),
    timeoutMs,
    `${from.name}: send() to peer ${peer.id} did not settle`,
  );
}

/** The first connect$ of `a` and of `b` after the marks: in a topic only they share, each other. */
export async function pair(
  a: HandlerProbe,
  b: HandlerProbe,
  marks: { a?: number; b?: number } = {},
): Promise<{ onA: P2PPeer; onB: P2PPeer }> {
  const [onA, onB] = await Promise.all([
    a.next<P2PPeer>('connect$', { after: marks.a ?? 0, what: `for ${b.name}` }),
    b.next<P2PPeer>('connect$', { after: marks.b ?? 0, what: `for ${a.name}` }),
  ]);
  return { onA, onB };
}

/** Waits until every probe holds a live link to each of the others. */
export async function mesh(probes: HandlerProbe[]): Promise<void> {
  const want = probes.length - 1;
  await Promise.all(
    probes.map((probe) =>
      probe.until(
        () => probe.livePeers.length >= want,
        () => `connect$ reached ${probe.livePeers.length} of ${want} peers (full mesh of ${probes.length})`,
      ),
    ),
  );
}

/**
 * Sends `payload` from `from` to `peer` and waits until `to` receives it (matched by id) on
 * the stream the routing rule demands; says so when it turned up on the other stream.
 */
export async function transfer(
  from: HandlerProbe,
  peer: P2PPeer,
  to: HandlerProbe,
  payload: P2PMessage | P2PResponse,
  options: { expectPeer?: P2PPeer; timeoutMs?: number } = {},
): Promise<{ peer: P2PPeer; message?: P2PMessage; response?: P2PResponse }> {
  const stream = streamFor(payload);
  const other: StreamName = stream === 'message$' ? 'response$' : 'message$';
  const matches = (event: any): boolean => payloadOf(event)?.id === payload.id;
  const mark = to.mark();
  const timeoutMs = options.timeoutMs;
  await send(from, peer, payload, timeoutMs);
  let received: { peer: P2PPeer; message?: P2PMessage; response?: P2PResponse };
  try {
    received = await to.next(stream, { after: mark, where: matches, what: `payload ${preview(payload.id)} from ${from.name}`, timeoutMs });
  } catch (error) {
    if (to.values(other, mark).some(matches)) {
      fail(`${to.name}: payload ${preview(payload.id)} from ${from.name} arrived on ${other} instead of ${stream}`);
    }
    throw error;
  }
  if (options.expectPeer !== undefined) {
    check(
      received.peer === options.expectPeer,
      `${to.name}: ${stream} carried a different peer object than connect$ for ${from.name} (ids ${preview(received.peer?.id)} and ${preview(options.expectPeer.id)})`,
    );
  }
  return received;
}

/** A request each way over a pair: proves the link still works. */
export async function roundTrip(
  a: HandlerProbe,
  onA: P2PPeer,
  b: HandlerProbe,
  onB: P2PPeer,
  id: (prefix: string) => string,
  timeoutMs: number,
): Promise<void> {
  await transfer(a, onA, b, request(id('ping')), { expectPeer: onB, timeoutMs });
  await transfer(b, onB, a, request(id('pong')), { expectPeer: onA, timeoutMs });
}

/**
 * Over a full mesh, each probe says hello to every live peer; returns, per probe, which peer
 * object stands for which other probe (ids are the handler's business, names are ours).
 */
export async function identify(probes: HandlerProbe[]): Promise<Map<HandlerProbe, Map<HandlerProbe, P2PPeer>>> {
  const marks = new Map(probes.map((probe) => [probe, probe.mark()]));
  const isHello = (event: any): boolean => event?.message?.method === 'conformanceHello';
  await Promise.all(
    probes.map((probe) =>
      Promise.all(probe.livePeers.map((peer) => send(probe, peer, request(`hello-${probe.name}-${peer.id}`, [probe.name], 'conformanceHello')))),
    ),
  );
  const directory = new Map<HandlerProbe, Map<HandlerProbe, P2PPeer>>();
  for (const probe of probes) {
    const others = probes.filter((other) => other !== probe);
    const after = marks.get(probe) ?? 0;
    const heard = () => new Set(probe.values('message$', after).filter(isHello).map((event) => event.message.params[0]));
    await probe.until(
      () => others.every((other) => heard().has(other.name)),
      () => `message$ did not bring hellos from ${others.filter((other) => !heard().has(other.name)).map((o) => o.name).join(', ')}`,
    );
    const byName = new Map<HandlerProbe, P2PPeer>();
    for (const event of probe.values('message$', after).filter(isHello)) {
      const other = others.find((candidate) => candidate.name === event.message.params[0]);
      if (other && !byName.has(other)) byName.set(other, event.peer);
    }
    directory.set(probe, byName);
  }
  return directory;
}

export function isCode(error: unknown, code: string): boolean {
  return codeOf(error) === code;
}
