/**
 * What every figure of `npm run bench` shares: timing and statistics, the result rows and their
 * targets, the loopback-only check, servers run in child processes, and a cleanup list.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import type { Observable, Subscription } from 'rxjs';

export const ROOT = new URL('..', import.meta.url).pathname;
/** Every RTCPeerConnection of the bench: host candidates on loopback only, no STUN/TURN. */
export const ICE_CONFIG = Object.freeze({ iceServers: [] as RTCIceServer[] });

// ---- timing and statistics ----------------------------------------------------------------

export const now = (): number => performance.now();

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

export function p90(values: readonly number[]): number {
  return quantile(values, 0.9);
}

/** `items` starting at index `by` (mod length), wrapping around: run `by`'s order of contenders. */
export function rotated<T>(items: readonly T[], by: number): T[] {
  const start = ((by % items.length) + items.length) % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}

/** Nearest-rank quantile (p90 of 20 runs is the 18th smallest); the mean of the middle two for a median. */
function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  if (q === 0.5 && sorted.length % 2 === 0) return (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * Forces a full GC (the bench runs with --expose-gc) between runs. @roamhq/wrtc frees a closed
 * RTCPeerConnection's sockets and task queues (4 descriptors each) only when its JS object is
 * collected, and the JS heap stays too small for V8 to collect on its own: without this a full
 * run exhausts the 20,000 file descriptors. It also keeps GC pauses out of the timed parts.
 */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Rejects with "`what` did not happen within `ms` ms" unless `promise` settles first. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Resolves once `stream` has emitted `count` values accepted by `accept` (armed at call time). */
export function countOf<T>(stream: Observable<T>, count: number, accept: (value: T) => boolean = () => true): { done: Promise<void>; stop(): void } {
  let seen = 0;
  let subscription: Subscription | undefined;
  const done = new Promise<void>((resolve, reject) => {
    if (count <= 0) return resolve();
    subscription = stream.subscribe({
      next: (value) => {
        if (accept(value) && ++seen >= count) resolve();
      },
      error: reject,
      complete: () => reject(new Error(`the stream completed after ${seen} of ${count} values`)),
    });
  });
  const stop = () => subscription?.unsubscribe();
  void done.then(stop, stop);
  return { done, stop };
}

// ---- cleanup -----------------------------------------------------------------------------

/** Things to close, closed in reverse order and all of them even when some fail. */
export class Cleanup {
  private readonly steps: Array<() => unknown> = [];

  add(step: () => unknown): void {
    this.steps.push(step);
  }

  /** Runs every step, last added first; one that fails or hangs (given up after `ms`) is reported and the rest still run. */
  async run(ms = 20_000): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await within(Promise.resolve().then(step), ms, 'a cleanup step finishing');
      } catch (error) {
        log(`warning: ${errorText(error)}`);
      }
    }
  }
}

// ---- results -----------------------------------------------------------------------------

/** One line of bench/results.json: exactly the fields the issue asks for. */
export interface ResultRow {
  figure: string;
  case: string;
  ours: number;
  anchor: string;
  anchorValue: number;
  /** ours / anchorValue; null when the anchor is 0. */
  ratio: number | null;
  unit: string;
}

/** A target on the ratio: times (lower is better) want `<=`, throughput `>=`. */
export interface Target {
  op: '<=' | '>=';
  value: number;
}

/** A row as printed: the result plus its target, and whether lower or higher is better. */
export interface Measured extends ResultRow {
  better: 'lower' | 'higher';
  target?: Target;
  note?: string;
  /** 90% interval of the ratio over the runs (bootstrap), when the row has runs to resample. */
  ratioInterval?: { low: number; high: number };
}

/** Resamples per interval: enough for stable 5th and 95th percentiles. */
const BOOTSTRAP_RESAMPLES = 2_000;

/** A small seeded generator, so the same runs always give the same interval. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/**
 * The 90% interval of median(ours) / median(anchor) when the runs of each are resampled with
 * replacement: how far the ratio could move on another run of as many repetitions.
 */
export function ratioInterval(ours: readonly number[], anchor: readonly number[]): { low: number; high: number } | undefined {
  if (ours.length < 3 || anchor.length < 3) return undefined;
  const random = seededRandom(ours.length * 7919 + anchor.length);
  const resample = (values: readonly number[]) => median(Array.from(values, () => values[Math.floor(random() * values.length)]!));
  const ratios: number[] = [];
  for (let index = 0; index < BOOTSTRAP_RESAMPLES; index++) {
    const theirs = resample(anchor);
    if (theirs > 0) ratios.push(resample(ours) / theirs);
  }
  if (ratios.length < BOOTSTRAP_RESAMPLES / 2) return undefined;
  return { low: quantile(ratios, 0.05), high: quantile(ratios, 0.95) };
}

/** A row of medians over runs, with the ratio's interval over those runs. */
export function rowOfRuns(
  figure: string,
  name: string,
  ours: readonly number[],
  anchor: string,
  anchorRuns: readonly number[],
  unit: string,
  better: 'lower' | 'higher',
  target?: Target,
  note?: string,
): Measured {
  const measured = row(figure, name, median(ours), anchor, median(anchorRuns), unit, better, target, note);
  const interval = ratioInterval(ours, anchorRuns);
  return interval ? { ...measured, ratioInterval: interval } : measured;
}

export function row(
  figure: string,
  name: string,
  ours: number,
  anchor: string,
  anchorValue: number,
  unit: string,
  better: 'lower' | 'higher',
  target?: Target,
  note?: string,
): Measured {
  const ratio = anchorValue === 0 || !Number.isFinite(anchorValue) ? null : ours / anchorValue;
  return { figure, case: name, ours, anchor, anchorValue, ratio, unit, better, ...(target ? { target } : {}), ...(note ? { note } : {}) };
}

