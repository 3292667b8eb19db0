/**
 * Where a pair connect's time goes, for P1's contenders (comma-separated names, default socket.io):
 *   bash scripts/in-loopback-namespace.sh node --expose-gc --import tsx bench/profile-p1.ts socket.io,rxdb-simple-peer 10
 * Prints per run the time (ms from both creators called) of each RTCPeerConnection step
 * (made, offer, answer, remote description set, ICE state, data channel open, getStats), of
 * both handlers and connect$, and of every event-loop stall over 4 ms (GAPn); then medians
 * (QUIET=1: medians only). A temporary `globalThis.__p2pTrace?.(label)` anywhere in the code
 * adds its own marks.
 */
import { Cleanup, countOf, median, now, within } from './lib.js';
import { allContenders, openAll, startContenders, stopContenders } from './transports.js';

const [name = 'socket.io', runsArg = '10'] = process.argv.slice(2);
const marks: Array<[string, number]> = [];
(globalThis as any).__p2pTrace = (label: string) => marks.push([label, now()]);
const raw = ((await import('@roamhq/wrtc')) as any).default;
const mark = (label: string) => marks.push([label, now()]);
let pcs = 0;
class TracedPC extends raw.RTCPeerConnection {
  n = ++pcs;
  constructor(...args: any[]) {
    super(...args);
    mark(`pc${this.n} new`);
    this.addEventListener('iceconnectionstatechange', () => mark(`pc${this.n} ice:${this.iceConnectionState}`));
    this.addEventListener('datachannel', (e: any) => { mark(`pc${this.n} ondatachannel`); e.channel.addEventListener('open', () => mark(`pc${this.n} dc-open(remote)`)); });
  }
  createDataChannel(...args: any[]) { const dc = super.createDataChannel(...args); dc.addEventListener('open', () => mark(`pc${this.n} dc-open`)); return dc; }
  async createOffer(...a: any[]) { const r = await super.createOffer(...a); mark(`pc${this.n} offer`); return r; }
  async createAnswer(...a: any[]) { const r = await super.createAnswer(...a); mark(`pc${this.n} answer`); return r; }
  async setRemoteDescription(...a: any[]) { const r = await super.setRemoteDescription(...a); mark(`pc${this.n} setRemote`); return r; }
  getStats(...a: any[]) { mark(`pc${this.n} getStats`); const r = super.getStats(...a); Promise.resolve(r).then(() => mark(`pc${this.n} gotStats`)); return r; }
}
const wrtc = { ...raw, RTCPeerConnection: TracedPC };
const contenders = await startContenders(wrtc);
const field = allContenders(contenders).filter((c) => name.split(',').includes(c.name));
const totals = new Map<string, number[]>();
for (let run = -1; run < Number(runsArg); run++) {
  for (const contender of field) {
    const cleanup = new Cleanup();
    marks.length = 0;
    const creators = [contender.newPeer(), contender.newPeer()];
    const started = now();
    let lastTick = now();
    const ticker = setInterval(() => { const t = now(); if (t - lastTick > 4) marks.push([`GAP${(t - lastTick).toFixed(0)}`, t]); lastTick = t; }, 1);
    cleanup.add(() => clearInterval(ticker));
    const connected = openAll(creators, `profile-${run}-${Math.random()}`, cleanup).map(async (opening, i) => {
      const handler = await opening;
      marks.push([`handler ${i}`, now()]);
      const { done, stop } = countOf(handler.connect$, 1);
      cleanup.add(stop);
      await done;
      marks.push([`connect$ ${i}`, now()]);
    });
    await within(Promise.all(connected), 20_000, 'connect');
    const total = now() - started;
    if (run >= 0) totals.set(contender.name, [...(totals.get(contender.name) ?? []), total]);
    if (!process.env.QUIET) console.log(`${contender.name} run ${run}: ${total.toFixed(1)} ms  ` + marks.map(([l, t]) => `${l}@${(t - started).toFixed(1)}`).join(' | '));
    await cleanup.run();
    (globalThis as any).gc?.();
    await new Promise((r) => setTimeout(r, 100));
  }
}
for (const [n, v] of totals) console.log(`${n}: median ${median(v).toFixed(1)} ms over ${v.length}`);
await stopContenders(contenders);
