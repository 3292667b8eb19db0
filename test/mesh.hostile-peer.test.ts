/**
 * A malicious peer on the data channel: raw simple-peer/@roamhq/wrtc peers (test/helpers/
 * raw-peer.ts) complete signaling with a mesh handler and then write a seeded corpus of bad
 * frames (random bytes, truncated headers, unknown types, chunk headers claiming GiBs,
 * never-finished chunk sequences, interleaved channels, JOIN/LEAVE floods for unknown topics,
 * more channels than allowed). Each is dropped with a coded error on error$, an honest peer of
 * the same handler keeps working throughout, and the handler's process memory stays bounded.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { P2PErrorCode, type P2PError } from '../src/errors.js';
import { FrameType, encodeMessage } from '../src/mesh/framing.js';
import { createWebRTCMeshHandler, type WebRTCMeshHandler } from '../src/mesh/mesh.js';
import type { P2PPeer } from '../src/types.js';
import { DEFAULT_SEED, dataChannelCorpus } from './helpers/hostile-frames.js';
import { exchange, mib, settledMemory, watchEscapes, within } from './helpers/hostile-checks.js';
import { RawPeer } from './helpers/raw-peer.js';
import { SignalingBus } from './helpers/signaling-bus.js';
import { next, until } from './helpers/wait.js';

const TOPIC = 'hostile-datachannel-topic';
const fast = { config: { iceServers: [] }, heartbeatIntervalMs: 300, peerTimeoutMs: 1_500, reconnectMinDelayMs: 50, reconnectMaxDelayMs: 400 };
/** A generous maxMessageBytes (four times the default), so chunk headers may announce up to 64 MiB. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** Heap growth allowed after every hostile link is gone. */
const HEAP_BOUND_BYTES = 8 * 1024 * 1024;
const DROP_CODES: readonly string[] = [P2PErrorCode.PROTOCOL, P2PErrorCode.PAYLOAD_TOO_LARGE];

const opened: WebRTCMeshHandler[] = [];

/** Writes frames with the channel's back-pressure (an SCTP buffer overrun would close it); stops once the link is gone. */
async function sendAll(raw: RawPeer, frames: readonly Uint8Array[]): Promise<number> {
  let sent = 0;
  for (const frame of frames) {
    const channel = (raw.rtc as unknown as { _channel?: RTCDataChannel } | undefined)?._channel;
    if (!channel || channel.readyState !== 'open') break;
    while (channel.bufferedAmount > 1024 * 1024 && channel.readyState === 'open') await new Promise((resolve) => setTimeout(resolve, 5));
    try {
      raw.send(frame);
      sent++;
    } catch {
      break;
    }
  }
  return sent;
}

/** Handler A ('aaaa', with `options`) linked to an honest handler B; each side's peer object for the other. */
async function aWithHonestPeer(bus: SignalingBus, options: Record<string, unknown>): Promise<{ a: WebRTCMeshHandler; honest: WebRTCMeshHandler; onA: P2PPeer; bSideA: P2PPeer }> {
  const a = await createWebRTCMeshHandler({ signaling: bus.transport(), topic: TOPIC, peerId: 'aaaa', ...fast, ...options });
  opened.push(a);
  // Its id sorts after the raw peers', so it waits for them to initiate (they never do) instead
  // of offering to them: a RawPeer answers one offerer only.
  const honestLinked = next(a.connect$, 'A connect$ of the honest peer', 20_000, (peer) => peer.id === 'zzzz-honest');
  const honest = await createWebRTCMeshHandler({ signaling: bus.transport(), topic: TOPIC, peerId: 'zzzz-honest', ...fast });
  opened.push(honest);
  const honestSeesA = next(honest.connect$, 'B connect$ of A', 20_000);
  return { a, honest, onA: await honestLinked, bSideA: await honestSeesA };
}