/**
 * `met` or `missed` when the whole interval of the ratio is on one side of the target (or, for
 * a row without runs, the ratio is); `unsure` when another run could well flip it.
 */
export function verdict(measured: Measured): 'met' | 'missed' | 'unsure' | '' {
  const { target, ratio, ratioInterval: interval } = measured;
  if (!target) return '';
  if (ratio === null) return 'missed';
  const meets = (value: number) => (target.op === '<=' ? value <= target.value : value >= target.value);
  if (!interval) return meets(ratio) ? 'met' : 'missed';
  const [worst, best] = target.op === '<=' ? [interval.high, interval.low] : [interval.low, interval.high];
  if (meets(worst)) return 'met';
  return meets(best) ? 'unsure' : 'missed';
}

/** What a figure hands back: its rows, and notes (skipped transports, failures, sizes). */
export interface FigureResult {
  rows: Measured[];
  notes: string[];
}

// ---- environment ---------------------------------------------------------------------------

/** True when the only network interface is loopback (a fresh `unshare -n` namespace). */
export function loopbackOnly(): { ok: boolean; interfaces: string[] } {
  const interfaces = Object.entries(networkInterfaces());
  const names = interfaces.map(([name]) => name);
  const ok = interfaces.every(([, addresses]) => (addresses ?? []).every((address) => address.internal));
  return { ok, interfaces: names };
}

export function log(message: string): void {
  process.stdout.write(`${message}\n`);
}

export const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

// ---- servers in child processes -------------------------------------------------------------

/** What bench/server-child.ts can run: ours, RxDB's, and the other transports' embedded servers. */
/** `seed`: the seed document's example socket.io server, P5's anchor for the socket.io protocol. */
export type ServerKind = 'socket.io' | 'rxdb' | 'mqtt' | 'nostr' | 'peerjs' | 'seed';

export interface ServerInfo {
  /** Where clients connect (socket.io origin, ws:// URL, mqtt:// URL). */
  url: string;
  /** socket.io only: our server's RxDB-protocol endpoint. */
  rxdbUrl?: string;
  /** peerjs only: what getConnectionHandlerPeerJS needs. */
  clientOptions?: { host: string; port: number; path: string; key: string; secure: false };
}

export interface ServerMemory {
  heapUsed: number;
  external: number;
  rss: number;
  /** TCP connections the server holds when measured. */
  connections: number;
}

export interface ServerChild {
  readonly kind: ServerKind;
  readonly info: ServerInfo;
  /** Waits until the server holds `connections` TCP connections (if given), forces GC twice, reads memory. */
  memory(connections?: number): Promise<ServerMemory>;
  /** Closes the server; the child then exits on its own (see `exited`). Idempotent. */
  stop(): Promise<void>;
  readonly exited: Promise<void>;
}

const SERVER_START_MS = 20_000;

/** A bench process driven over IPC: one outstanding request per reply type. */
export interface Worker {
  /** Sends `request` (if any) and resolves with the next message of type `reply`; rejects if it has `error`. */
  ask(reply: string, request: object | undefined, ms: number): Promise<any>;
  /** Sends a message that has no reply. */
  post(message: object): void;
  readonly exited: Promise<void>;
  readonly alive: boolean;
  kill(): void;
}

/**
 * Starts `node --expose-gc --import tsx <script> ...args` with an IPC channel; stdout is
 * discarded, the end of stderr is kept for error messages.
 * BENCH_CHILD_ARGS adds Node options to every such process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
 */
export function spawnWorker(script: string, args: string[], name: string): Worker {
  const extra = (process.env.BENCH_CHILD_ARGS ?? '').split(' ').filter(Boolean);
  const child: ChildProcess = spawn(process.execPath, [...extra, '--expose-gc', '--import', 'tsx', script, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const waiting = new Map<string, (message: any) => void>();
  child.on('message', (message: any) => {
    const settle = waiting.get(message?.type);
    waiting.delete(message?.type);
    settle?.(message);
  });
  return {
    exited,
    get alive() {
      return child.exitCode === null && child.signalCode === null && child.connected;
    },
    kill: () => child.kill(),
    post: (message) => void (child.connected && child.send(message)),
    async ask(reply, request, ms) {
      const answer = new Promise<any>((resolve, reject) => {
        waiting.set(reply, resolve);
        void exited.then(() => reject(new Error(`${name} exited: ${stderr.trim().split('\n').slice(-3).join(' | ')}`)));
      });
      if (request) child.send(request);
      const message = await within(answer, ms, `${name} answering "${reply}"`);
      if (message.error) throw new Error(`${name}: ${message.error}`);
      return message;
    },
  };
}

/**
 * Runs one server in its own Node process (`--expose-gc`), so its memory is measured alone and
 * its CPU is not the clients'. Rejects if the server cannot start (e.g. a transport module
 * that does not exist or fails to import yet).
 */
export async function startServerChild(kind: ServerKind): Promise<ServerChild> {
  const worker = spawnWorker('bench/server-child.ts', [kind], `the ${kind} server process`);
  let ready: any;
  try {
    ready = await worker.ask('ready', undefined, SERVER_START_MS);
  } catch (error) {
    worker.kill();
    await worker.exited;
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    kind,
    info: ready.info,
    exited: worker.exited,
    memory: async (connections) => (await worker.ask('memory', { type: 'memory', connections }, 60_000)).memory,
    stop: () =>
      (stopping ??= (async () => {
        if (!worker.alive) return;
        await worker.ask('closed', { type: 'close' }, 15_000).catch(() => worker.kill());
      })()),
  };
}
