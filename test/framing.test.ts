import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FRAME_BYTES, FrameDecoder, FrameType, encodeGoodbye, encodeJoin, encodeLeave, encodeMessage, encodePing } from '../src/mesh/framing.js';
import { backoffDelay } from '../src/mesh/timers.js';
import { parseMeshSignal } from '../src/mesh/envelope.js';
import { P2PError } from '../src/errors.js';

const MiB = 1024 * 1024;

function roundTrip(payload: unknown, max = 64 * MiB): unknown {
  const decoder = new FrameDecoder(max);
  const frames = encodeMessage(payload, 7, max);
  let result: unknown = Symbol('none');
  frames.forEach((frame, index) => {
    assert.ok(frame.byteLength <= FRAME_BYTES, `frame ${index} is ${frame.byteLength} bytes`);
    const decoded = decoder.decode(frame);
    if (index < frames.length - 1) assert.is(decoded.kind, 'partial');
    else if (decoded.kind === 'message') {
      assert.is(decoded.channel, 7);
      result = decoded.payload;
    }
  });
  return result;
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return (error as P2PError).code;
  }
  return undefined;
}

test('small, boundary-sized and 16 MiB payloads round-trip intact', () => {
  for (const size of [0, 1, FRAME_BYTES - 20, FRAME_BYTES - 12, FRAME_BYTES - 11, FRAME_BYTES, FRAME_BYTES * 3 + 7, 16 * MiB]) {
    const payload = { id: 'x', result: 'é😀'.repeat(1) + 'a'.repeat(size) };
    assert.equal(roundTrip(payload), payload, `size ${size}`);
  }
});

test('falsy results and unicode survive', () => {
  for (const result of [null, 0, '', false, '\u2028\u2029', '𝄞 ✓ 漢字']) {
    assert.equal(roundTrip({ id: 'r', result }), { id: 'r', result });
  }
});

test('a 1 MiB message is split into frames of at most 16 KiB', () => {
  const frames = encodeMessage({ id: 'big', result: 'a'.repeat(MiB) }, 0, 64 * MiB);
  assert.ok(frames.length >= 64, `${frames.length} frames`);
  assert.is(frames[0]![0], FrameType.START);
  assert.ok(frames.slice(1).every((frame) => frame[0] === FrameType.CONTINUE));
});

test('unencodable and oversize payloads are refused with codes', () => {
  const cyclic: Record<string, unknown> = { id: 'c' };
  cyclic.self = cyclic;
  assert.is(codeOf(() => encodeMessage(cyclic, 0, MiB)), 'ERR_NOT_SERIALIZABLE');
  assert.is(codeOf(() => encodeMessage({ id: 1n }, 0, MiB)), 'ERR_NOT_SERIALIZABLE');
  assert.is(codeOf(() => encodeMessage({ id: 'x', result: 'a'.repeat(MiB) }, 0, MiB)), 'ERR_PAYLOAD_TOO_LARGE');
});

test('hostile frames throw typed errors and never allocate the announced size', () => {
  const header = (total: number) => {
    const frame = new Uint8Array(10);
    frame[0] = FrameType.START;
    new DataView(frame.buffer).setUint32(3, total);
    return frame;
  };
  const fresh = () => new FrameDecoder(MiB);
  assert.is(codeOf(() => fresh().decode(header(0xffffffff))), 'ERR_PAYLOAD_TOO_LARGE');
  assert.is(codeOf(() => fresh().decode(header(2))), 'ERR_PROTOCOL');
  assert.is(codeOf(() => fresh().decode(Uint8Array.of(FrameType.CONTINUE, 1, 2))), 'ERR_PROTOCOL');
  assert.is(codeOf(() => fresh().decode(Uint8Array.of(99, 1))), 'ERR_PROTOCOL');
  assert.is(codeOf(() => fresh().decode(new Uint8Array(0))), 'ERR_PROTOCOL');
  assert.is(codeOf(() => fresh().decode(Uint8Array.of(FrameType.WHOLE, 0, 0, 0xff, 0xfe))), 'ERR_PROTOCOL');
  assert.is(codeOf(() => fresh().decode(Uint8Array.of(FrameType.WHOLE, 0, 0, 0x7b))), 'ERR_PROTOCOL');
  assert.is(codeOf(() => fresh().decode(Uint8Array.of(FrameType.WHOLE, 0))), 'ERR_PROTOCOL');
  assert.is(codeOf(() => fresh().decode(Uint8Array.of(FrameType.JOIN, 0, 1))), 'ERR_PROTOCOL');
  assert.is(codeOf(() => fresh().decode(new Uint8Array(5000).fill(FrameType.JOIN))), 'ERR_PROTOCOL');
  assert.is(codeOf(() => fresh().decode(Uint8Array.of(FrameType.LEAVE, 0))), 'ERR_PROTOCOL');
  const overflow = fresh();
  overflow.decode(header(12));
  assert.is(codeOf(() => overflow.decode(new Uint8Array(20).fill(FrameType.CONTINUE))), 'ERR_PROTOCOL');
  const interleaved = fresh();
  interleaved.decode(header(100));
  assert.is(codeOf(() => interleaved.decode(header(100))), 'ERR_PROTOCOL');
  assert.is(codeOf(() => fresh().decode(encodePing())), undefined);
  assert.equal(fresh().decode(encodeGoodbye()), { kind: 'goodbye' });
  assert.is(codeOf(() => fresh().decode(Uint8Array.of(FrameType.GOODBYE, 0))), 'ERR_PROTOCOL');
});

