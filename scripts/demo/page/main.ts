/**
 * The demo page: a todo list in RxDB (stored in this tab's localStorage) replicated peer to
 * peer over the transport picked at the top. Each tab is its own peer with its own database,
 * so two tabs of one browser sync through WebRTC exactly as two machines would.
 */
import { createRxDatabase, type RxCollection } from 'rxdb/plugins/core';
import { getRxStorageLocalstorage } from 'rxdb/plugins/storage-localstorage';
import { replicateP2P, type P2PReplicationPool } from '../../../src/rxdb.js';
import type { Subscription } from 'rxjs';
import type { P2PConnectionHandler, P2PConnectionHandlerCreator, P2PPeer } from '../../../src/types.js';
import { lastWriterWins, todoSchema, type Todo } from './todos.js';
import { createCreator, isTransportName, TRANSPORT_LABELS, TRANSPORTS, type DemoConfig, type TransportName } from './transports.js';
import { renderRoom } from './room.js';
import { conflictText, log, peerName, renderPeers, renderTodos, type PeerRow } from './view.js';

const byId = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const ui = {
  transport: byId<HTMLSelectElement>('transport'),
  room: byId<HTMLElement>('room'),
  self: byId<HTMLElement>('self'),
  status: byId<HTMLElement>('status'),
  online: byId<HTMLButtonElement>('online'),
  form: byId<HTMLFormElement>('new-todo'),
  input: byId<HTMLInputElement>('new-todo-text'),
  todos: byId<HTMLUListElement>('todos'),
  peers: byId<HTMLUListElement>('peers'),
  picture: document.getElementById('room-picture') as unknown as SVGSVGElement,
  log: byId<HTMLUListElement>('log'),
};

/** A name per tab that survives reloads (sessionStorage), so a reload keeps its database. */
function tabName(): string {
  const known = sessionStorage.getItem('p2p-demo-tab');
  if (known) return known;
  const name = `tab-${Math.random().toString(36).slice(2, 8)}`;
  sessionStorage.setItem('p2p-demo-tab', name);
  return name;
}

const params = new URLSearchParams(location.search);
const tab = tabName();
const room = (params.get('room') ?? 'demo').slice(0, 64);
const config = (await (await fetch('/config.json')).json()) as DemoConfig;
const requested = params.get('transport') ?? localStorage.getItem('p2p-demo-transport');
let transport: TransportName = isTransportName(requested) ? requested : 'socket.io';

const database = await createRxDatabase({ name: `p2pdemo-${tab}`, storage: getRxStorageLocalstorage(), multiInstance: false });
const { todos } = (await database.addCollections({
  todos: { schema: todoSchema, conflictHandler: lastWriterWins((conflict) => log(ui.log, 'conflict', conflictText(conflict))) },
})) as { todos: RxCollection<Todo> };

const stamp = () => ({ updatedAt: Date.now(), updatedBy: tab });
renderTodosFrom([]);
todos.find({ sort: [{ id: 'asc' }] }).$.subscribe((docs) => renderTodosFrom(docs.map((doc) => doc.toJSON() as Todo)));

function renderTodosFrom(list: Todo[]): void {
  renderTodos(ui.todos, list, {
    setText: (id, text) => void todos.findOne(id).exec().then((doc) => doc?.incrementalPatch({ text: text.slice(0, 500), ...stamp() })),
    setDone: (id, done) => void todos.findOne(id).exec().then((doc) => doc?.incrementalPatch({ done, ...stamp() })),
    // The deletion carries its own timestamp, so a later edit elsewhere can win over it.
    remove: (id) => void todos.findOne(id).exec().then(async (doc) => (await doc?.incrementalPatch(stamp()))?.incrementalRemove()),
  });
}

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.input.value.trim();
  if (!text) return;
  ui.input.value = '';
  const id = `${Date.now().toString(36)}-${tab}-${Math.random().toString(36).slice(2, 6)}`;
  void todos.insert({ id, text: text.slice(0, 500), done: false, ...stamp() });
});

/** One replication over one transport; replaced when the user picks another or goes offline. */
interface Session {
  pool: P2PReplicationPool<Todo>;
  peers: Map<string, PeerRow>;
  stopMeasuring(): void;
}
let session: Session | undefined;
let switching = Promise.resolve();

function showPeers(): void {
  const rows = session ? [...session.peers.values()] : [];
  renderPeers(ui.peers, rows);
  renderRoom(ui.picture, tab, transport, rows);
}

/** Round-trip times are read from WebRTC's statistics this often. */
const MEASURE_EVERY_MS = 2_000;
type MeasuredHandler = P2PConnectionHandler & { roundTripTime?(peer: P2PPeer): Promise<number | undefined> };

/** Reads every link's round-trip time now and then; returns what stops it. */
function measureRoundTrips(handlers: Map<string, { handler: MeasuredHandler; peer: P2PPeer }>, peers: Map<string, PeerRow>): () => void {
  const timer = setInterval(() => {
    void Promise.all(
      [...handlers].map(async ([id, { handler, peer }]) => {
        const ms = await handler.roundTripTime?.(peer);
        const row = peers.get(id);
        if (row && ms !== undefined) row.roundTripMs = ms;
      }),
    ).then(showPeers);
  }, MEASURE_EVERY_MS);
  return () => clearInterval(timer);
}

