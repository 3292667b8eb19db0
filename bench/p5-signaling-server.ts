/**
 * P5 signaling server: each server runs alone in a child process (bench/server-child.ts) and
 * raw clients in this process speak its protocol. 2,000 clients connect, then all join rooms
 * of 10 at once: join rate = joins confirmed by a `joined` listing the client / time. Memory
 * (V8 heap used + external, after forced GCs) per client = growth from the empty server to
 * 2,000 joined clients. Then 10,000 join/leave cycles (connect, join, confirmed, disconnect)
 * beside the 2,000, whose memory must come back, and finally everyone leaves.
 * Ours runs twice: its socket.io protocol, and RxDB's protocol on its `rxdbUrl` endpoint.
 */
import { WebSocket } from 'ws';
import { io, type Socket } from 'socket.io-client';
import { Cleanup, now, row, startServerChild, within, type FigureResult, type Measured, type ServerChild, type ServerKind, type ServerMemory } from './lib.js';

export const P5_METHOD =
  'each server alone in a child process (node --expose-gc), raw clients in the bench process: 2,000 clients (200 with --quick) connect, then all join rooms of 10 ' +
  'at once (join rate: joins confirmed by a joined message listing the client, per second); memory per client = growth of V8 heap used + external after ' +
  "forced GCs; then 10,000 connect/join/leave cycles (500 with --quick) beside them, memory read after each half. Ours: the socket.io server with its own protocol, " +
  "and its RxDB-protocol endpoint (rxdbUrl); anchor: RxDB's startSignalingServerSimplePeer.";

interface Client {
  join(room: string): Promise<void>;
  close(): void;
}

type Protocol = 'socket.io' | 'rxdb';

/** Our protocol: `join {room, peerId}`, confirmed by `joined(ids, room)` listing peerId. */
async function socketIoClient(url: string, index: number): Promise<Client> {
  const socket: Socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  const peerId = `client${index}x${Math.random().toString(36).slice(2, 8)}`;
  return {
    join: (room) =>
      new Promise<void>((resolve) => {
        const onJoined = (ids: unknown, joinedRoom: unknown) => {
          if (joinedRoom === room && Array.isArray(ids) && ids.includes(peerId)) {
            socket.off('joined', onJoined);
            resolve();
          }
        };
        socket.on('joined', onJoined);
        socket.emit('join', { room, peerId });
      }),
    close: () => void socket.disconnect(),
  };
}

/** RxDB's protocol: `init` gives our id, `{type:'join', room}`, confirmed by `joined` listing it. */
async function rxdbClient(url: string): Promise<Client> {
  const socket = new WebSocket(url);
  socket.on('error', () => {});
  const waiters = new Set<(message: any) => void>();
  socket.on('message', (data) => {
    const message = JSON.parse(String(data));
    for (const waiter of [...waiters]) waiter(message);
  });
  const self = await new Promise<string>((resolve, reject) => {
    socket.once('close', () => reject(new Error('closed before init')));
    const onInit = (message: any) => {
      if (message.type !== 'init') return;
      waiters.delete(onInit);
      resolve(message.yourPeerId);
    };
    waiters.add(onInit);
  });
  return {
    join: (room) =>
      new Promise<void>((resolve) => {
        const onJoined = (message: any) => {
          if (message.type === 'joined' && Array.isArray(message.otherPeerIds) && message.otherPeerIds.includes(self)) {
            waiters.delete(onJoined);
            resolve();
          }
        };
        waiters.add(onJoined);
        socket.send(JSON.stringify({ type: 'join', room }));
      }),
    close: () => socket.close(),
  };
}

