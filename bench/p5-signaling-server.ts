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
  "and its RxDB-protocol endpoint (rxdbUrl); anchors: the seed document's example socket.io server (same library; it never forgets a peer) for the socket.io protocol, " +
  "RxDB's startSignalingServerSimplePeer for the RxDB protocol.";

interface Client {
  join(room: string): Promise<void>;
  close(): void;
}

type Protocol = 'socket.io' | 'rxdb';

/** Our protocol: `join {room, peerId}`, confirmed by `joined(ids, room)` listing peerId (the seed's server sends no room). */
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
          if ((joinedRoom === room || joinedRoom === undefined) && Array.isArray(ids) && ids.includes(peerId)) {
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

interface P5Case {
  label: string;
  kind: ServerKind;
  protocol: Protocol;
  /** The server that speaks the same protocol, and its name in the rows. */
  anchor: { kind: ServerKind; name: string };
}

export async function runP5(quick: boolean): Promise<FigureResult> {
  const clients = quick ? 200 : 2_000;
  const cycles = quick ? 500 : 10_000;
  const cases: P5Case[] = [
    { label: 'socket.io server, socket.io protocol', kind: 'socket.io', protocol: 'socket.io', anchor: { kind: 'seed', name: 'seed-server' } },
    { label: 'socket.io server, RxDB protocol (rxdbUrl)', kind: 'socket.io', protocol: 'rxdb', anchor: { kind: 'rxdb', name: 'rxdb-server' } },
  ];
  // Started together (each measured alone later: an idle server's memory does not move), and
  // each stopped once measured; a failure still stops the ones not reached.
  const starting = cases.map(({ kind, anchor }) => ({ ours: startServerChild(kind), anchor: startServerChild(anchor.kind) }));
  const unused = new Cleanup();
  for (const server of starting.flatMap(({ ours, anchor }) => [ours, anchor])) {
    server.catch(() => {}); // reported where it is awaited
    unused.add(() => server.then((child) => child.stop(), () => {}));
  }
  const rows: Measured[] = [];
  const notes = [
    `P5: ${clients} clients in rooms of 10, then ${cycles} connect/join/leave cycles (50 at a time, after an unmeasured warm-up batch) beside them, memory read after each half; memory = V8 heap used + external of the server process after two forced GCs`,
  ];
  try {
    for (const [index, each] of cases.entries()) {
      const anchor = await measureServer(starting[index]!.anchor, each.protocol, clients, cycles);
      const ours = await measureServer(starting[index]!.ours, each.protocol, clients, cycles);
      notes.push(describe(each.anchor.name, anchor), describe(each.label, ours));
      rows.push(...p5Rows(each, ours, anchor, clients, cycles));
    }
  } finally {
    await unused.run();
  }
  return { rows, notes };
}

const describe = (name: string, figures: ServerFigures) =>
  `P5 ${name}: RSS per client ${(figures.perClientRss / KiB).toFixed(2)} KiB; ${figures.cyclesPerSecond.toFixed(0)} cycles/s; ` +
  `${(figures.afterCycles / KiB).toFixed(0)} KiB left after the cycles (${figures.perCycle.toFixed(1)} B per cycle over the second half), ${(figures.afterAll / KiB).toFixed(0)} KiB above the empty server after everyone left`;

function p5Rows({ label, protocol, anchor: { name } }: P5Case, ours: ServerFigures, anchor: ServerFigures, clients: number, cycles: number): Measured[] {
  // "Came back": the second half of the cycles kept under 32 bytes per cycle (about the
  // smallest object a leak could keep; GC noise is well below it). One-time growth (compiled
  // code, tables sized for the peak) shows only in the notes' totals.
  const back = cycles < 10_000 ? 'too few cycles to judge' : ours.perCycle < 32 ? 'came back' : 'did NOT come back';
  return [
    row('P5', `${label}: join rate, ${clients} clients`, ours.joinRate, name, anchor.joinRate, 'joins/s', 'higher', protocol === 'socket.io' ? { op: '>=', value: 1.0 } : undefined),
    row('P5', `${label}: memory per client`, ours.perClient / KiB, name, anchor.perClient / KiB, 'KiB', 'lower', { op: '<=', value: 1.0 }),
    row('P5', `${label}: memory kept per join/leave cycle`, ours.perCycle, name, anchor.perCycle, 'B', 'lower', undefined, back),
    row('P5', `${label}: memory above the empty server once all left`, ours.afterAll / KiB, name, anchor.afterAll / KiB, 'KiB', 'lower'),
  ];
}
