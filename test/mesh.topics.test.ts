/**
 * One creator = one peer per set of topics: its handlers (one per RxDB collection) share one
 * link per remote peer; the same topic again is a second peer of its own, as in RxDB.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import wrtc from '@roamhq/wrtc';
import { createMeshHandlerCreator, getConnectionHandlerMulti, type MeshHandlerCreator } from '../src/mesh/mesh-creator.js';
import type { WebRTCMeshHandler } from '../src/mesh/mesh.js';
import { FrameDecoder, FrameType, MAX_CHANNELS, encodeJoin, encodeMessage } from '../src/mesh/framing.js';
import { topicTag } from '../src/mesh/topic-tag.js';
import type { P2PError } from '../src/errors.js';
import type { P2PPeer } from '../src/types.js';
import { SignalingBus } from './helpers/signaling-bus.js';
import { RawPeer } from './helpers/raw-peer.js';
import { next, until } from './helpers/wait.js';
import { TimerTracker } from '../src/conformance/resources.js';

const opened: WebRTCMeshHandler[] = [];
const rawPeers: RawPeer[] = [];

test.after.each(async () => {
  for (const raw of rawPeers.splice(0)) raw.destroy();
  await Promise.allSettled(opened.splice(0).map((handler) => handler.close()));
});

/**
 * A creator whose RTCPeerConnections are counted: `connections`, those that got a remote
 * description, in either role (spare connections the core keeps ready and never uses are
 * not); `unclosed`, every one made and not closed yet. Without `peerId`, each peer it starts
 * picks a random id.
 */
function peer(bus: SignalingBus, peerId?: string): { creator: MeshHandlerCreator; connections: () => number; unclosed: () => number } {
  const linked = new Set<unknown>();
  const unclosed = new Set<unknown>();
  class CountedPeerConnection extends (wrtc as any).RTCPeerConnection {
    constructor(...args: any[]) {
      super(...args);
      unclosed.add(this);
    }
    setRemoteDescription(...args: any[]) {
      linked.add(this);
      return super.setRemoteDescription(...args);
    }
    close() {
      unclosed.delete(this);
      return super.close();
    }
  }
  const creator = createMeshHandlerCreator({
    options: { ...(peerId === undefined ? {} : { peerId }), config: { iceServers: [] }, wrtc: { ...(wrtc as any), RTCPeerConnection: CountedPeerConnection } },
    signaling: () => bus.transport(),
  });
  return { creator, connections: () => linked.size, unclosed: () => unclosed.size };
}

/** A handler with every connect$ recorded from the start (subjects are hot). */
interface Opened {
  handler: WebRTCMeshHandler;
  peers: Map<string, P2PPeer>;
  /** Resolves once `count` peers are connected. */
  connected(count: number, what: string): Promise<void>;
}

