/**
 * `npm run bench [-- --quick] [--only P1,P3] [--transports socket.io,nostr]`: every figure for our handlers beside its
 * anchor (RxDB 17's own handlers and server, raw simple-peer), on loopback, with @roamhq/wrtc
 * on both sides. Prints the table, writes BENCHMARKS.md and bench/results.json.
 * Run through bench/run.sh, which makes a loopback-only network namespace when it can.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import type { WebRTCImplementation } from '../src/mesh/wrtc.js';
import { ROOT, errorText, log, loopbackOnly, now, verdict, type FigureResult, type Measured, type ResultRow } from './lib.js';
import { P1_METHOD, runP1 } from './p1-connect.js';
import { P1W_METHOD, runP1w } from './p1w-wan.js';
import { P2_METHOD, P2W_METHOD, runP2, runP2w } from './p2-mesh.js';
import { P3_METHOD, runP3 } from './p3-throughput.js';
import { P4_METHOD, runP4 } from './p4-replication.js';
import { P5_METHOD, runP5 } from './p5-signaling-server.js';
import { P6_METHOD, runP6 } from './p6-bundles.js';
import { startContenders, stopContenders, type Contenders } from './transports.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
/** The comma-separated value after `flag`, if given. */
const listArg = (flag: string): Set<string> | undefined => {
  const at = args.indexOf(flag);
  return at >= 0 ? new Set((args[at + 1] ?? '').split(',').filter(Boolean)) : undefined;
};
const only = listArg('--only') && new Set([...listArg('--only')!].map((id) => id.toUpperCase()));
const transports = listArg('--transports');
const valued = new Set(['--only', '--transports'].map((flag) => args.indexOf(flag) + 1).filter((index) => index > 0));
const unknown = args.filter((arg, index) => !['--quick', '--only', '--transports'].includes(arg) && !valued.has(index));
if (unknown.length) throw new Error(`unknown arguments ${unknown.join(' ')}; use --quick, --only P1,P2,… and/or --transports socket.io,mqtt,…`);

type Figure = { id: string; title: string; method: string; run: (contenders: Contenders, quick: boolean, wrtc: WebRTCImplementation) => Promise<FigureResult> };
const FIGURES: Figure[] = [
  { id: 'P1', title: 'pair connect', method: P1_METHOD, run: (contenders, q) => runP1(contenders, q) },
  { id: 'P1W', title: 'pair connect, signaling 25 ms away', method: P1W_METHOD, run: (contenders, q, wrtc) => runP1w(contenders, q, wrtc) },
  { id: 'P2', title: 'full mesh', method: P2_METHOD, run: (contenders, q) => runP2(contenders, q) },
  { id: 'P2W', title: 'full mesh, signaling 25 ms away', method: P2W_METHOD, run: (contenders, q) => runP2w(contenders, q) },
  { id: 'P3', title: 'throughput', method: P3_METHOD, run: (contenders, q, wrtc) => runP3(contenders, q, wrtc) },
  { id: 'P4', title: 'RxDB replication', method: P4_METHOD, run: (contenders, q) => runP4(contenders, q) },
  { id: 'P5', title: 'signaling server', method: P5_METHOD, run: (_contenders, q) => runP5(q) },
  { id: 'P6', title: 'browser bundles', method: P6_METHOD, run: () => runP6() },
];

function version(name: string | undefined): string {
  const file = name === undefined ? join(ROOT, 'package.json') : join(ROOT, 'node_modules', name, 'package.json');
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'handlers'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${head} (with uncommitted changes in src/ or handlers/)` : head;
  } catch {
    return 'unknown';
  }
}

const PACKAGES = ['rxdb', '@roamhq/wrtc', 'simple-peer', 'socket.io', 'socket.io-client', 'ws', 'mqtt', 'aedes', 'nostr-tools', '@nostr-relay/core', 'peerjs', 'peer'];

function machine(network: ReturnType<typeof loopbackOnly>, loadBefore: number[]): string[] {
  const cpu = cpus();
  const load = (values: number[]) => values.map((value) => value.toFixed(1)).join(' / ');
  return [
    `- date: ${new Date().toISOString()}`,
    `- mode: ${quick ? '`--quick` (fewer repetitions; use the full run for figures)' : 'full'}`,
    `- machine: ${cpu.length} CPUs (nproc), ${(totalmem() / 2 ** 30).toFixed(1)} GiB memory, ${cpu[0]?.model ?? 'unknown CPU'}`,
    `- Node ${process.version}, p2p-handlers ${version(undefined)} at ${gitCommit()}`,
    `- packages: ${PACKAGES.map((name) => `${name} ${version(name)}`).join(', ')}`,
    `- WebRTC: @roamhq/wrtc ${version('@roamhq/wrtc')} on both sides of every comparison, \`iceServers: []\``,
    `- network: ${network.ok ? 'a loopback-only namespace' : `NOT loopback-only (interfaces: ${network.interfaces.join(', ')}); figures may differ`}`,
    `- load average (1 / 5 / 15 min): ${load(loadBefore)} at the start, ${load(loadavg())} at the end; the machine is shared, so absolute values move with it and ratios (contenders interleaved) less`,
  ];
}

