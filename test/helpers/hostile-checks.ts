/**
 * What every hostile-input test checks around its corpus: settled memory, a well-behaved
 * pair that must keep working, errors that escape, half-open sockets, bounded waits.
 */
import { connect as netConnect, type Socket } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { WebRTCMeshHandler } from '../../src/mesh/mesh.js';
import type { P2PPeer } from '../../src/types.js';
import { u32, type CorpusRun, type Session } from './hostile-frames.js';
import { WebSocket } from 'ws';
import { next } from './wait.js';

/** heapUsed and arrayBuffers of this process after a forced full GC, in bytes. */
export function settledMemory(): { heapUsed: number; arrayBuffers: number } {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  for (let i = 0; i < 3; i++) gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return { heapUsed, arrayBuffers };
}

export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/**
 * Two well-behaved handlers in `room` (from `open`, one app instance each): resolves once
 * both saw each other on connect$ and a message went each way, so the server relayed a real
 * WebRTC pairing. The caller closes what `opened` collects.
 */
export interface Pair {
  a: WebRTCMeshHandler;
  b: WebRTCMeshHandler;
  /** B as seen by A, and A as seen by B. */
  onA: P2PPeer;
  onB: P2PPeer;
}

export async function wellBehavedPair(open: (room: string) => Promise<WebRTCMeshHandler>, room: string, what: string, ms = 30_000): Promise<Pair> {
  const a = await open(room);
  const aSaw = next(a.connect$, `${what}: A connect$`, ms);
  const b = await open(room);
  const bSaw = next(b.connect$, `${what}: B connect$`, ms);
  const [onA, onB] = await Promise.all([aSaw, bSaw]);
  await exchange(a, onA, b, `${what}: A→B`);
  await exchange(b, onB, a, `${what}: B→A`);
  return { a, b, onA, onB };
}

/** Sends one request from `from` to `peer` and waits until `to` received it. */
export async function exchange(from: WebRTCMeshHandler, peer: P2PPeer, to: WebRTCMeshHandler, what: string): Promise<void> {
  const id = `ping-${Math.random().toString(36).slice(2)}`;
  const seen = next(to.message$, what, 15_000, ({ message }) => message.id === id);
  await from.send(peer, { id, method: 'hostile.ping', params: [] });
  await seen;
}

/** Records anything that escapes as an unhandled rejection or exception: a crash in the making. */
export function watchEscapes(): { escaped: unknown[]; stop(): void } {
  const escaped: unknown[] = [];
  const record = (error: unknown) => escaped.push(error);
  process.on('unhandledRejection', record);
  process.on('uncaughtException', record);
  return { escaped, stop: () => { process.off('unhandledRejection', record); process.off('uncaughtException', record); } };
}

/** A masked client WebSocket text frame, as RFC 6455 asks of clients. */
function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const length = payload.length;
  const header = length < 126 ? Buffer.from([0x81, 0x80 | length]) : length < 65_536 ? Buffer.from([0x81, 0x80 | 126, length >> 8, length & 0xff]) : Buffer.concat([Buffer.from([0x81, 0x80 | 127, 0, 0, 0, 0]), Buffer.from(u32(length))]);
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
  return Buffer.concat([header, mask, masked]);
}

/**
 * A raw TCP socket that upgrades to WebSocket at `url` (ws://host:port/path?query), sends
 * `messages` as frames but only half of the last one, and then stays silent: a half-open
 * client. Resolves with the socket (the caller destroys it) once the half frame is written;
 * with `handshakeOnly`, it sends half an upgrade request instead and never finishes it.
 */
