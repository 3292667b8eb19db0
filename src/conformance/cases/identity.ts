import { check, preview } from '../checks.js';
import { identify, mesh, pair, request, response, send, transfer } from './steps.js';
import { defineGroup } from './define.js';

const TRAFFIC = 20;
/** Pairs in the connect$-then-send case: the race it looks for does not show on every link. */
const EAGER_PAIRS = 10;

export const identity = defineGroup('identity', [
  {
    // RxDB's replication asks a new peer for its token inside its connect$ handler; a side
    // that delivers that request before its own connect$ loses it (and the replication waits).
    name: 'a request sent the moment connect$ fires arrives after the receiver\'s own connect$',
    async run(ctx) {
      for (let round = 0; round < EAGER_PAIRS; round += 1) {
        const topic = ctx.randomTopic();
        const a = await ctx.open({ topic });
        const eager = new Map<typeof a, string>();
        const sendOnConnect = (probe: typeof a) => {
          const id = ctx.nextId('eager');
          eager.set(probe, id);
          const subscription = probe.handler.connect$.subscribe((peer) => {
            subscription.unsubscribe();
            send(probe, peer, request(id)).catch(() => undefined);
          });
        };
        sendOnConnect(a);
        const b = await ctx.open({ topic });
        sendOnConnect(b);
        for (const [from, to] of [[a, b], [b, a]] as const) {
          const heard = await to.next('message$', { where: (event) => event.message?.id === eager.get(from), what: `the request ${from.name} sent on its connect$` });
          check(to.livePeers.includes(heard.peer), `${to.name}: the request ${from.name} sent on its connect$ came before ${to.name}'s own connect$ for it`);
        }
        await Promise.all([a.close(), b.close()]);
      }
    },
  },
  {
    name: 'the same peer object on connect$, message$, response$ and disconnect$',
    async run(ctx) {
      const a = await ctx.open();
      const b = await ctx.open();
      const { onA, onB } = await pair(a, b);
      await transfer(a, onA, b, request(ctx.nextId('req')), { expectPeer: onB });
      await transfer(b, onB, a, response(ctx.nextId('res'), { ok: true }), { expectPeer: onA });
      await transfer(a, onA, b, response('masterChangeStream$', 'RESYNC'), { expectPeer: onB });
      const markA = a.mark();
      await b.close();
      const gone = await a.next('disconnect$', { after: markA, what: `for ${b.name} after its close()`, timeoutMs: ctx.caps.disconnectTimeoutMs });
      check(gone === onA, `${a.name}: disconnect$ carried a different object than connect$ for ${b.name} (ids ${gone?.id} and ${onA.id})`);
    },
  },
  {
    name: 'the connect$ peer object is reused for every payload, both ways',
    async run(ctx) {
      const a = await ctx.open();
      const b = await ctx.open();
      const { onA, onB } = await pair(a, b);
      check(typeof onA.id === 'string' && onA.id.length > 0, `${a.name}: peer id ${String(onA.id)} is not a non-empty string`);
      check(typeof onB.id === 'string' && onB.id.length > 0, `${b.name}: peer id ${String(onB.id)} is not a non-empty string`);
      const markA = a.mark();
      const markB = b.mark();
      const sends = [];
      for (let i = 0; i < TRAFFIC; i += 1) {
        sends.push(send(a, onA, i % 2 ? request(ctx.nextId('ab')) : response(ctx.nextId('ab'), i)));
        sends.push(send(b, onB, i % 2 ? request(ctx.nextId('ba')) : response(ctx.nextId('ba'), i)));
      }
      await Promise.all(sends);
      const arrived = (probe: typeof a, mark: number) => () => probe.values('message$', mark).length + probe.values('response$', mark).length;
      await b.until(() => arrived(b, markB)() >= TRAFFIC, () => `received ${arrived(b, markB)()} of ${TRAFFIC} payloads from ${a.name}`);
      await a.until(() => arrived(a, markA)() >= TRAFFIC, () => `received ${arrived(a, markA)()} of ${TRAFFIC} payloads from ${b.name}`);
      for (const [probe, mark, peer] of [[a, markA, onA], [b, markB, onB]] as const) {
        const strangers = [...probe.values('message$', mark), ...probe.values('response$', mark)].filter((event) => event.peer !== peer);
        check(strangers.length === 0, `${probe.name}: ${strangers.length} of ${TRAFFIC} payloads came with a peer object other than the connect$ one`);
      }
      // The objects send() got from connect$ must still be accepted after all that traffic.
      await transfer(a, onA, b, request(ctx.nextId('last')), { expectPeer: onB });
    },
  },
  {
    name: 'each remote peer is a distinct object with a distinct id',
    async run(ctx) {
      const probes = [];
      for (let i = 0; i < ctx.caps.meshSize; i += 1) probes.push(await ctx.open());
      await mesh(probes);
      const directory = await identify(probes);
      for (const probe of probes) {
        const peers = [...(directory.get(probe)?.values() ?? [])];
        check(new Set(peers).size === peers.length, `${probe.name}: two remotes share one peer object`);
        const ids = peers.map((peer) => peer.id);
        check(new Set(ids).size === ids.length, `${probe.name}: two remotes share the id ${ids.find((id, i) => ids.indexOf(id) !== i)}`);
        for (const peer of peers) check(probe.livePeers.includes(peer), `${probe.name}: a hello came with an object that connect$ never emitted`);
      }
    },
  },
  {
    name: 'connect$ emits each live peer once, even as traffic flows and others join',
    async run(ctx) {
      const a = await ctx.open();
      const b = await ctx.open();
      const { onA, onB } = await pair(a, b);
      const markA = a.mark();
      for (let i = 0; i < TRAFFIC; i += 1) {
        await transfer(a, onA, b, request(ctx.nextId('ab')), { expectPeer: onB });
        await transfer(b, onB, a, request(ctx.nextId('ba')), { expectPeer: onA });
      }
      const c = await ctx.open();
      const aOnC = await a.next('connect$', { after: markA, what: `for the newcomer ${c.name}` });
      check(aOnC !== onA, `${a.name}: connect$ re-emitted the object of ${b.name} when ${c.name} joined`);
      check(aOnC.id !== onA.id, `${a.name}: ${c.name} got the id of ${b.name} (${onA.id})`);
      await c.until(() => c.livePeers.length >= 2, () => `connect$ reached ${c.livePeers.length} of 2 peers`);
      const connects = a.values('connect$').length;
      check(connects === 2, `${a.name}: ${connects} connect$ for 2 peers`);
    },
  },
]);