/** Runs `task(0…count-1)` with at most `parallel` in flight. */
async function pool(count: number, parallel: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

interface ServerFigures {
  joinRate: number;
  /** Bytes of heap+external per joined client. */
  perClient: number;
  perClientRss: number;
  /** Bytes left after the cycles, relative to before them (after a warm-up batch; the 2,000 still joined). */
  afterCycles: number;
  /** Bytes per cycle kept over the second half of the cycles: a leak's rate. */
  perCycle: number;
  /** Bytes left after everyone left, relative to the empty server. */
  afterAll: number;
  cyclesPerSecond: number;
}

const heap = (memory: ServerMemory) => memory.heapUsed + memory.external;

async function measureServer(starting: Promise<ServerChild>, protocol: Protocol, clients: number, cycles: number): Promise<ServerFigures> {
  const cleanup = new Cleanup();
  const server = await starting;
  const { kind } = server;
  cleanup.add(() => server.stop());
  try {
    const url = protocol === 'socket.io' ? server.info.url : (server.info.rxdbUrl ?? server.info.url);
    const connect = (index: number) => (protocol === 'socket.io' ? socketIoClient(url, index) : rxdbClient(url));
    const empty = await server.memory(0);

    const joined: Client[] = [];
    cleanup.add(() => joined.forEach((client) => client.close()));
    await within(pool(clients, 100, async (index) => void joined.push(await connect(index))), 120_000, `${clients} clients connecting to ${kind}`);
    const started = now();
    await within(Promise.all(joined.map((client, index) => client.join(`bench-room-${Math.floor(index / 10)}`))), 120_000, `${clients} joins on ${kind}`);
    const joinRate = clients / ((now() - started) / 1000);
    const full = await server.memory(clients);

    const cycle = async (index: number) => {
      const client = await connect(clients + index);
      await client.join(`bench-cycle-${index % 50}`);
      client.close();
    };
    // A first batch compiles the leave path and sizes the server's tables: one-time growth
    // that is not a leak. What the real cycles leave on top of it is.
    const warmUp = Math.min(500, Math.ceil(cycles / 10));
    await within(pool(warmUp, 50, (index) => cycle(cycles + index)), 120_000, `${warmUp} warm-up cycles on ${kind}`);
    const warm = await server.memory(clients);
    // Two halves: one-time growth shows in the first; anything kept per cycle grows both alike.
    const half = Math.floor(cycles / 2);
    const firstStarted = now();
    await within(pool(half, 50, cycle), 300_000, `${half} join/leave cycles on ${kind}`);
    const firstMs = now() - firstStarted;
    const halfway = await server.memory(clients);
    const secondStarted = now();
    await within(pool(cycles - half, 50, (index) => cycle(half + index)), 300_000, `${cycles - half} more join/leave cycles on ${kind}`);
    const cyclesPerSecond = cycles / ((firstMs + now() - secondStarted) / 1000);
    const afterCycles = await server.memory(clients);

    joined.splice(0).forEach((client) => client.close());
    const afterAll = await server.memory(0);
    return {
      joinRate,
      perClient: (heap(full) - heap(empty)) / clients,
      perClientRss: (full.rss - empty.rss) / clients,
      afterCycles: heap(afterCycles) - heap(warm),
      perCycle: (heap(afterCycles) - heap(halfway)) / (cycles - half),
      afterAll: heap(afterAll) - heap(empty),
      cyclesPerSecond,
    };
  } finally {
    await cleanup.run();
  }
}

const KiB = 1024;

export async function runP5(quick: boolean): Promise<FigureResult> {
  const clients = quick ? 200 : 2_000;
  const cycles = quick ? 500 : 10_000;
  const cases: Array<{ label: string; kind: ServerKind; protocol: Protocol }> = [
    { label: 'socket.io server, socket.io protocol', kind: 'socket.io', protocol: 'socket.io' },
    { label: 'socket.io server, RxDB protocol (rxdbUrl)', kind: 'socket.io', protocol: 'rxdb' },
  ];
  // Started together (each measured alone later: an idle server's memory does not move), and
  // each stopped once measured; a failure still stops the ones not reached.
  const starting = [{ kind: 'rxdb' as const }, ...cases].map(({ kind }) => startServerChild(kind));
  const unused = new Cleanup();
  for (const server of starting) {
    server.catch(() => {}); // reported where it is awaited
    unused.add(() => server.then((child) => child.stop(), () => {}));
  }
  try {
    return await measureAll(starting, cases, clients, cycles);
  } finally {
    await unused.run();
  }
}

async function measureAll(
  starting: Promise<ServerChild>[],
  cases: Array<{ label: string; protocol: Protocol }>,
  clients: number,
  cycles: number,
): Promise<FigureResult> {
  const anchorName = 'rxdb-server';
  const anchor = await measureServer(starting[0]!, 'rxdb', clients, cycles);
  const rows: Measured[] = [];
  const notes = [
    `P5: ${clients} clients in rooms of 10, then ${cycles} connect/join/leave cycles (50 at a time, after an unmeasured warm-up batch) beside them, memory read after each half; memory = V8 heap used + external of the server process after two forced GCs`,
  ];
  const describe = (name: string, figures: ServerFigures) =>
    `P5 ${name}: RSS per client ${(figures.perClientRss / KiB).toFixed(2)} KiB; ${figures.cyclesPerSecond.toFixed(0)} cycles/s; ` +
    `${(figures.afterCycles / KiB).toFixed(0)} KiB left after the cycles (${figures.perCycle.toFixed(1)} B per cycle over the second half), ${(figures.afterAll / KiB).toFixed(0)} KiB above the empty server after everyone left`;
  notes.push(describe(anchorName, anchor));
  for (const [index, { label, protocol }] of cases.entries()) {
    const ours = await measureServer(starting[index + 1]!, protocol, clients, cycles);
    notes.push(describe(label, ours));
    rows.push(row('P5', `${label}: join rate, ${clients} clients`, ours.joinRate, anchorName, anchor.joinRate, 'joins/s', 'higher'));
    rows.push(row('P5', `${label}: memory per client`, ours.perClient / KiB, anchorName, anchor.perClient / KiB, 'KiB', 'lower', { op: '<=', value: 1.0 }));
    // "Came back": the second half of the cycles kept under 32 bytes per cycle (about the
    // smallest object a leak could keep; GC noise is well below it). One-time growth (compiled
    // code, tables sized for the peak) shows only in the notes' totals.
    const back = cycles < 10_000 ? 'too few cycles to judge' : ours.perCycle < 32 ? 'came back' : 'did NOT come back';
    rows.push(row('P5', `${label}: memory kept per join/leave cycle`, ours.perCycle, anchorName, anchor.perCycle, 'B', 'lower', undefined, back));
    rows.push(row('P5', `${label}: memory above the empty server once all left`, ours.afterAll / KiB, anchorName, anchor.afterAll / KiB, 'KiB', 'lower'));
  }
  return { rows, notes };
}
