/**
 * What the Nostr handler costs on the embedded relay: how fast a pair connects, and how many
 * events each peer publishes to form it and afterwards. Prints the figures; the bounds are
 * loose on purpose (shared CI machines), the README states the measured values.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { getConnectionHandlerNostr } from '../handlers/nostr/client.js';
import { DEFAULT_KIND, PRESENCE_TAG } from '../handlers/nostr/protocol.js';
import { startNostrRelay } from '../handlers/nostr/relay/index.js';
import { ANNOUNCE_REPEATS_MS } from '../src/kit/presence.js';
import { next, until } from './helpers/wait.js';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

test('a pair connects fast and then goes quiet on the relay', async () => {
  const relay = await startNostrRelay();
  const spy = new WebSocket(relay.url);
  const seen: { pubkey: string; presence: boolean; at: number }[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      spy.once('open', () => resolve());
      spy.once('error', reject);
    });
    spy.on('message', (data) => {
      const [type, , event] = JSON.parse(String(data));
      if (type !== 'EVENT') return;
      seen.push({ pubkey: event.pubkey, presence: event.tags.some((tag: string[]) => tag[0] === 't' && tag[1] === PRESENCE_TAG), at: Date.now() });
    });
    spy.send(JSON.stringify(['REQ', 'spy', { kinds: [DEFAULT_KIND] }]));
    // Warm-up: the first handler pays for loading WebRTC and the curve tables.
    const warm = await getConnectionHandlerNostr({ relays: [relay.url], config: { iceServers: [] } })({ topic: 'warm-up-topic' });
    await warm.close();

    const times: number[] = [];
    let formation: number[] = [];
    let lastPair: { a: string; b: string; connectedAt: number; close: () => Promise<unknown> } | undefined;
    for (let round = 0; round < 10; round++) {
      const topic = `figures-topic-${round}`;
      const options = { relays: [relay.url], config: { iceServers: [] } };
      const started = performance.now();
      const [a, b] = await Promise.all([getConnectionHandlerNostr(options)({ topic }), getConnectionHandlerNostr(options)({ topic })]);
      await Promise.all([next(a.connect$, 'A connect$'), next(b.connect$, 'B connect$')]);
      times.push(performance.now() - started);
      const connectedAt = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 20));
      formation = [a.peerId, b.peerId].map((id) => seen.filter((event) => event.pubkey === id && event.at <= connectedAt).length);
      if (round < 9) await Promise.all([a.close(), b.close()]);
      else lastPair = { a: a.peerId, b: b.peerId, connectedAt, close: () => Promise.all([a.close(), b.close()]) };
    }
    const pair = lastPair!;
    // Past the last backed-off repeat: everything published after forming the pair.
    const quietAfter = ANNOUNCE_REPEATS_MS[ANNOUNCE_REPEATS_MS.length - 1]! + 1_000;
    await until(() => Date.now() - pair.connectedAt > quietAfter, 'the repeats being over', quietAfter + 2_000);
    const after = [pair.a, pair.b].map((id) => seen.filter((event) => event.pubkey === id && event.at > pair.connectedAt));
    await pair.close();

    console.log(`figures: pair connect on the embedded relay, median ${median(times).toFixed(0)} ms (min ${Math.min(...times).toFixed(0)}, max ${Math.max(...times).toFixed(0)}) over ${times.length}`);
    console.log(`figures: events published per peer to form the pair: ${formation.join(' and ')}`);
    console.log(`figures: events per peer in the ${quietAfter / 1000} s after: ${after.map((events) => events.length).join(' and ')} (presence repeats only)`);
    assert.ok(median(times) < 1_000, `median pair connect ${median(times)} ms`);
    for (const count of formation) assert.ok(count <= 6, `${count} events to form a pair`);
    for (const events of after) {
      assert.ok(events.every((event) => event.presence), 'only presence after the pair formed');
      assert.ok(events.length <= ANNOUNCE_REPEATS_MS.length, `${events.length} events after the pair formed`);
    }
  } finally {
    spy.terminate();
    await relay.close();
  }
});

test.run();