test('a chunk header announcing the maximum holds only what has arrived', () => {
  const announce = (decoder: FrameDecoder) => {
    const frame = new Uint8Array(10);
    frame[0] = FrameType.START;
    new DataView(frame.buffer).setUint32(3, 64 * MiB);
    decoder.decode(frame);
  };
  const before = process.memoryUsage().arrayBuffers;
  // Eight links each told "64 MiB coming" and sent 3 bytes: 512 MiB if sized by the header.
  const stalled = Array.from({ length: 8 }, () => new FrameDecoder(64 * MiB));
  stalled.forEach(announce);
  const held = process.memoryUsage().arrayBuffers - before;
  assert.ok(held < 4 * MiB, `held ${(held / MiB).toFixed(1)} MiB for 8 stalled 64 MiB headers`);
  // Growing as chunks arrive still reassembles a large message exactly.
  const payload = { id: 'grown', result: 'x'.repeat(3 * MiB + 17) };
  const decoder = new FrameDecoder(64 * MiB);
  const decoded = encodeMessage(payload, 1, 64 * MiB).map((frame) => decoder.decode(frame));
  assert.equal(decoded.at(-1), { kind: 'message', channel: 1, payload });
  assert.ok(stalled.length === 8);
});

test('pings may arrive in the middle of a chunked message', () => {
  const decoder = new FrameDecoder(MiB);
  const payload = { id: 'p', result: 'z'.repeat(40_000) };
  const frames = encodeMessage(payload, 3, MiB);
  let result: unknown;
  for (const frame of frames) {
    assert.is(decoder.decode(encodePing()).kind, 'ping');
    const decoded = decoder.decode(frame);
    if (decoded.kind === 'message') result = decoded.payload;
  }
  assert.equal(result, payload);
});

test('topic announcements round-trip with their channel', () => {
  const decoder = new FrameDecoder(MiB);
  assert.equal(decoder.decode(encodeJoin(513, 'todos-🗒')), { kind: 'join', channel: 513, tag: 'todos-🗒' });
  assert.equal(decoder.decode(encodeLeave(513)), { kind: 'leave', channel: 513 });
});

test('backoff grows exponentially, stays within bounds and is jittered', () => {
  assert.is(backoffDelay(0, 100, 5000, () => 1), 100);
  assert.is(backoffDelay(3, 100, 5000, () => 1), 800);
  assert.is(backoffDelay(30, 100, 5000, () => 1), 5000);
  assert.is(backoffDelay(5, 100, 5000, () => 0), 100);
  const samples = new Set(Array.from({ length: 20 }, () => backoffDelay(4, 100, 5000)));
  assert.ok(samples.size > 1, 'jitter');
});

test('mesh signals are validated before they reach WebRTC', () => {
  const ok = { v: 1, type: 'rtc', session: 's', link: 1, seq: 0, data: { type: 'offer', sdp: 'v=0' } };
  assert.not.instance(parseMeshSignal(ok, 'p'), P2PError);
  assert.not.instance(parseMeshSignal({ v: 1, type: 'hello', session: 's' }, 'p'), P2PError);
  const bad: unknown[] = [
    null, 'x', [], { ...ok, v: 2 }, { ...ok, session: '' }, { ...ok, link: -1 }, { ...ok, link: 1.5 }, { ...ok, seq: -1 }, { ...ok, seq: undefined },
    { ...ok, data: { type: 'offer', sdp: 5 } }, { ...ok, data: { type: 'renegotiate' } },
    { ...ok, data: { type: 'candidate', candidate: 'x' } }, { ...ok, type: 'bye' },
    { ...ok, data: { type: 'offer', sdp: 'x'.repeat(100_000) } }, { v: 1, type: 'hello', session: 's', lastLink: 'x' }, { v: 1, type: 'hello', session: 's', target: 5 },
  ];
  for (const value of bad) {
    const parsed = parseMeshSignal(value, 'p');
    assert.instance(parsed, P2PError, JSON.stringify(value)?.slice(0, 60));
    assert.is((parsed as P2PError).code, 'ERR_PROTOCOL');
  }
});

test.run();
