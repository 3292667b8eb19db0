/**
 * The Nostr transport on its own, against a hostile relay that forwards anything: what a
 * peer hears from the room is exactly what verified, fresh, correctly addressed events say.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encrypt, getConversationKey } from 'nostr-tools/nip44';
import { P2PErrorCode, isP2PError } from '../src/errors.js';
import { PRESENCE_TAG } from '../handlers/nostr/protocol.js';
import { startHostileRelay, type HostileRelay } from './fixtures/nostr-hostile-relay.js';
import { until } from './helpers/wait.js';
import { ManualClock, attackerKey, craftEvent, leaveAll, member, quietFor, type Call } from './fixtures/nostr-members.js';

let hostile: HostileRelay | undefined;

async function hostileRelay(): Promise<HostileRelay> {
  hostile = await startHostileRelay();
  return hostile;
}

test.after.each(async () => {
  await leaveAll();
  await hostile?.close();
  hostile = undefined;
});

const isSignal = (from: string) => (call: Call) => call.kind === 'signal' && call.peerId === from;
const isError = (code: string) => (call: Call) => call.kind === 'error' && isP2PError(call.error, code as never);
const signalsFrom = (calls: Call[], from: string) => calls.filter(isSignal(from));
const errors = (calls: Call[]) => calls.filter((call) => call.kind === 'error');

/** A signal from `a` to `b`, and the event that carried it through `relay`. */
async function genuineSignal(relay: HostileRelay, a: Awaited<ReturnType<typeof member>>, b: Awaited<ReturnType<typeof member>>) {
  const heard = b.waitFor('B hears A’s signal', isSignal(a.publicKey));
  await a.transport.send(b.publicKey, { hello: 'b' });
  await heard;
  const event = relay.published.find((published) => published.pubkey === a.publicKey && published.tags.some((tag: string[]) => tag[0] === 'p'));
  assert.ok(event, 'the signal went through the relay');
  return event!;
}

test('presence, signals and goodbyes become peerJoined, signal and peerLeft, from the verified author', async () => {
  const relay = await hostileRelay();
  const a = await member(relay.url);
  const aHearsB = a.waitFor('A hears B join', (call) => call.kind === 'joined');
  const b = await member(relay.url);
  assert.equal(await aHearsB, { kind: 'joined', peerId: b.publicKey });
  const bHears = b.waitFor('B hears A’s signal', isSignal(a.publicKey));
  await a.transport.send(b.publicKey, { type: 'probe', n: 1 });
  assert.equal(await bHears, { kind: 'signal', peerId: a.publicKey, signal: { type: 'probe', n: 1 } });
  const aHearsLeave = a.waitFor('A hears B leave', (call) => call.kind === 'left');
  await b.transport.leave();
  assert.equal(await aHearsLeave, { kind: 'left', peerId: b.publicKey });
  assert.is(a.calls.filter((call) => 'peerId' in call && call.peerId === a.publicKey).length, 0, 'A never hears its own echo');
  assert.equal(errors(a.calls), []);
});

test('signals sent together travel as one event, in order, once per receiver', async () => {
  const relay = await hostileRelay();
  const a = await member(relay.url);
  const b = await member(relay.url);
  const before = relay.published.length;
  const third = b.waitFor('B hears the third signal', (call) => call.kind === 'signal' && (call.signal as { n?: number }).n === 3);
  await Promise.all([1, 2, 3].map((n) => a.transport.send(b.publicKey, { n })));
  await third;
  assert.equal(signalsFrom(b.calls, a.publicKey).map((call) => (call as { signal: unknown }).signal), [{ n: 1 }, { n: 2 }, { n: 3 }]);
  assert.is(relay.published.length - before, 1, 'one event for the three signals');
});

test('a replayed event is ignored', async () => {
  const relay = await hostileRelay();
  const a = await member(relay.url);
  const b = await member(relay.url);
  const event = await genuineSignal(relay, a, b);
  relay.push(event);
  relay.push(event);
  await quietFor(300);
  assert.is(signalsFrom(b.calls, a.publicKey).length, 1, 'delivered once');
  assert.equal(errors(b.calls), []);
});

