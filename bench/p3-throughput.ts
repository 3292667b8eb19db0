/**
 * P3 throughput: JSON messages of 1 KiB, 64 KiB and 1 MiB from one peer to the other, through
 * our handler's send()/message$ (awaiting each send: it resolves once the message is handed
 * to the channel, i.e. with back-pressure) against the raw simple-peer data channel on the
 * same WebRTC library, used the way a careful user would: the same JSON encoded to UTF-8, cut
 * into chunks of at most 16 KiB (a 4-byte length before the first), each write waiting for
 * 'drain' when simple-peer asks, reassembled and parsed on the other side. The data path is
 * the mesh core's whatever the signaling transport, so ours runs over socket.io only.
 */
import SimplePeer from 'simple-peer';
import type { WebRTCImplementation } from '../src/mesh/wrtc.js';
import type { P2PPeer } from '../src/types.js';
import { Cleanup, ICE_CONFIG, collectGarbage, countOf, median, now, row, within, type FigureResult, type Measured } from './lib.js';
import { openAll, type Contender, type Contenders, type Handler } from './transports.js';

const CHUNK_BYTES = 16 * 1024;

export const P3_METHOD =
  'JSON messages of 1 KiB (×4096), 64 KiB (×256) and 1 MiB (×32) one way between two connected peers (a quarter with --quick), through our socket.io ' +
  "handler's send()/message$ awaiting each send, vs the raw simple-peer channel on the same library: the same JSON as UTF-8 in chunks of at most 16 KiB, " +
  "waiting for 'drain', reassembled and parsed; first send to last message parsed; median of 3 runs (1 with --quick) after an untimed round.";
const KiB = 1024;
const MiB = 1024 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A message whose JSON is exactly `bytes` long. */
function message(bytes: number): { id: string; method: string; params: string[] } {
  const empty = { id: 'bench', method: 'bench', params: [''] };
  return { ...empty, params: ['x'.repeat(bytes - JSON.stringify(empty).length)] };
}

interface Sender {
  /** Sends `count` copies of `payload` and resolves once the other side has parsed them all. */
  transfer(payload: object, count: number): Promise<void>;
}

async function ourPair(contender: Contender, cleanup: Cleanup): Promise<Sender> {
  const topic = `bench-p3-${Math.random().toString(36).slice(2, 10)}`;
  // Each handler's connect$ is armed the moment it exists.
  const pair = openAll([contender.newPeer(), contender.newPeer()], topic, cleanup).map(async (opening) => {
    const handler = await opening;
    const remote = await new Promise<P2PPeer>((resolve) => {
      const subscription = handler.connect$.subscribe((peer) => resolve(peer));
      cleanup.add(() => subscription.unsubscribe());
    });
    return { handler, remote };
  });
  const [first, second] = await within(Promise.all(pair), 20_000, 'the socket.io pair connecting');
  const [a, bAsSeenByA, b] = [first!.handler, first!.remote, second!.handler];
  return {
    async transfer(payload, count) {
      const received = countOf(b.message$, count);
      for (let i = 0; i < count; i++) await a.send(bAsSeenByA, payload as never);
      await received.done;
    },
  };
}

async function rawPair(wrtc: WebRTCImplementation, cleanup: Cleanup): Promise<Sender> {
  const options = { wrtc: wrtc as SimplePeer.Options['wrtc'], config: ICE_CONFIG, trickle: true };
  const a = new SimplePeer({ ...options, initiator: true });
  const b = new SimplePeer(options);
  cleanup.add(() => {
    for (const peer of [a, b] as Array<SimplePeer.Instance & { _iceCompleteTimer?: ReturnType<typeof setTimeout> }>) {
      peer.destroy();
      clearTimeout(peer._iceCompleteTimer);
    }
  });
  a.on('signal', (signal) => b.signal(signal));
  b.on('signal', (signal) => a.signal(signal));
  await within(Promise.all([new Promise((r) => a.once('connect', r)), new Promise((r) => b.once('connect', r))]), 20_000, 'the raw pair connecting');

  let onMessage = (_value: unknown) => {};
  let assembling: Uint8Array | undefined;
  let filled = 0;
  b.on('data', (chunk: Uint8Array) => {
    let body = chunk;
    if (!assembling) {
      const total = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength).getUint32(0);
      assembling = new Uint8Array(total);
      filled = 0;
      body = chunk.subarray(4);
    }
    assembling.set(body, filled);
    filled += body.byteLength;
    if (filled < assembling.byteLength) return;
    const whole = assembling;
    assembling = undefined;
    onMessage(JSON.parse(decoder.decode(whole)));
  });
  const drained = () => new Promise((resolve) => a.once('drain', resolve));
  return {
    async transfer(payload, count) {
      let seen = 0;
      const received = new Promise<void>((resolve) => (onMessage = () => ++seen === count && resolve()));
      for (let i = 0; i < count; i++) {
        const body = encoder.encode(JSON.stringify(payload));
        const first = new Uint8Array(Math.min(CHUNK_BYTES, body.byteLength + 4));
        new DataView(first.buffer).setUint32(0, body.byteLength);
        first.set(body.subarray(0, first.byteLength - 4), 4);
        if (!a.write(first)) await drained();
        for (let offset = first.byteLength - 4; offset < body.byteLength; offset += CHUNK_BYTES) {
          if (!a.write(body.subarray(offset, offset + CHUNK_BYTES))) await drained();
        }
      }
      await received;
    },
  };
}

export async function runP3(contenders: Contenders, quick: boolean, wrtc: WebRTCImplementation): Promise<FigureResult> {
  const runs = quick ? 1 : 3;
  const cases = [
    { label: '1 KiB', bytes: KiB, count: quick ? 1024 : 4096 },
    { label: '64 KiB', bytes: 64 * KiB, count: quick ? 64 : 256 },
    { label: '1 MiB', bytes: MiB, count: quick ? 8 : 32 },
  ];
  const socketIo = contenders.ours.find((candidate) => candidate.name === 'socket.io');
  if (!socketIo) return { rows: [], notes: ['P3: socket.io not among the transports, skipped'] };
  const cleanup = new Cleanup();
  const rows: Measured[] = [];
  try {
    const ours = await ourPair(socketIo, cleanup);
    const raw = await rawPair(wrtc, cleanup);
    for (const { label, bytes, count } of cases) {
      const payload = message(bytes);
      const rates = { ours: [] as number[], raw: [] as number[] };
      // One untimed round first: JIT, buffers, congestion window.
      await within(ours.transfer(payload, Math.min(count, 8)), 60_000, `ours warming up at ${label}`);
      await within(raw.transfer(payload, Math.min(count, 8)), 60_000, `raw warming up at ${label}`);
      for (let run = 0; run < runs; run++) {
        for (const [name, sender] of [['ours', ours], ['raw', raw]] as const) {
          collectGarbage();
          const started = now();
          await within(sender.transfer(payload, count), 120_000, `${name} sending ${count} × ${label}`);
          rates[name].push((bytes * count) / MiB / ((now() - started) / 1000));
        }
      }
      rows.push(row('P3', `socket.io send/message$, ${label} × ${count}`, median(rates.ours), 'raw simple-peer', median(rates.raw), 'MiB/s', 'higher', { op: '>=', value: 0.8 }));
    }
  } finally {
    await cleanup.run();
    collectGarbage();
  }
  return { rows, notes: [`P3: ${runs} run(s) per size after one untimed round, median; JSON bytes per second`] };
}