function watch(handler: MeasuredHandler, peers: Map<string, PeerRow>, linked: Map<string, { handler: MeasuredHandler; peer: P2PPeer }>): void {
  const own = (handler as { peerId?: string }).peerId;
  if (own) ui.self.textContent = `${tab}, peer id ${own}`;
  handler.connect$.subscribe((peer) => {
    peers.set(peer.id, { id: peer.id, name: peerName(peer.id), state: 'connected', since: Date.now() });
    linked.set(peer.id, { handler, peer });
    log(ui.log, 'peer', `${peerName(peer.id)} connected over ${TRANSPORT_LABELS[transport]} signaling`);
    showPeers();
  });
  handler.disconnect$.subscribe((peer) => {
    peers.delete(peer.id);
    linked.delete(peer.id);
    log(ui.log, 'peer', `${peerName(peer.id)} left`);
    showPeers();
  });
  handler.error$.subscribe((error) => log(ui.log, 'error', `${(error as { code?: string }).code ?? 'error'}: ${error.message}`));
}

async function start(name: TransportName): Promise<void> {
  const peers = new Map<string, PeerRow>();
  const linked = new Map<string, { handler: MeasuredHandler; peer: P2PPeer }>();
  // Ids that start with the tab's name, so the peer list and the picture name tabs as the
  // todos do; a Nostr peer's id is its public key, so it keeps that.
  const peerId = name === 'nostr' ? undefined : `${tab}-${Math.random().toString(36).slice(2, 6)}`;
  const base = createCreator(name, config, peerId ? { peerId } : {});
  const creator: P2PConnectionHandlerCreator = async (options) => {
    const handler = await base(options);
    watch(handler, peers, linked);
    return handler;
  };
  ui.status.textContent = `joining room "${room}" through the ${TRANSPORT_LABELS[name]}…`;
  ui.status.dataset.state = 'joining';
  const pool = await replicateP2P<Todo>({ collection: todos, topic: `p2p-demo-${room}`, connectionHandlerCreator: creator, pull: {}, push: {} });
  session = { pool, peers, stopMeasuring: measureRoundTrips(linked, peers) };
  pool.error$.subscribe((error) => log(ui.log, 'error', `replication: ${error.message}`));
  // A peer is "connected" once its link is open and "replicating" once RxDB runs a
  // replication with it; `active$` then tells whether that replication is moving documents.
  const activity = new Map<string, Subscription>();
  pool.peerStates$.subscribe((states) => {
    const replicating = new Map([...states.values()].map((state) => [state.peer.id, state]));
    for (const [id, subscription] of activity) {
      if (replicating.has(id)) continue;
      subscription.unsubscribe();
      activity.delete(id);
    }
    for (const row of peers.values()) if (!replicating.has(row.id)) row.state = 'connected';
    for (const [id, state] of replicating) {
      const row = peers.get(id);
      if (!row || activity.has(id)) continue;
      row.state = 'replicating';
      const active$ = state.replicationState?.active$;
      if (!active$) continue;
      activity.set(id, active$.subscribe((active) => {
        row.state = active ? 'syncing' : 'replicating';
        showPeers();
      }));
    }
    showPeers();
  });
  ui.status.textContent = `online in room "${room}" through the ${TRANSPORT_LABELS[name]}`;
  ui.status.dataset.state = 'online';
  log(ui.log, 'info', `joined room "${room}" through the ${TRANSPORT_LABELS[name]} (${name})`);
}

async function stop(): Promise<void> {
  const current = session;
  session = undefined;
  current?.stopMeasuring();
  showPeers();
  if (current) await current.pool.cancel();
  ui.status.textContent = 'offline: edits stay in this tab and sync when you go online';
  ui.status.dataset.state = 'offline';
}

function queue(step: () => Promise<void>): void {
  ui.transport.disabled = ui.online.disabled = true;
  switching = switching
    .then(step)
    .catch((error: unknown) => log(ui.log, 'error', error instanceof Error ? error.message : String(error)))
    .finally(() => {
      ui.transport.disabled = ui.online.disabled = false;
      ui.online.textContent = session ? 'Go offline' : 'Go online';
    });
}

for (const name of TRANSPORTS) ui.transport.append(new Option(`${name} (${TRANSPORT_LABELS[name]})`, name, name === transport, name === transport));
ui.transport.addEventListener('change', () => {
  if (!isTransportName(ui.transport.value)) return;
  transport = ui.transport.value;
  localStorage.setItem('p2p-demo-transport', transport);
  queue(async () => {
    await stop();
    await start(transport);
  });
});
ui.online.addEventListener('click', () => queue(() => (session ? stop() : start(transport))));
ui.room.textContent = room;
ui.self.textContent = tab;
document.body.dataset.ready = 'true';
queue(() => start(transport));
