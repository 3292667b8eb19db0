/**
 * What the Nostr handler costs a relay: the events each peer publishes to form a pair, and
 * afterwards only the backed-off presence repeats (the pair's connect time is the benchmark's
 * P1 row).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { getConnectionHandlerNostr } from '../handlers/nostr/client.js';
import { DEFAULT_KIND, PRESENCE_TAG } from '../handlers/nostr/protocol.js';
import { startNostrRelay } from '../handlers/nostr/relay/index.js';
import { ANNOUNCE_REPEATS_MS } from '../src/kit/presence.js';
import { next, until } from './helpers/wait.js';

test('a pair forms with a few events each, then only presence repeats reach the relay', async () => {
  const relay = await startNostrRelay();
  const spy = new WebSocket(relay.url);
  const seen: { pubkey: string; presence: boolean; at: number }[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      spy.once('open', () => resolve());
      spy.once('error', reject);
    });
    const subscribed = new Promise<void>((resolve) => spy.once('message', () => resolve()));
    spy.on('message', (data) => {
      const [type, , event] = JSON.parse(String(data));
      if (type !== 'EVENT') return;
      seen.push({ pubkey: event.pubkey, presence: event.tags.some((tag: string[]) => tag[0] === 't' && tag[1] === PRESENCE_TAG), at: Date.now() });
    });
    spy.send(JSON.stringify(['REQ', 'spy', { kinds: [DEFAULT_KIND] }]));
    await subscribed; // EOSE: the spy hears everything from now on
    const options = { relays: [relay.url], config: { iceServers: [] } };
    const [a, b] = await Promise.all([getConnectionHandlerNostr(options)({ topic: 'traffic-topic' }), getConnectionHandlerNostr(options)({ topic: 'traffic-topic' })]);
    await Promise.all([next(a.connect$, 'A connect$'), next(b.connect$, 'B connect$')]);
    const connectedAt = Date.now();
    const formation = [a.peerId, b.peerId].map((id) => seen.filter((event) => event.pubkey === id && event.at <= connectedAt).length);
    // Past the last backed-off repeat. A trickled candidate sent before the channel opened may
    // reach the spy after connect$, so the verdict counts each kind over the whole run rather
    // than splitting it at the moment of connect$.
    const quietAfter = ANNOUNCE_REPEATS_MS[ANNOUNCE_REPEATS_MS.length - 1]! + 1_000;
    await until(() => Date.now() - connectedAt > quietAfter, 'the repeats being over', quietAfter + 2_000);
    const published = [a.peerId, b.peerId].map((id) => seen.filter((event) => event.pubkey === id));
    await Promise.all([a.close(), b.close()]);

    const signals = published.map((events) => events.filter((event) => !event.presence).length);
    const presences = published.map((events) => events.filter((event) => event.presence).length);
    console.log(`events published per peer until connect$: ${formation.join(' and ')}; over the whole ${quietAfter / 1000 + 1} s: ${signals.join(' and ')} signals, ${presences.join(' and ')} presences`);
    for (const count of formation) assert.ok(count >= 1 && count <= 6, `${count} events to form a pair`);
    for (const count of signals) assert.ok(count >= 1 && count <= 5, `${count} signals for one pair: no signaling after the pair formed`);
    for (const count of presences) assert.ok(count <= 1 + ANNOUNCE_REPEATS_MS.length, `${count} presences: the first and its backed-off repeats only`);
  } finally {
    spy.terminate();
    await relay.close();
  }
});

test.run();