/** A raw peer joined to the topic and linked to `a`; resolves with the peer object `a` gave it. */
async function linkedRawPeer(bus: SignalingBus, a: WebRTCMeshHandler, id: string): Promise<{ raw: RawPeer; peer: P2PPeer; leave(): Promise<void> }> {
  const transport = bus.transport();
  const raw = new RawPeer(transport, id, `session-${id}`);
  const connected = next(a.connect$, `A connect$ of ${id}`, 20_000, (peer) => peer.id === id);
  const linkOpen = raw.connected();
  await raw.join(TOPIC);
  const peer = await connected;
  await within(linkOpen, 10_000, `the raw side of ${id} opening`);
  return { raw, peer, leave: () => transport.leave() };
}

test('a seeded corpus of bad frames: each malicious peer is dropped with a coded error, the honest peer keeps working, memory stays bounded', async () => {
  const escapes = watchEscapes();
  const bus = new SignalingBus();
  const raws: RawPeer[] = [];
  try {
    const { a, honest, onA, bSideA } = await aWithHonestPeer(bus, { maxMessageBytes: MAX_MESSAGE_BYTES });
    await exchange(a, onA, honest, 'A→B before the corpus');
    const honestDropped: P2PPeer[] = [];
    a.disconnect$.subscribe((peer) => peer === onA && honestDropped.push(peer));

    // A first malicious peer, so the baseline includes one made-and-dropped link.
    const warm = await linkedRawPeer(bus, a, 'zraw-warm');
    raws.push(warm.raw);
    const warmDropped = next(a.disconnect$, 'the warm-up raw peer dropped', 10_000, (peer) => peer === warm.peer);
    await sendAll(warm.raw, [Uint8Array.of(FrameType.CONTINUE, 1)]);
    await warmDropped;
    warm.raw.destroy();
    await warm.leave();
    const baseline = settledMemory();

    // Three seeds: every kind of bad frame three times, with different random content.
    const sessions = [0, 1, 2].flatMap((round) => dataChannelCorpus(DEFAULT_SEED + round, MAX_MESSAGE_BYTES));
    let frames = 0;
    const started = Date.now();
    for (const [index, session] of sessions.entries()) {
      const id = `zraw-${String(index).padStart(3, '0')}`;
      const { raw, peer, leave } = await linkedRawPeer(bus, a, id);
      raws.push(raw);
      const error = next(a.error$, `a coded error for "${session.kind}"`, 15_000, (e: P2PError) => e.peerId === id);
      const dropped = next(a.disconnect$, `the drop of the peer that sent "${session.kind}"`, 15_000, (p) => p === peer);
      frames += await sendAll(raw, session.messages);
      const reported = await error;
      assert.ok(DROP_CODES.includes(reported.code), `"${session.kind}": ${reported.code} ${reported.message}`);
      await dropped;
      raw.destroy();
      await leave();
      // The honest peer of the same handler, after every malicious one.
      await exchange(a, onA, honest, `A→B after "${session.kind}"`);
      await exchange(honest, bSideA, a, `B→A after "${session.kind}"`);
    }
    const corpusMs = Date.now() - started;

    // A chunk header announcing the largest allowed message, then silence: held only until the
    // heartbeat timeout drops the peer.
    const silent = await linkedRawPeer(bus, a, 'zraw-silent');
    raws.push(silent.raw);
    const timedOut = next(a.error$, 'ERR_TIMEOUT for the silent half-sent message', 15_000, (e: P2PError) => e.peerId === 'zraw-silent');
    await sendAll(silent.raw, [Uint8Array.of(FrameType.START, 0, 0, 0x04, 0, 0, 0, 1)]);
    const holding = process.memoryUsage();
    assert.is((await timedOut).code, P2PErrorCode.TIMEOUT);
    silent.raw.destroy();
    await silent.leave();

    await exchange(a, onA, honest, 'A→B after the corpus');
    assert.equal(honestDropped, [], 'the honest peer was dropped');
    const after = settledMemory();
    const growth = after.heapUsed - baseline.heapUsed;
    console.log(
      `hostile data channel: seed ${DEFAULT_SEED}, ${sessions.length} malicious peers, ${frames} frames (${[...new Set(sessions.map((s) => s.kind))].join('; ')}), ${corpusMs} ms; ` +
        `heap ${mib(baseline.heapUsed)} → ${mib(after.heapUsed)} (growth ${mib(growth)}, bound ${mib(HEAP_BOUND_BYTES)}); ` +
        `arrayBuffers ${mib(baseline.arrayBuffers)} → ${mib(holding.arrayBuffers)} while a peer held a 64 MiB chunk header → ${mib(after.arrayBuffers)}, RSS then ${mib(holding.rss)}`,
    );
    assert.ok(growth < HEAP_BOUND_BYTES, `heap grew by ${mib(growth)}`);
    assert.ok(after.arrayBuffers - baseline.arrayBuffers < HEAP_BOUND_BYTES, `array buffers grew by ${mib(after.arrayBuffers - baseline.arrayBuffers)}`);
    assert.equal(escapes.escaped, [], 'an error escaped as an unhandled rejection or exception');
  } finally {
    escapes.stop();
    for (const raw of raws) raw.destroy();
    await Promise.allSettled(opened.splice(0).map((handler) => handler.close()));
  }
});