test('a validly signed event older than the freshness window is ignored', async () => {
  const relay = await hostileRelay();
  const clock = new ManualClock();
  const b = await member(relay.url);
  // A's clock says it is two minutes ago: its events are stale for B.
  await clock.advance(-120_000);
  const a = await member(relay.url, { clock });
  const sent = a.transport.send(b.publicKey, { stale: true });
  await clock.advance(1);
  await sent;
  await relay.publishedCount(3);
  await quietFor(300);
  assert.equal(b.calls.filter((call) => call.kind !== 'error' && 'peerId' in call && call.peerId === a.publicKey), []);
  assert.equal(errors(b.calls), []);
});

test('a bad signature, altered content or a forged id are reported once as ERR_UNAUTHORIZED and never delivered', async () => {
  const relay = await hostileRelay();
  const a = await member(relay.url);
  const b = await member(relay.url);
  // The relay keeps A's signal to itself, so B first sees only the forgeries made from it.
  relay.forward = false;
  await a.transport.send(b.publicKey, { genuine: true });
  await relay.publishedCount(3);
  const event = relay.published[2]!;
  const flip = (hex: string) => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
  const forgeries = [
    { ...event, sig: flip(event.sig) },
    { ...event, content: event.content.slice(0, -4) + 'AAA=' },
    { ...event, id: flip(event.id) },
  ];
  for (const forged of forgeries) {
    const reported = b.waitFor('B reports the forgery', isError(P2PErrorCode.UNAUTHORIZED));
    relay.push(forged);
    relay.push(forged);
    await reported;
  }
  const genuine = b.waitFor('B hears the genuine signal', isSignal(a.publicKey));
  relay.push(event);
  assert.equal(await genuine, { kind: 'signal', peerId: a.publicKey, signal: { genuine: true } });
  await quietFor(300);
  assert.is(errors(b.calls).length, forgeries.length, 'one error per forgery, not per copy');
  assert.is(signalsFrom(b.calls, a.publicKey).length, 1, 'only the genuine signal was delivered');
});

test('an event whose claimed sender is not its author is refused', async () => {
  const relay = await hostileRelay();
  const a = await member(relay.url);
  const b = await member(relay.url);
  const mallory = attackerKey();
  const body = { v: 1, type: 'signal', from: a.publicKey, to: b.publicKey, signals: [{ evil: true }] };
  const content = encrypt(JSON.stringify(body), getConversationKey(mallory.secretKey, b.publicKey));
  const reported = b.waitFor('B refuses the impersonation', isError(P2PErrorCode.UNAUTHORIZED));
  relay.push(craftEvent(mallory.secretKey, [['x', b.roomTag], ['p', b.publicKey]], content));
  const error = await reported;
  assert.ok(error.kind === 'error' && error.error.peerId === mallory.publicKey, 'the error names the real author');
  await quietFor(200);
  assert.equal(b.calls.filter((call) => call.kind === 'signal'), []);
});

test('hostile but validly signed events and relay junk become typed errors; the transport keeps working', async () => {
  const relay = await hostileRelay();
  const a = await member(relay.url);
  const b = await member(relay.url);
  const mallory = attackerKey();
  const addressed = [['x', b.roomTag], ['p', b.publicKey]];
  const junk = [
    craftEvent(mallory.secretKey, addressed, 'not nip44 at all'),
    craftEvent(mallory.secretKey, addressed, encrypt('{"v":2}', getConversationKey(mallory.secretKey, b.publicKey))),
    craftEvent(mallory.secretKey, addressed, encrypt('no json', getConversationKey(mallory.secretKey, b.publicKey))),
    craftEvent(mallory.secretKey, [['x', b.roomTag], ['t', PRESENCE_TAG]], '{"v":1,"type":"party","from":"x"}'),
  ];
  for (const event of junk) {
    const reported = b.waitFor('B reports a junk event', (call) => call.kind === 'error' && typeof call.error.code === 'string');
    relay.push(event);
    await reported;
  }
  for (const text of ['not json', '{"an":"object"}', '["EVENT"]', '["NOTICE","slow down"]']) {
    const reported = b.waitFor(`B reports ${text}`, isError(P2PErrorCode.SIGNALING));
    relay.pushRaw(text);
    await reported;
  }
  const malformed = b.waitFor('B reports a malformed event', isError(P2PErrorCode.SIGNALING));
  relay.push({ id: 1, content: null });
  await malformed;
  // Another room's and another receiver's events are not ours: dropped without a word.
  const before = errors(b.calls).length;
  relay.push(craftEvent(mallory.secretKey, [['x', 'f'.repeat(64)], ['p', b.publicKey]], 'x'));
  relay.push(craftEvent(mallory.secretKey, [['x', b.roomTag], ['p', a.publicKey]], 'x'));
  await genuineSignal(relay, a, b);
  assert.is(errors(b.calls).length, before);
  assert.ok(!b.calls.some((call) => call.kind === 'lost'));
});