const fmt = (value: number | null, unit = ''): string => {
  if (value === null || !Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  const text = abs >= 1000 ? value.toFixed(0) : abs >= 100 ? value.toFixed(1) : abs >= 1 ? value.toFixed(2) : value.toFixed(3);
  return unit ? `${text} ${unit}` : text;
};

function table(rows: Measured[]): string[] {
  const lines = ['| figure | case | ours | anchor | anchor value | ratio | target | |', '|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    const target = r.target ? `${r.target.op === '<=' ? '≤' : '≥'} ${r.target.value}` : `none (${r.better} is better)`;
    const mark = verdict(r);
    const note = r.note ? ` (${r.note})` : '';
    const ratio = r.ratioInterval ? `${fmt(r.ratio)} (${fmt(r.ratioInterval.low)}–${fmt(r.ratioInterval.high)})` : fmt(r.ratio);
    lines.push(`| ${r.figure} | ${r.case}${note} | ${fmt(r.ours, r.unit)} | ${r.anchor} | ${fmt(r.anchorValue, r.unit)} | ${ratio} | ${target} | ${mark} |`);
  }
  return lines;
}

const openFiles = (): string => {
  try {
    return `${readdirSync('/proc/self/fd').length} open files`;
  } catch {
    return 'open files unknown';
  }
};

if (typeof (globalThis as { gc?: unknown }).gc !== 'function') log('warning: run with node --expose-gc (bench/run.sh does): closed @roamhq/wrtc connections keep their sockets until GC');
const network = loopbackOnly();
if (!network.ok) log(`warning: not in a loopback-only network namespace (interfaces ${network.interfaces.join(', ')}); run through bench/run.sh as root`);
const startedAt = now();
const loadBefore = loadavg();
const wrtc = ((await import('@roamhq/wrtc')) as { default: WebRTCImplementation }).default;
const contenders = await startContenders(wrtc);
if (transports) contenders.ours = contenders.ours.filter((contender) => transports.has(contender.name));
log(`servers started in ${((now() - startedAt) / 1000).toFixed(1)} s`);
for (const note of contenders.notes) log(`note: ${note}`);
log(`contenders: ${contenders.ours.map((c) => c.name).join(', ')} | anchors: ${[contenders.rxdbSimplePeer, contenders.rxdbNostr].filter(Boolean).map((c) => c!.name).join(', ')}`);

const rows: Measured[] = [];
const notes: string[] = [...contenders.notes];
try {
  for (const figure of FIGURES) {
    if (only && !only.has(figure.id)) continue;
    const figureStart = now();
    log(`\n${figure.id} ${figure.title}…`);
    try {
      const result = await figure.run(contenders, quick, wrtc);
      rows.push(...result.rows);
      notes.push(...result.notes);
      for (const line of table(result.rows).slice(2)) log(line);
      for (const note of result.notes) log(`  note: ${note}`);
    } catch (error) {
      notes.push(`${figure.id} failed: ${errorText(error)}`);
      log(`  ${figure.id} failed: ${error instanceof Error ? error.stack : String(error)}`);
    }
    log(`  (${figure.id} took ${((now() - figureStart) / 1000).toFixed(1)} s; ${openFiles()})`);
  }
} finally {
  const stopping = now();
  await stopContenders(contenders);
  log(`servers stopped in ${((now() - stopping) / 1000).toFixed(1)} s`);
}

const seconds = (now() - startedAt) / 1000;
const met = rows.filter((r) => verdict(r) === 'met').length;
const missed = rows.filter((r) => verdict(r) === 'missed').length;
const unsure = rows.filter((r) => verdict(r) === 'unsure').length;
const output = [
  '# Benchmarks',
  '',
  'Generated by `npm run bench` (bench/run.ts); machine-readable rows in `bench/results.json`.',
  'Ratio = ours / anchor. Times: lower is better; throughput and rates: higher is better. In brackets, the ratio\'s 90% interval',
  'over the runs (resampled): a target is met or missed only when the whole interval is on one side of it, else unsure.',
  '',
  ...machine(network, loadBefore),
  '',
  ...table(rows),
  '',
  `Targets: ${met} met, ${missed} missed, ${unsure} unsure. Total time ${seconds.toFixed(1)} s.`,
  '',
  '## How each figure is measured',
  '',
  ...FIGURES.filter((figure) => !only || only.has(figure.id)).map((figure) => `- **${figure.id} ${figure.title}**: ${figure.method}`),
  '',
  '## Notes',
  '',
  ...notes.map((note) => `- ${note}`),
  '',
];
log(`\n${output.join('\n')}`);
// A run of some figures must not replace the full report: it goes beside it.
const partial = only || transports ? join(ROOT, 'bench', 'partial-run.md') : undefined;
writeFileSync(partial ?? join(ROOT, 'BENCHMARKS.md'), output.join('\n'));
const round = (value: number) => Number(value.toPrecision(6));
const results: ResultRow[] = rows.map(({ figure, case: name, ours, anchor, anchorValue, ratio, unit }) => ({
  figure,
  case: name,
  ours: round(ours),
  anchor,
  anchorValue: round(anchorValue),
  ratio: ratio === null ? null : round(ratio),
  unit,
}));
if (partial) log(`wrote ${partial} (BENCHMARKS.md and bench/results.json are written by full runs only)`);
else {
  writeFileSync(join(ROOT, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  log('wrote BENCHMARKS.md and bench/results.json');
}