export async function halfOpenWebSocket(url: string, messages: readonly string[], handshakeOnly = false): Promise<Socket> {
  const { hostname, port, pathname, search } = new URL(url);
  const socket = netConnect(Number(port), hostname);
  socket.on('error', () => {});
  await new Promise<void>((resolve) => { socket.once('connect', () => resolve()); socket.once('close', () => resolve()); });
  const request = `GET ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${Buffer.alloc(16, 7).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  if (handshakeOnly) {
    socket.write(request.slice(0, request.length >> 1));
    return socket;
  }
  const upgraded = new Promise<boolean>((resolve) => {
    socket.once('data', (data) => resolve(data.toString('latin1').startsWith('HTTP/1.1 101')));
    socket.once('close', () => resolve(false));
  });
  socket.write(request);
  if (!(await upgraded)) return socket;
  messages.forEach((message, i) => {
    const frame = clientFrame(message);
    socket.write(i === messages.length - 1 ? frame.subarray(0, Math.max(2, frame.length >> 1)) : frame);
  });
  return socket;
}

/** `promise`, or a failure naming `what` after `ms`: uvu has no per-test timeout. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Plays `corpus` over `parallel` workers; once half of `minMessages` went out, `during()` (a
 * well-behaved pair) runs beside it. Resolves with the corpus's time once both are done.
 */
export async function driveCorpus<T>(
  corpus: CorpusRun<T>,
  options: { parallel: number; minMessages: number; play: (session: Session<T>) => Promise<void>; during: () => Promise<unknown> },
): Promise<number> {
  const started = Date.now();
  let during: Promise<unknown> | undefined;
  const worker = async () => {
    for (let session = corpus.take(); session; session = corpus.take()) {
      if (corpus.messages >= options.minMessages / 2) during ??= settledLater(options.during());
      await options.play(session);
    }
  };
  await Promise.all(Array.from({ length: options.parallel }, worker));
  await during;
  if (corpus.messages < options.minMessages) throw new Error(`the corpus had ${corpus.messages} messages, fewer than ${options.minMessages}`);
  return Date.now() - started;
}

/**
 * Sends one session on its own WebSocket, whatever the server answers, then closes it and
 * waits for the server's side of the close; a half-open session's socket joins `held` instead.
 */
export async function playOverWebSocket(url: string, session: Session<string>, held: Socket[]): Promise<void> {
  if (session.halfOpen) {
    held.push(await halfOpenWebSocket(url, session.messages));
    return;
  }
  const open = await openWebSocket(url);
  if (!open) return;
  for (const message of session.messages) if (open.socket.readyState === WebSocket.OPEN) open.socket.send(message);
  // A CLOSE handshake the server answers only after it worked through this socket's queue.
  await closeWithin(open.closed, () => open.socket.close(), () => open.socket.terminate(), 10_000);
}

/** A WebSocket client that ignores errors, once open (undefined if it closed first); `closed` settles when it closes. */
export async function openWebSocket(url: string, protocol?: string): Promise<{ socket: WebSocket; closed: Promise<void> } | undefined> {
  const socket = protocol === undefined ? new WebSocket(url) : new WebSocket(url, protocol);
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const opened = await new Promise<boolean>((resolve) => {
    socket.once('open', () => resolve(true));
    socket.once('close', () => resolve(false));
  });
  return opened ? { socket, closed } : undefined;
}

/** Ends a connection politely, waits up to `ms` for the far side to close it, then cuts it. */
export async function closeWithin(closed: Promise<void>, end: () => void, cut: () => void, ms: number): Promise<void> {
  end();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
  cut();
  await closed;
}

/** A promise awaited later: its rejection must not count as unhandled meanwhile. */
export function settledLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/** Samples the settled heap until it is within `bound` of `baseline` (cleanup is asynchronous) or 15 s passed. */
export async function settleHeap(baseline: number, bound: number): Promise<{ heapUsed: number; arrayBuffers: number }> {
  const deadline = Date.now() + 15_000;
  let sample = settledMemory();
  while (sample.heapUsed - baseline >= bound && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    sample = settledMemory();
  }
  return sample;
}

/** Prints the corpus figures and fails when the heap did not come back within `bound`. */
export function reportHeap(label: string, baseline: { heapUsed: number; arrayBuffers: number }, after: { heapUsed: number; arrayBuffers: number }, bound: number): void {
  const growth = after.heapUsed - baseline.heapUsed;
  console.log(
    `${label}; heap ${mib(baseline.heapUsed)} → ${mib(after.heapUsed)} (growth ${mib(growth)}, bound ${mib(bound)}), ` +
      `arrayBuffers ${mib(baseline.arrayBuffers)} → ${mib(after.arrayBuffers)}`,
  );
  if (growth >= bound) throw new Error(`heap grew by ${mib(growth)}, more than ${mib(bound)}`);
}

/**
 * What follows a corpus, while its half-open sockets still hang: a new pair meets and the pair
 * made before still talks; then every socket and handler goes, and the heap must come back
 * within `heapBound` of `baseline` (printed under `label`).
 */
/**
 * A whole seeded-corpus run against a server in this process: a warm-up pair, the heap
 * baseline with nothing open, a pair made before the corpus, `prepare` (the half-open sockets
 * of this server), the corpus with a pair made during it, `afterCorpus`, then checkAfterCorpus
 * (pairs after, the pair from before still talking, the heap back near the baseline).
 */
export async function runCorpusInProcess<T>(options: {
  /** Names the run in the printed figures, followed by the corpus and its time. */
  label: string;
  open: (room: string) => Promise<WebRTCMeshHandler>;
  corpus: CorpusRun<T>;
  play: (session: Session<T>) => Promise<void>;
  parallel: number;
  minMessages: number;
  held: Array<{ destroy(): void }>;
  handlers: WebRTCMeshHandler[];
  heapBound: number;
  prepare?: () => void | Promise<void>;
  afterCorpus?: () => void;
}): Promise<void> {
  const { open, corpus } = options;
  const warm = await wellBehavedPair(open, 'warm-up-room', 'warm-up pair');
  await Promise.all([warm.a.close(), warm.b.close()]);
  const baseline = settledMemory();
  const before = await wellBehavedPair(open, 'calm-room-before', 'pair made before the corpus');
  await options.prepare?.();
  const corpusMs = await driveCorpus(corpus, {
    parallel: options.parallel,
    minMessages: options.minMessages,
    play: options.play,
    during: () => wellBehavedPair(open, 'calm-room-during', 'pair made during the corpus'),
  });
  options.afterCorpus?.();
  await checkAfterCorpus({
    label: `${options.label}, ${corpus.describe()}, ${corpusMs} ms`,
    open,
    before,
    held: options.held,
    handlers: options.handlers,
    baseline,
    heapBound: options.heapBound,
  });
}

export async function checkAfterCorpus(options: {
  label: string;
  open: (room: string) => Promise<WebRTCMeshHandler>;
  before: Pair;
  held: Array<{ destroy(): void }>;
  handlers: WebRTCMeshHandler[];
  baseline: { heapUsed: number; arrayBuffers: number };
  heapBound: number;
}): Promise<void> {
  const { label, open, before, held, handlers, baseline, heapBound } = options;
  await wellBehavedPair(open, 'calm-room-after', 'pair made after the corpus');
  await exchange(before.a, before.onA, before.b, 'the pair made before the corpus, after it');
  for (const socket of held.splice(0)) socket.destroy();
  await Promise.all(handlers.splice(0).map((handler) => handler.close()));
  const after = await settleHeap(baseline.heapUsed, heapBound);
  reportHeap(label, baseline, after, heapBound);
}
