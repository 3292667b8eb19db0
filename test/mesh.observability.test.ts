/**
 * Quiet by default, observable on demand: the trace namespaces tell a pairing's story without
 * payloads or SDP, candidates that reach a closed connection print nothing, and a link that
 * never connects says why.
 */
import createDebug from 'debug';
import { format } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createWebRTCMeshHandler, type WebRTCMeshHandler } from '../src/mesh/mesh.js';
import type { P2PError } from '../src/errors.js';
import { RtcFactory } from '../src/mesh/rtc-factory.js';
import { peerConnectionOf } from '../src/mesh/simple-peer-internals.js';
import { systemClock } from '../src/mesh/timers.js';
import { SignalingBus } from './helpers/signaling-bus.js';
import { next } from './helpers/wait.js';
import wrtc from '@roamhq/wrtc';

const config = { iceServers: [] };
const opened: WebRTCMeshHandler[] = [];

test.after.each(async () => {
  await Promise.allSettled(opened.splice(0).map((handler) => handler.close()));
});

async function handler(bus: SignalingBus, topic: string, extra: Record<string, unknown> = {}): Promise<WebRTCMeshHandler> {
  const created = await createWebRTCMeshHandler({ signaling: bus.transport(), topic, config, ...extra });
  opened.push(created);
  return created;
}

/** Runs `body` with the p2p-handlers namespaces on, collecting their lines instead of printing them. */
async function traced(body: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const [namespaces, log] = [createDebug.disable(), createDebug.log];
  createDebug.enable('p2p-handlers:*');
  createDebug.log = (...args: unknown[]) => lines.push(format(...args));
  try {
    await body();
  } finally {
    createDebug.log = log;
    createDebug.enable(namespaces);
  }
  return lines;
}

test('the trace tells a pairing and a message by namespace, without payload or SDP', async () => {
  const bus = new SignalingBus();
  const secret = 'payload-that-must-not-be-traced';
  const lines = await traced(async () => {
    const a = await handler(bus, 'traced-topic', { peerId: 'aaaa' });
    const b = await handler(bus, 'traced-topic', { peerId: 'bbbb' });
    const [onA] = await Promise.all([next(a.connect$, 'A connect$'), next(b.connect$, 'B connect$')]);
    const received = next(b.message$, 'B message$');
    await a.send(onA, { id: '1', method: 'echo', params: [secret] });
    await received;
  });
  const text = lines.join('\n');
  for (const namespace of ['signaling', 'link', 'frame']) {
    assert.ok(text.includes(`p2p-handlers:${namespace}`), `nothing on p2p-handlers:${namespace}:\n${text}`);
  }
  for (const story of ['aaaa joined traced-topic', 'aaaa hears of bbbb', 'aaaa opens link #1 to bbbb as initiator', 'aaaa sends offer to bbbb', 'bbbb sends answer to aaaa', 'aaaa has link #1 to bbbb open', 'aaaa admits bbbb into traced-topic']) {
    assert.ok(text.includes(story), `"${story}" is not in the trace:\n${text}`);
  }
  assert.not.ok(text.includes(secret), 'a payload reached the trace');
  assert.not.ok(/a=candidate|v=0|ice-ufrag/.test(text), 'SDP reached the trace');
});

test('the trace is silent unless enabled', async () => {
  const bus = new SignalingBus();
  const lines: string[] = [];
  const [namespaces, log] = [createDebug.disable(), createDebug.log];
  createDebug.log = (...args: unknown[]) => lines.push(format(...args));
  try {
    const a = await handler(bus, 'quiet-topic');
    const b = await handler(bus, 'quiet-topic');
    await Promise.all([next(a.connect$, 'A connect$'), next(b.connect$, 'B connect$')]);
  } finally {
    createDebug.log = log;
    createDebug.enable(namespaces);
  }
  assert.equal(lines, []);
});

test('a candidate still being added when the link closes is dropped without a console warning', async () => {
  const factory = new RtcFactory({ wrtc: wrtc as never, config, clock: systemClock });
  const offerer = new wrtc.RTCPeerConnection(config);
  const rtc = factory.create(false);
  const warnings: unknown[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args);
  try {
    offerer.createDataChannel('x');
    const offer = await offerer.createOffer();
    await offerer.setLocalDescription(offer);
    const pc = peerConnectionOf(rtc)!;
    await pc.setRemoteDescription(offer);
    const candidate = { candidate: 'candidate:1 1 udp 2122194687 127.0.0.1 9 typ host generation 0', sdpMLineIndex: 0, sdpMid: '0' };
    // The closed connection refuses the candidate; unwrapped, this rejects and simple-peer warns.
    const adding = pc.addIceCandidate(candidate);
    pc.close();
    await adding;
    rtc.destroy();
  } finally {
    console.warn = warn;
    offerer.close();
    factory.dispose();
  }
  assert.equal(warnings, []);
});

test('a link that signals but finds no candidate pair says why, naming TURN', async () => {
  const bus = new SignalingBus();
  // Relay candidates only, and no TURN server to get one from: offer and answer pass, no address does.
  const noRoute = { config: { iceServers: [], iceTransportPolicy: 'relay' as const }, connectTimeoutMs: 3_000 };
  const a = await handler(bus, 'no-pair', { peerId: 'aaaa', ...noRoute });
  const failure = next(a.error$, 'A error$ for the link that never connects');
  await handler(bus, 'no-pair', { peerId: 'bbbb', ...noRoute });
  const error = (await failure) as P2PError;
  assert.is(error.code, 'ERR_TIMEOUT');
  assert.match(error.message, /no ICE candidate pair worked/);
  assert.match(error.message, /TURN/);
});

test.run();
