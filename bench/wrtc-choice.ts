/**
 * Which WebRTC implementation the mesh core uses by default in Node: pair connect time and
 * 16 KiB-frame throughput of @roamhq/wrtc and node-datachannel through simple-peer (our
 * wrapper applied), on loopback. Run inside a loopback-only namespace:
 *   unshare -n bash -c 'ip link set lo up && node --import tsx bench/wrtc-choice.ts'
 */
import SimplePeer from 'simple-peer';
import { resolveWebRTC, type WebRTCImplementation } from '../src/mesh/wrtc.js';

const RUNS = Number(process.env.RUNS ?? 20);
const MB = 8;

async function measure(name: string, wrtc: WebRTCImplementation, config: Record<string, unknown>) {
  const connects: number[] = [];
  let throughput = 0;
  for (let run = 0; run < RUNS; run++) {
    const started = performance.now();
    const a = new SimplePeer({ initiator: true, wrtc: wrtc as any, config, trickle: true });
    const b = new SimplePeer({ wrtc: wrtc as any, config, trickle: true });
    a.on('signal', (s: any) => b.signal(s));
    b.on('signal', (s: any) => a.signal(s));
    await Promise.all([new Promise((r) => a.once('connect', r)), new Promise((r) => b.once('connect', r))]);
    connects.push(performance.now() - started);
    if (run === 0) {
      const frame = new Uint8Array(16 * 1024);
      const total = (MB * 1024 * 1024) / frame.byteLength;
      let received = 0;
      const done = new Promise<void>((r) => b.on('data', () => ++received === total && r()));
      const t0 = performance.now();
      for (let i = 0; i < total; i++) if (!a.write(frame)) await new Promise((r) => a.once('drain', r));
      await done;
      throughput = MB / ((performance.now() - t0) / 1000);
    }
    for (const peer of [a, b] as any[]) {
      peer.destroy();
      clearTimeout(peer._iceCompleteTimer);
    }
  }
  connects.sort((x, y) => x - y);
  const at = (q: number) => connects[Math.min(connects.length - 1, Math.floor(q * connects.length))]!.toFixed(1);
  console.log(`${name.padEnd(18)} connect median ${at(0.5)} ms  p90 ${at(0.9)} ms  max ${at(1)} ms   ${throughput.toFixed(1)} MB/s`);
}

const roam = (await resolveWebRTC((await import('@roamhq/wrtc')).default as WebRTCImplementation))!;
const ndc = (await resolveWebRTC((await import('node-datachannel/polyfill')) as unknown as WebRTCImplementation))!;
await measure('@roamhq/wrtc', roam, { iceServers: [] });
await measure('node-datachannel', ndc, { iceServers: [], bindAddress: '127.0.0.1' });