test('an intruder who copied the room tag but lacks the secret is refused', async () => {
  const relay = await hostileRelay();
  const a = await member(relay.url, { secret: 'right secret' });
  const refused = a.waitFor('A refuses the intruder', isError(P2PErrorCode.UNAUTHORIZED));
  // Same tag as the room, so the relay delivers; the sealed body cannot be opened.
  const intruder = await member(relay.url, { secret: 'wrong secret', roomTag: a.roomTag });
  await refused;
  const sent = intruder.transport.send(a.publicKey, { offer: 'evil' });
  await sent;
  await quietFor(300);
  assert.equal(a.calls.filter((call) => call.kind === 'joined' || call.kind === 'signal'), []);
  const b = await member(relay.url, { secret: 'right secret' });
  const heard = b.waitFor('B hears A', isSignal(a.publicKey));
  await a.transport.send(b.publicKey, { ok: true });
  await heard;
});

test('a relay that refuses the announcement fails the join with ERR_SIGNALING; a dead one too', async () => {
  const relay = await hostileRelay();
  relay.refuse = 'blocked: not on the list';
  const a = await member(relay.url, { join: false });
  const refusal = await a.join().then(() => undefined, (error: unknown) => error);
  assert.ok(isP2PError(refusal, P2PErrorCode.SIGNALING), `refused join: ${String(refusal)}`);
  assert.match((refusal as Error).message, /blocked: not on the list/);
  const url = relay.url;
  await relay.close();
  hostile = undefined;
  const b = await member(url, { join: false });
  const down = await b.join().then(() => undefined, (error: unknown) => error);
  assert.ok(isP2PError(down, P2PErrorCode.SIGNALING), `join of a dead relay: ${String(down)}`);
});

test('a relay going away is reported through lost(), once', async () => {
  const relay = await hostileRelay();
  const a = await member(relay.url);
  const lost = a.waitFor('A loses the relay', (call) => call.kind === 'lost');
  relay.dropAll();
  const call = await lost;
  assert.ok(call.kind === 'lost' && call.error.code === P2PErrorCode.SIGNALING);
  await quietFor(100);
  assert.is(a.calls.filter((entry) => entry.kind === 'lost').length, 1);
});

test('announcements back off to one per interval, and a peer silent for three intervals is dropped', async () => {
  const relay = await hostileRelay();
  const clock = new ManualClock();
  const a = await member(relay.url, { clock, announceIntervalMs: 60_000 });
  const heard = a.waitFor('A hears B', (call) => call.kind === 'joined');
  const b = await member(relay.url);
  await heard;
  const presences = () => relay.published.filter((event) => event.pubkey === a.publicKey).length;
  assert.is(presences(), 1, 'one announcement at join');
  const expected = [
    [500, 2],
    [1_500, 3],
    [6_000, 4],
    [60_000, 5],
    [60_000, 6],
  ] as const;
  for (const [ms, count] of expected) {
    await clock.advance(ms);
    await until(() => presences() >= count, `announcement ${count}`, 2_000);
    assert.is(presences(), count, `${count} announcements after ${ms} ms more`);
  }
  const dropped = a.waitFor('A drops silent B', (call) => call.kind === 'left');
  await clock.advance(4 * 60_000);
  assert.equal(await dropped, { kind: 'left', peerId: b.publicKey });
  await until(() => presences() >= 10, 'announcement 10', 2_000);
  await quietFor(200);
  assert.is(presences(), 10, 'then one per minute');
});

test.run();
