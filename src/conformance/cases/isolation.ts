import type { P2PPeer } from '../../types.js';
import { P2PErrorCode } from '../../errors.js';
import { check, preview } from '../checks.js';
import type { HandlerProbe } from '../probe.js';
import { identify, isCode, mesh, pair, request, roundTrip, transfer } from './steps.js';
import { defineGroup } from './define.js';

/** Names of everything `probe` received on message$ after `after`: what reached that topic. */
function heard(probe: HandlerProbe, after = 0): string[] {
  return probe.values('message$', after).map((event) => String(event.message?.id));
}

/**
 * Apps hand one creator every collection (RxDB calls it once per collection, with the
 * collection's topic). A handler built on one connection per remote peer for all topics must
 * still keep the topics apart: a peer is in a topic only when it joined that topic, and a
 * payload sent on one topic never reaches another. (That a peer replaying link traffic cannot
 * get into a topic is a property of one implementation's wire protocol: this project tests it
 * in test/mesh.topics.test.ts.)
 */
export const isolation = defineGroup('isolation', [
  {
    name: 'a creator shared by two topics brings each peer only into the topic it joined',
    async run(ctx) {
      const other = ctx.randomTopic();
      const shared = await ctx.open();
      const sharedOther = await ctx.alsoOpen(shared, other);
      const onlyFirst = await ctx.open();
      const onlyOther = await ctx.open({ topic: other });
      const first = await pair(shared, onlyFirst);
      const second = await pair(sharedOther, onlyOther);
      const checkTopicPeers = () => {
        for (const [probe, only, stranger] of [
          [shared, first.onA, onlyOther],
          [sharedOther, second.onA, onlyFirst],
        ] as const) {
          const connected = probe.values('connect$') as P2PPeer[];
          check(connected.length === 1 && connected[0] === only, () => `${probe.name}: connect$ brought ${connected.length} peers (ids ${preview(connected.map((peer) => peer.id))}); one joined its topic, ${stranger.name} only the other`);
        }
      };
      try {
        await roundTrip(shared, first.onA, onlyFirst, first.onB, (prefix) => ctx.nextId(prefix), ctx.caps.timeoutMs);
        await roundTrip(sharedOther, second.onA, onlyOther, second.onB, (prefix) => ctx.nextId(prefix), ctx.caps.timeoutMs);
      } catch (error) {
        checkTopicPeers(); // the likelier cause of a failed exchange, named as such
        throw error;
      }
      checkTopicPeers();
      for (const probe of [onlyFirst, onlyOther]) {
        check(probe.livePeers.length === 1, `${probe.name}: connected to ${probe.livePeers.length} peers; one shares its topic`);
      }
    },
  },
  {
    name: 'two creators sharing two topics keep each topic\'s payloads and peer objects apart',
    async run(ctx) {
      const other = ctx.randomTopic();
      const a = await ctx.open();
      const b = await ctx.open();
      const firstLink = await pair(a, b);
      // A third topic only B has: A must see nothing of it.
      const bAlone = await ctx.alsoOpen(b, ctx.randomTopic());
      const aOther = await ctx.alsoOpen(a, other);
      const bOther = await ctx.alsoOpen(b, other);
      const otherLink = await pair(aOther, bOther);
      check(otherLink.onA !== firstLink.onA, `${aOther.name}: the peer object for ${bOther.name} is the one of the first topic (each topic's handler has its own)`);
      const marks = new Map([a, b, aOther, bOther].map((probe) => [probe, probe.mark()]));
      // Interleaved on both topics, both ways: each payload must arrive on its own topic only.
      for (let round = 0; round < 3; round += 1) {
        await transfer(a, firstLink.onA, b, request(ctx.nextId('first')), { expectPeer: firstLink.onB });
        await transfer(bOther, otherLink.onB, aOther, request(ctx.nextId('other')), { expectPeer: otherLink.onA });
        await transfer(b, firstLink.onB, a, request(ctx.nextId('first')), { expectPeer: firstLink.onA });
        await transfer(aOther, otherLink.onA, bOther, request(ctx.nextId('other')), { expectPeer: otherLink.onB });
      }
      for (const probe of [a, b, aOther, bOther]) {
        const wrong = heard(probe, marks.get(probe)).filter((id) => !id.startsWith(probe.topic === other ? 'other-' : 'first-'));
        check(wrong.length === 0, () => `${probe.name}: received ${preview(wrong)}, sent on the other topic`);
      }
      check(bAlone.values('connect$').length === 0, `${bAlone.name}: connect$ fired on a topic no other peer joined`);
      for (const probe of [a, aOther]) check(probe.livePeers.length === 1, `${probe.name}: ${probe.livePeers.length} live peers; ${b.name} is the only other one`);
    },
  },
  {
    name: 'a creator called twice for one topic gives two working peers',
    async run(ctx) {
      const a = await ctx.open();
      // RxDB calls a creator once per database and collection, and one creator may serve two
      // databases on one topic; a creator bound to one identity (a fixed peer id or key) may
      // refuse the second instead, with ERR_ID_TAKEN.
      const second = await ctx.reopen(a).catch((error: unknown) => {
        if (isCode(error, P2PErrorCode.ID_TAKEN)) return undefined;
        throw error;
      });
      if (second === undefined) return;
      const c = await ctx.open();
      await mesh([a, second, c]);
      const directory = await identify([a, second, c]);
      const [cSeesA, cSeesSecond] = [directory.get(c)?.get(a), directory.get(c)?.get(second)];
      const secondSeesC = directory.get(second)?.get(c);
      check(cSeesA !== undefined && cSeesSecond !== undefined && secondSeesC !== undefined, 'identify() left a peer unnamed');
      check(cSeesA !== cSeesSecond, `${c.name}: ${a.name} and ${second.name} came as one peer object`);
      check(cSeesA.id !== cSeesSecond.id, `${c.name}: ${a.name} and ${second.name} share the id ${preview(cSeesA.id)}`);
      // Closing one must not take the other down with it (they came from one creator).
      const markC = c.mark();
      await a.close();
      await c.next('disconnect$', { after: markC, where: (peer) => peer === cSeesA, what: `for ${a.name} after its close()`, timeoutMs: ctx.caps.disconnectTimeoutMs });
      await roundTrip(second, secondSeesC, c, cSeesSecond, (prefix) => ctx.nextId(prefix), ctx.caps.timeoutMs);
      check(c.livePeers.includes(cSeesSecond), `${c.name}: ${second.name} disconnected when ${a.name} closed`);
    },
  },
]);
