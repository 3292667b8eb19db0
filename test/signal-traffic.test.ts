/**
 * How many signals the mesh core spends on a link: the offer carries its first ICE candidates,
 * the answer's come batched, and on a transport whose roster is shared the side that does not offer sends
 * no hello when the offer comes in time. Real WebRTC (@roamhq/wrtc) over the in-process bus.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createWebRTCMeshHandler, simulateCrash, type WebRTCMeshHandler } from '../src/mesh/mesh.js';
import { SignalingBus } from './helpers/signaling-bus.js';
import { next } from './helpers/wait.js';

const config = { iceServers: [] };
const opened: WebRTCMeshHandler[] = [];

async function handler(bus: SignalingBus, topic: string, peerId: string, extra: Record<string, unknown> = {}, sharedRoster = false): Promise<WebRTCMeshHandler> {
  const created = await createWebRTCMeshHandler({ signaling: bus.transport({ sharedRoster }), topic, peerId, config, ...extra });
  opened.push(created);
  return created;
}

/** Two peers, `aaaa` offering; resolves once both saw connect$. */
async function pair(bus: SignalingBus, topic: string, extra: Record<string, unknown> = {}, sharedRoster = false): Promise<void> {
  const a = await handler(bus, topic, 'aaaa', extra, sharedRoster);
  const connected = next(a.connect$, 'A connect$', 20_000);
  const b = await handler(bus, topic, 'bbbb', extra, sharedRoster);
  await Promise.all([connected, next(b.connect$, 'B connect$', 20_000).catch(() => undefined)]);
}

const rtc = (bus: SignalingBus, from: string, type: string) => bus.log.filter((entry) => entry.from === from && entry.signal?.type === 'rtc' && entry.signal.data?.type === type);
const hellos = (bus: SignalingBus) => bus.log.filter((entry) => entry.signal?.type === 'hello');
const candidateLines = (sdp: string) => sdp.split(/\r?\n/).filter((line) => line.startsWith('a=candidate:'));

test.after.each(async () => {
  await Promise.allSettled(opened.splice(0).map((h) => h.close()));
});

test('the offer carries its first ICE candidates; none a description listed is sent again', async () => {
  const bus = new SignalingBus();
  await pair(bus, 'bundled');
  for (const [from, type] of [['aaaa', 'offer'], ['bbbb', 'answer']] as const) {
    const [description, ...more] = rtc(bus, from, type);
    assert.ok(description, `${from} sent an ${type}`);
    assert.is(more.length, 0, `one ${type}`);
    const lines = candidateLines(description.signal.data.sdp);
    // The answer leaves at once (the offerer waits for it); its candidates follow in batches.
    if (type === 'offer') assert.ok(lines.length > 0, `the offer lists candidates: ${description.signal.data.sdp}`);
    // Candidates found after it (libwebrtc's TCP ones, ~100 ms on) may follow, but none it listed.
    const later = [...rtc(bus, from, 'candidate').map((e) => e.signal.data.candidate), ...rtc(bus, from, 'candidates').flatMap((e) => e.signal.data.candidates)];
    for (const candidate of later) assert.not.ok(lines.some((line) => line.includes(candidate.candidate.replace(/^a=/, ''))), `sent twice: ${candidate.candidate}`);
  }
});

test('iceGatheringWaitMs: 0 sends the description at once and every candidate on its own', async () => {
  const bus = new SignalingBus();
  await pair(bus, 'trickled', { iceGatheringWaitMs: 0 });
  assert.is(rtc(bus, 'aaaa', 'offer').length, 1);
  // The first burst (UDP host candidates), which a bundled offer would have carried, is trickled.
  const trickled = rtc(bus, 'aaaa', 'candidate').map((entry) => entry.signal.data.candidate.candidate);
  assert.ok(trickled.some((candidate) => / udp /i.test(candidate)), `UDP candidates trickled: ${JSON.stringify(trickled)}`);
  assert.is(rtc(bus, 'aaaa', 'candidates').length, 0, 'no batches either');
});

test('iceGatheringWaitMs must be a number ≥ 0', async () => {
  const bus = new SignalingBus();
  for (const bad of [-1, Number.NaN, '5', Infinity]) {
    const error = await createWebRTCMeshHandler({ signaling: bus.transport(), topic: 't', iceGatheringWaitMs: bad as number }).then(() => undefined, (e) => e);
    assert.is(error?.code, 'ERR_INVALID_OPTION', String(bad));
  }
});

test('a presence-only transport: the side that does not offer says hello at once', async () => {
  const bus = new SignalingBus();
  await pair(bus, 'hello-at-once');
  assert.is(hellos(bus).length, 1);
  assert.is(hellos(bus)[0]!.from, 'bbbb');
});

test('a shared roster: no hello when the offer comes in time', async () => {
  const bus = new SignalingBus();
  await pair(bus, 'no-hello', {}, true);
  assert.is(hellos(bus).length, 0, JSON.stringify(hellos(bus)));
});

test('a shared roster: a restarted peer that does not offer still replaces its stale self (RxDB #5342)', async () => {
  const bus = new SignalingBus();
  const slow = { peerTimeoutMs: 60_000, heartbeatIntervalMs: 30_000 };
  const a = await handler(bus, 'restart', 'aaaa', {}, true);
  const first = next(a.connect$, 'A connect$', 20_000);
  const oldB = await handler(bus, 'restart', 'bbbb', slow, true);
  const stale = await first;
  // The old B vanishes unseen: the initiator keeps its link and has no reason to offer again.
  bus.lose = () => true;
  await oldB[simulateCrash]();
  bus.lose = () => false;
  const gone = next(a.disconnect$, 'A disconnect$ of the stale B', 10_000);
  const again = next(a.connect$, 'A connect$ of the new B', 10_000);
  await handler(bus, 'restart', 'bbbb', slow, true);
  assert.is(await gone, stale);
  assert.is((await again).id, 'bbbb');
  assert.ok(hellos(bus).some((entry) => entry.from === 'bbbb'), 'the hello went out after the grace');
});

test.run();