test('half-sent messages from several peers hold at most maxReassemblyBytes together: the link that would pass it is dropped, the budget comes back', async () => {
  const escapes = watchEscapes();
  const bus = new SignalingBus();
  const raws: RawPeer[] = [];
  const MiB = 1024 * 1024;
  try {
    const baseline = settledMemory();
    const { a, honest, onA, bSideA } = await aWithHonestPeer(bus, { maxMessageBytes: 4 * MiB, maxReassemblyBytes: 8 * MiB });
    const limited: P2PError[] = [];
    a.error$.subscribe((error) => error.code === P2PErrorCode.LIMIT_EXCEEDED && limited.push(error));

    // Three peers each send 3 MiB of a 4 MiB message and stop: 4 MiB buffers each (the buffer
    // doubles), 12 MiB against a budget of 8. Whatever the order, one growth cannot fit.
    const oneLimited = next(a.error$, 'ERR_LIMIT_EXCEEDED for one half-sent message', 20_000, (e: P2PError) => e.code === P2PErrorCode.LIMIT_EXCEEDED);
    const frames = encodeMessage({ id: 'half', result: 'h'.repeat(4 * MiB - 64) }, 0, 4 * MiB);
    const partial = frames.slice(0, Math.ceil((frames.length * 3) / 4));
    const halfPeers: P2PPeer[] = [];
    for (const id of ['zraw-half-1', 'zraw-half-2', 'zraw-half-3']) {
      const linked = await linkedRawPeer(bus, a, id);
      raws.push(linked.raw);
      halfPeers.push(linked.peer);
      await sendAll(linked.raw, partial);
    }
    const gone = new Set<P2PPeer>();
    a.disconnect$.subscribe((peer) => gone.add(peer));
    const reported = await oneLimited;
    assert.ok(reported.peerId?.startsWith('zraw-half-'), `the error names ${String(reported.peerId)}`);
    const holding = process.memoryUsage();
    await exchange(a, onA, honest, 'A→B while two half-sent messages are held');
    assert.is(limited.length, 1, `one link passes the budget, got ${limited.map((e) => e.peerId).join(', ')}`);

    for (const raw of raws) raw.destroy();
    // Once A has seen them go, their buffers are back: a whole 3.5 MiB message fits again.
    await until(() => halfPeers.every((peer) => gone.has(peer)), 'A dropping the half-sending peers', 20_000);
    const big = { id: `big-${Date.now()}`, method: 'hostile.big', params: ['b'.repeat(3.5 * MiB)] };
    const arrived = next(a.message$, 'the honest 3.5 MiB message', 20_000, ({ message }) => message.id === big.id);
    await honest.send(bSideA, big);
    await arrived;
    assert.is(limited.length, 1, 'the honest message was refused');
    console.log(
      `reassembly budget: 3 peers × 3 MiB of 4 MiB messages against maxReassemblyBytes 8 MiB: ${limited[0]!.peerId} dropped (${limited[0]!.message}); ` +
        `arrayBuffers ${mib(baseline.arrayBuffers)} → ${mib(holding.arrayBuffers)} while held`,
    );
    assert.equal(escapes.escaped, [], 'an error escaped as an unhandled rejection or exception');
  } finally {
    escapes.stop();
    for (const raw of raws) raw.destroy();
    await Promise.allSettled(opened.splice(0).map((handler) => handler.close()));
  }
});

test.run();