async function open(creator: MeshHandlerCreator, topic: string): Promise<Opened> {
  const handler = await creator({ topic });
  opened.push(handler);
  const peers = new Map<string, P2PPeer>();
  const waiters = new Set<() => void>();
  handler.connect$.subscribe((peer) => {
    peers.set(peer.id, peer);
    for (const check of waiters) check();
  });
  handler.disconnect$.subscribe((peer) => peers.delete(peer.id));
  const connected = (count: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: ${peers.size} of ${count} peers connected within 15000 ms`)), 15_000);
      const check = () => {
        if (peers.size < count) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    });
  return { handler, peers, connected };
}

const TOPICS = ['todos-topic', 'notes-topic', 'users-topic'];

test('3 peers with 3 topics each: 2 WebRTC connections per peer, not 6; messages stay in their topic', async () => {
  const bus = new SignalingBus();
  const peers = ['aaaa', 'bbbb', 'cccc'].map((id) => peer(bus, id));
  const rows: Opened[][] = [];
  for (const { creator } of peers) rows.push(await Promise.all(TOPICS.map((topic) => open(creator, topic))));
  await Promise.all(rows.flat().map((row) => row.connected(2, `${row.handler.peerId} on ${row.handler.topic}`)));
  assert.equal(peers.map(({ connections }) => connections()), [2, 2, 2]);

  const [aTodos] = rows[0]!;
  const [bTodos, bNotes, bUsers] = rows[1]!;
  let elsewhere = 0;
  for (const other of [bNotes!, bUsers!]) other.handler.message$.subscribe(() => elsewhere++);
  const arrived = next(bTodos!.handler.message$, 'B todos message$');
  await aTodos!.handler.send(aTodos!.peers.get('bbbb')!, { id: 'm1', method: 'masterChangesSince', params: [] });
  const { peer: sender, message } = await arrived;
  assert.is(message.id, 'm1');
  assert.is(sender, bTodos!.peers.get('aaaa'), 'the todos handler’s own peer object');
  assert.is.not(sender, bNotes!.peers.get('aaaa'), 'each topic hands out its own peer objects');
  assert.is(elsewhere, 0, 'a todos message never reaches another topic');
});

test('closing one topic disconnects only that topic at once; the shared link stays', async () => {
  const bus = new SignalingBus();
  const [a, b] = [peer(bus, 'aaaa'), peer(bus, 'bbbb')];
  const aRows = await Promise.all(TOPICS.slice(0, 2).map((topic) => open(a.creator, topic)));
  const bRows = await Promise.all(TOPICS.slice(0, 2).map((topic) => open(b.creator, topic)));
  await Promise.all([...aRows, ...bRows].map((row) => row.connected(1, `${row.handler.peerId} on ${row.handler.topic}`)));
  const bLostTodos = next(bRows[0]!.handler.disconnect$, 'B todos disconnect$ after A closed todos', 5_000);
  let notesDisconnects = 0;
  bRows[1]!.handler.disconnect$.subscribe(() => notesDisconnects++);
  await aRows[0]!.handler.close();
  await bLostTodos;
  const reply = next(bRows[1]!.handler.response$, 'B notes response$ over the same link');
  await aRows[1]!.handler.send(aRows[1]!.peers.get('bbbb')!, { id: 'notes-still', result: '' });
  assert.equal((await reply).response, { id: 'notes-still', result: '' });
  assert.is(notesDisconnects, 0);
  assert.equal([a.connections(), b.connections()], [1, 1]);
});

test('a topic opened later joins the existing link without a new connection', async () => {
  const bus = new SignalingBus();
  const [a, b] = [peer(bus, 'aaaa'), peer(bus, 'bbbb')];
  const aTodos = await open(a.creator, 'todos-topic');
  const bTodos = await open(b.creator, 'todos-topic');
  await Promise.all([aTodos.connected(1, 'A todos'), bTodos.connected(1, 'B todos')]);
  const aNotes = await open(a.creator, 'notes-topic');
  const bNotes = await open(b.creator, 'notes-topic');
  await Promise.all([aNotes.connected(1, 'A notes'), bNotes.connected(1, 'B notes')]);
  assert.equal([a.connections(), b.connections()], [1, 1]);
});

test('a topic only one side has never shows the other peer there', async () => {
  const bus = new SignalingBus();
  const [a, b] = [peer(bus, 'aaaa'), peer(bus, 'bbbb')];
  const aTodos = await open(a.creator, 'todos-topic');
  const aNotes = await open(a.creator, 'notes-topic');
  const bTodos = await open(b.creator, 'todos-topic');
  await Promise.all([aTodos.connected(1, 'A todos'), bTodos.connected(1, 'B todos')]);
  const bProbe = await open(b.creator, 'users-topic');
  const aUsersSeen = await Promise.race([aNotes.connected(1, 'A notes').then(() => true), new Promise((resolve) => setTimeout(resolve, 500, false))]);
  assert.is(aUsersSeen, false, 'A’s notes handler never lists B');
  assert.is(bProbe.peers.size, 0);
});

test('a topic opened after the other side already has it: connect$ comes after the creator resolved', async () => {
  const bus = new SignalingBus();
  const [a, b] = [peer(bus, 'aaaa'), peer(bus, 'bbbb')];
  const [aTodos, bTodos] = [await open(a.creator, 'todos-topic'), await open(b.creator, 'todos-topic')];
  await Promise.all([aTodos.connected(1, 'A todos'), bTodos.connected(1, 'B todos')]);
  const bNotes = await open(b.creator, 'notes-topic');
  // The channel is ordered: once this message is in, B's notes announcement is in at A too,
  // before A has a notes handler.
  const received = next(aTodos.handler.message$, 'A todos message$');
  await bTodos.handler.send(bTodos.peers.get('aaaa')!, { method: 'ping', id: 'after-notes', params: [] } as any);
  await received;
  const aNotes = await open(a.creator, 'notes-topic');
  await Promise.all([aNotes.connected(1, 'A notes, armed right after its creator resolved'), bNotes.connected(1, 'B notes')]);
  const message = next(bNotes.handler.message$, 'B notes message$ from A');
  await aNotes.handler.send(aNotes.peers.get('bbbb')!, { method: 'hello', id: 'n1', params: [] } as any);
  assert.is(((await message) as any).message.id, 'n1');
});

test('closing the last topic ends the peer: links close and remotes see every topic disconnect', async () => {
  const bus = new SignalingBus();
  const [a, b] = [peer(bus, 'aaaa'), peer(bus, 'bbbb')];
  const aRows = await Promise.all(TOPICS.slice(0, 2).map((topic) => open(a.creator, topic)));
  const bRows = await Promise.all(TOPICS.slice(0, 2).map((topic) => open(b.creator, topic)));
  await Promise.all([...aRows, ...bRows].map((row) => row.connected(1, `${row.handler.peerId} on ${row.handler.topic}`)));
  const gone = bRows.map((row) => next(row.handler.disconnect$, `B ${row.handler.topic} disconnect$`, 5_000));
  await Promise.all(aRows.map((row) => row.handler.close()));
  await Promise.all(gone);
  const again = await open(a.creator, 'todos-topic');
  await again.connected(1, 'A todos after coming back');
  assert.is(a.connections(), 2, 'a new peer session makes a new link');
});

test('the same topic twice on one creator: a second peer with its own id, and the two link to each other', async () => {
  const bus = new SignalingBus();
  const { creator } = peer(bus);
  // At once, as two databases given one hoisted creator may open it.
  const [first, second] = await Promise.all([open(creator, 'todos-topic'), open(creator, 'todos-topic')]);
  assert.is.not(first.handler.peerId, second.handler.peerId);
  await Promise.all([first.connected(1, 'first todos'), second.connected(1, 'second todos')]);
  assert.equal([...first.peers.keys()], [second.handler.peerId]);
  const arrived = next(second.handler.message$, 'second todos message$ from the first');
  await first.handler.send(first.peers.get(second.handler.peerId)!, { id: 'twin', method: 'masterChangesSince', params: [] });
  assert.is((await arrived).message.id, 'twin');
});

test('other topics keep sharing one peer and one link; a second peer takes the topics free on it', async () => {
  const bus = new SignalingBus();
  const { creator, connections } = peer(bus);
  const [todos, notes] = await Promise.all([open(creator, 'todos-topic'), open(creator, 'notes-topic')]);
  assert.is(notes.handler.peerId, todos.handler.peerId, 'topics opened at once share one peer');
  const todos2 = await open(creator, 'todos-topic');
  const users = await open(creator, 'users-topic');
  const notes2 = await open(creator, 'notes-topic');
  assert.is.not(todos2.handler.peerId, todos.handler.peerId);
  assert.is(users.handler.peerId, todos.handler.peerId, 'a topic open nowhere goes to the first peer');
  assert.is(notes2.handler.peerId, todos2.handler.peerId, 'the second peer takes notes, free on it');
  await Promise.all([todos, notes, todos2, notes2].map((row) => row.connected(1, `${row.handler.peerId} on ${row.handler.topic}`)));
  assert.is(connections(), 2, 'one link between the two peers (one RTCPeerConnection on each side)');
});

test('getConnectionHandlerMulti gives a second peer on the same topic too', async () => {
  const bus = new SignalingBus();
  const creator = getConnectionHandlerMulti([peer(bus).creator, peer(bus).creator]);
  const [first, second] = [await open(creator, 'todos-topic'), await open(creator, 'todos-topic')];
  assert.is.not(first.handler.peerId, second.handler.peerId);
  await Promise.all([first.connected(1, 'first todos'), second.connected(1, 'second todos')]);
});

test('a pinned peerId cannot be a second peer on one topic: ERR_ID_TAKEN, and the first keeps working', async () => {
  const bus = new SignalingBus();
  const [a, b] = [peer(bus, 'aaaa'), peer(bus, 'bbbb')];
  const aTodos = await open(a.creator, 'todos-topic');
  const error = await a.creator({ topic: 'todos-topic' }).then(() => undefined, (e) => e);
  assert.is(error?.code, 'ERR_ID_TAKEN');
  assert.match(error.message, /aaaa.*its own creator and peerId/);
  const aNotes = await open(a.creator, 'notes-topic');
  assert.is(aNotes.handler.peerId, 'aaaa', 'another topic still opens on the pinned peer');
  const bTodos = await open(b.creator, 'todos-topic');
  await Promise.all([aTodos.connected(1, 'A todos'), bTodos.connected(1, 'B todos')]);
  await aTodos.handler.close();
  const aTodosAgain = await open(a.creator, 'todos-topic');
  assert.is(aTodosAgain.handler.peerId, 'aaaa', 'once closed, the topic opens on the pinned peer again');
});

test('closing both peers of one topic releases them: connections closed, no timer left, the next call a fresh peer', async () => {
  const tracker = new TimerTracker();
  tracker.start();
  try {
    const bus = new SignalingBus();
    const [a, b] = [peer(bus), peer(bus, 'bbbb')];
    const [first, second] = [await open(a.creator, 'todos-topic'), await open(a.creator, 'todos-topic')];
    const bTodos = await open(b.creator, 'todos-topic');
    await Promise.all([first, second, bTodos].map((row) => row.connected(2, `${row.handler.peerId} on todos`)));
    await Promise.all([first.handler.close(), second.handler.close()]);
    await until(() => bTodos.peers.size === 0, 'B losing both of A’s peers', 5_000);
    const again = await open(a.creator, 'todos-topic');
    assert.not.ok([first.handler.peerId, second.handler.peerId].includes(again.handler.peerId), 'a closed peer is not reused');
    await Promise.all([again.connected(1, 'A todos again'), bTodos.connected(1, 'B todos, A again')]);
    await Promise.all([again.handler.close(), bTodos.handler.close()]);
    await until(() => a.unclosed() + b.unclosed() === 0, 'every RTCPeerConnection closed', 5_000);
    assert.equal(await tracker.settle(5_000), [], 'timers left after every handler closed');
  } finally {
    tracker.stop();
  }
});

test('a peer that writes on an unannounced channel, or announces too many topics, is dropped', async () => {
  const bus = new SignalingBus();
  const { creator } = peer(bus, 'aaaa');
  const a = await open(creator, 'evil-topic');
  for (const attack of ['unannounced', 'too-many'] as const) {
    const raw = new RawPeer(bus.transport(), attack === 'unannounced' ? 'zzzz' : 'zzzy', `${attack}-session`);
    rawPeers.push(raw);
    const linkOpen = raw.connected();
    const connected = next(a.handler.connect$, `A connect$ of the ${attack} raw peer`);
    await raw.join('evil-topic');
    await Promise.all([linkOpen, connected]);
    const error = next(a.handler.error$, `A error$ for ${attack}`, 10_000, (e: P2PError) => e.code === 'ERR_PROTOCOL');
    const dropped = next(a.handler.disconnect$, `A disconnect$ of the ${attack} raw peer`);
    if (attack === 'unannounced') raw.send(Uint8Array.of(FrameType.WHOLE, 0, 9, 0x7b, 0x7d));
    else for (let channel = 1; channel <= MAX_CHANNELS; channel++) raw.send(encodeJoin(channel, `t${channel}`));
    await Promise.all([error, dropped]);
    raw.destroy();
  }
});

test('a peer of one topic learns nothing of our others and cannot get into them by replaying what it heard', async () => {
  const bus = new SignalingBus();
  const { creator } = peer(bus, 'aaaa');
  const t1 = await open(creator, 'shared-t1');
  const t2 = await open(creator, 'secret-t2');
  const raw = new RawPeer(bus.transport(), 'zzzb', 'isolation-session');
  rawPeers.push(raw);
  const linkOpen = raw.connected();
  await raw.join('shared-t1');
  await Promise.all([linkOpen, t1.connected(1, 'A meeting B in shared-t1')]);
  const b = t1.peers.get('zzzb')!;
  // Frames on a link arrive in order: once B has A's message, it has every announcement A sent before.
  const heard = (what: string, predicate: (frame: Uint8Array) => boolean) => until(() => raw.frames.some(predicate), what);
  const isWhole = (frame: Uint8Array) => frame[0] === FrameType.WHOLE;
  await t1.handler.send(b, { id: 'sync-1', method: 'ping', params: [] });
  await heard('A’s first message reaching B', isWhole);
  const decoder = new FrameDecoder(1 << 20);
  const joins = raw.frames.filter((frame) => frame[0] === FrameType.JOIN).map((frame) => decoder.decode(frame) as { tag: string });
  assert.equal(joins.map((join) => join.tag), [topicTag('shared-t1', 'aaaa', 'zzzb')], 'only shared-t1 is announced to B, as a tag');
  const text = new TextDecoder().decode(Uint8Array.from(raw.frames.flatMap((frame) => [...frame])));
  assert.not.ok(text.includes('secret-t2') || text.includes('shared-t1'), 'no topic name on the link');

  // Replays and guesses: A's own tags sent back, A's tag for secret-t2 (as if B had heard it), the bare name.
  const t2Connects: string[] = [];
  t2.handler.connect$.subscribe((peer) => t2Connects.push(peer.id));
  const attempts = [topicTag('shared-t1', 'aaaa', 'zzzb'), topicTag('secret-t2', 'aaaa', 'zzzb'), 'secret-t2', topicTag('secret-t2', 'zzzb', 'aaaa')];
  const sync = async (round: number) => {
    const received = next(t1.handler.message$, `B’s message ${round} reaching A`, 15_000, ({ message }) => message.id === `sync-b-${round}`);
    for (const frame of encodeMessage({ id: `sync-b-${round}`, method: 'ping', params: [] }, 0, 1 << 20)) raw.send(frame);
    await received;
  };
  attempts.slice(0, 3).forEach((tag, index) => raw.send(encodeJoin(5 + index, tag)));
  await sync(1);
  assert.equal(t2Connects, [], 'replayed tags and the bare name do not get B into secret-t2');
  // Even the right tag is refused from a peer never seen in secret-t2's room.
  raw.send(encodeJoin(9, attempts[3]!));
  await sync(2);
  assert.equal(t2Connects, [], 'the right tag from a peer not seen in the room does not get it in');

  // Seen in secret-t2's room, B is announced the topic and, with the right tag, gets in.
  const t2Link = next(t2.handler.connect$, 'B admitted to secret-t2', 15_000, (peer) => peer.id === 'zzzb');
  const inRoom = bus.transport();
  await inRoom.join('secret-t2', 'zzzb', { peerJoined: () => {}, peerLeft: () => {}, lost: () => {}, error: () => {}, signal: () => {} });
  raw.send(encodeJoin(10, attempts[3]!));
  await t2Link;
  await inRoom.leave();
});

test.run();
