/**
 * The room scheme on a real PeerServer, at the signaling level (no WebRTC): slots, probes,
 * discovery, isolation, held slots of dead peers, gaps, id ownership.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { ENVELOPE_TYPE, memberId, roomKeyOf, slotId } from '../handlers/peerjs/protocol.js';
import { startPeerServer, type RunningPeerServer } from '../handlers/peerjs/server.js';
import { PeerServerSocket } from '../handlers/peerjs/socket.js';
import type { WebSocketConstructor } from '../src/kit/websocket.js';
import { P2PErrorCode, isP2PError } from '../src/errors.js';
import { TimerSet } from '../src/mesh/timers.js';
import { closeRawSocket, rawPeerServerSocket } from './fixtures/peerjs-target.js';
import { Member, joinAll, leaveAll } from './fixtures/peerjs-members.js';
import { until } from './helpers/wait.js';

interface Context {
  plain: RunningPeerServer;
  listing: RunningPeerServer;
  members: Member[];
  raw: WebSocket[];
}

const test = suite<Context>('peerjs rooms', { members: [], raw: [] } as unknown as Context);
let counter = 0;
const room = () => `room-${process.pid}-${++counter}`;

test.before(async (ctx) => {
  // Messages to an offline id expire after 1 s here instead of 5 s, to keep the crash case short.
  [ctx.plain, ctx.listing] = await Promise.all([startPeerServer({ expireTimeoutMs: 1_000 }), startPeerServer({ allowDiscovery: true })]);
});
test.after(async (ctx) => {
  await Promise.all([ctx.plain.close(), ctx.listing.close()]);
});
test.before.each((ctx) => {
  ctx.members = [];
  ctx.raw = [];
});
test.after.each(async (ctx) => {
  await leaveAll(ctx.members);
  await Promise.all(ctx.raw.map(closeRawSocket));
});

function members(ctx: Context, server: RunningPeerServer, count: number, overrides: ConstructorParameters<typeof Member>[2] = {}): Member[] {
  const made = Array.from({ length: count }, () => new Member(server, undefined, overrides));
  ctx.members.push(...made);
  return made;
}

/** A peer that holds ids and never answers, like a frozen or vanished process whose sockets the server still holds. */
async function silentHolder(ctx: Context, server: RunningPeerServer, id: string): Promise<WebSocket> {
  const socket = await rawPeerServerSocket(server, id, `silent-${counter}`);
  ctx.raw.push(socket);
  return socket;
}

test('members that join one after another find each other through slots, and signals reach them', async (ctx) => {
  const topic = room();
  const all = members(ctx, ctx.plain, 5);
  for (const member of all) await member.join(topic);
  await Promise.all(all.map((member) => member.sees(all)));
  const [a, b] = all as [Member, Member];
  a.transport.send(b.peerId, { hi: 'there' });
  await until(() => b.signals.some((s) => s.from === a.peerId && (s.signal as { hi?: string }).hi === 'there'), 'the signal from a reaching b', 5_000);
});

test('members that join at once find each other', async (ctx) => {
  const all = members(ctx, ctx.plain, 6);
  await joinAll(all, room());
  await Promise.all(all.map((member) => member.sees(all)));
});

test('with allow_discovery, members are found through GET /peers, even one that holds no slot', async (ctx) => {
  const topic = room();
  const roomKey = await roomKeyOf(topic);
  const ghost = await silentHolder(ctx, ctx.listing, memberId(roomKey, 'ghost'));
  const greetings: string[] = [];
  ghost.on('message', (data) => greetings.push(String(data)));
  const [listed] = members(ctx, ctx.listing, 1, { discovery: true });
  const [probing] = members(ctx, ctx.listing, 1, { discovery: false });
  await probing!.join(topic);
  await new Promise((resolve) => setTimeout(resolve, 300)); // bounded: asserting that nothing comes
  assert.is(greetings.length, 0, 'a member that does not ask the server found the slot-less ghost');
  await listed!.join(topic);
  await until(() => greetings.some((text) => text.includes('"hello"') && text.includes(memberId(roomKey, listed!.peerId))), 'the listed member saying hello to the ghost', 5_000);
  await Promise.all([listed!.sees([probing!]), probing!.sees([listed!])]);
});

test('discovery on a server without allow_discovery falls back to slots', async (ctx) => {
  const all = members(ctx, ctx.plain, 3, { discovery: true });
  await joinAll(all, room());
  await Promise.all(all.map((member) => member.sees(all)));
});

test('rooms are isolated, with and without discovery', async (ctx) => {
  for (const [server, discovery] of [[ctx.listing, true], [ctx.plain, false]] as const) {
    const red = members(ctx, server, 3, { discovery });
    const blue = members(ctx, server, 3, { discovery });
    await Promise.all([joinAll(red, room()), joinAll(blue, room())]);
    await Promise.all([...red.map((member) => member.sees(red)), ...blue.map((member) => member.sees(blue))]);
    red[0]!.transport.send(blue[0]!.peerId, { across: true });
    await new Promise((resolve) => setTimeout(resolve, 200)); // bounded: asserting that nothing comes
    assert.ok(!blue[0]!.signals.some((s) => s.from === red[0]!.peerId), 'a signal crossed rooms');
  }
});

test('slots and ids still held for dead peers do not keep newcomers apart', async (ctx) => {
  const topic = room();
  const roomKey = await roomKeyOf(topic);
  for (let slot = 0; slot < 3; slot++) await silentHolder(ctx, ctx.plain, slotId(roomKey, slot));
  await silentHolder(ctx, ctx.plain, memberId(roomKey, 'deadPeer'));
  const pair = members(ctx, ctx.plain, 2);
  for (const member of pair) await member.joinAndClaim(topic);
  assert.equal(pair.map((member) => member.transport.slot), [3, 4], 'the held slots were not passed over');
  await Promise.all(pair.map((member) => member.sees(pair)));
  assert.ok(pair.every((member) => !member.present.has('deadPeer')), 'a silent id was reported present');
});

test('members that leave leave no gap that hides the members above them', async (ctx) => {
  const topic = room();
  const all = members(ctx, ctx.plain, 7);
  for (const [index, member] of all.entries()) assert.is(await member.joinAndClaim(topic), index, 'slots are claimed in order');
  await Promise.all(all.map((member) => member.sees(all)));
  const survivor = all[6]!;
  await leaveAll(all.slice(0, 6));
  await until(() => survivor.present.size === 0, 'the survivor hearing every goodbye', 5_000);
  await until(() => survivor.transport.slot === 0, 'the survivor moving down to slot 0', 5_000);
  const [newcomer] = members(ctx, ctx.plain, 1);
  await newcomer!.join(topic);
  await Promise.all([newcomer!.sees([survivor]), survivor.sees([newcomer!])]);
});

/** Members whose sockets a test can cut, as a crash would: no goodbye, the server frees their ids. */
function crashable(ctx: Context, count: number): { all: Member[]; crash(members: Member[]): Promise<void> } {
  const sockets = new Map<Member, WebSocket[]>();
  const all = Array.from({ length: count }, () => {
    const own: WebSocket[] = [];
    const Tracked = class extends WebSocket {
      constructor(url: string) {
        super(url);
        own.push(this);
      }
    };
    const member = new Member(ctx.plain, undefined, { WebSocket: async () => Tracked as unknown as WebSocketConstructor });
    sockets.set(member, own);
    return member;
  });
  ctx.members.push(...all);
  return {
    all,
    async crash(crashed) {
      for (const member of crashed) for (const socket of sockets.get(member)!) socket.terminate();
      await until(() => crashed.every((member) => member.lost !== undefined), 'the crashed members losing their sockets', 5_000);
    },
  };
}

test('a newcomer in the slot of a member that just crashed finds the members above it at once', async (ctx) => {
  const topic = room();
  const { all, crash } = crashable(ctx, 3);
  for (const [index, member] of all.entries()) assert.is(await member.joinAndClaim(topic), index, 'slots are claimed in order');
  await Promise.all(all.map((member) => member.sees(all)));
  await crash([all[0]!]);
  const [newcomer] = members(ctx, ctx.plain, 1);
  assert.is(await newcomer!.joinAndClaim(topic), 0);
  const rest = all.slice(1);
  await Promise.all([newcomer!.sees(rest, 2_000), ...rest.map((member) => until(() => member.present.has(newcomer!.peerId), 'the newcomer being seen', 2_000))]);
});

test('a gap left by crashed members closes once their departure is noticed', async (ctx) => {
  const topic = room();
  const { all, crash } = crashable(ctx, 7);
  for (const [index, member] of all.entries()) assert.is(await member.joinAndClaim(topic), index, 'slots are claimed in order');
  await Promise.all(all.map((member) => member.sees(all)));
  const survivor = all[6]!;
  const crashed = all.slice(0, 6);
  await crash(crashed);
  // Joins while the survivor still believes in the crashed: it lands in slot 0, probes a few
  // slots above and misses the survivor, six slots up.
  const [newcomer] = members(ctx, ctx.plain, 1);
  assert.is(await newcomer!.joinAndClaim(topic), 0);
  await new Promise((resolve) => setTimeout(resolve, 300)); // bounded: asserting that nothing comes
  assert.ok(!newcomer!.present.has(survivor.peerId), 'the newcomer found the survivor past the gap before it moved');
  // What the mesh core does when links die: it signals the peers again; those expire.
  for (const member of crashed) survivor.transport.send(member.peerId, { retry: true });
  await Promise.all([newcomer!.sees([survivor], 15_000), survivor.sees([newcomer!], 15_000)]);
});

test('a re-join takes over the id the server still holds for us (same token), another token is refused', async (ctx) => {
  const id = memberId(await roomKeyOf(room()), 'takeover');
  const stale = await silentHolder(ctx, ctx.plain, id);
  const timers = new TimerSet();
  const settings = { WebSocket: WebSocket as unknown as WebSocketConstructor, timers, pingIntervalMs: 5_000, openTimeoutMs: 5_000 };
  const events = { message: () => {}, malformed: () => {}, closed: () => {} };
  const url = (token: string) => `ws://${ctx.plain.host}:${ctx.plain.port}/peerjs?${new URLSearchParams({ key: 'peerjs', id, token })}`;
  const intruder = new PeerServerSocket(url('another-token'), id, settings, events);
  const refused = await intruder.open().then(() => undefined, (error: unknown) => error);
  assert.ok(isP2PError(refused, P2PErrorCode.ID_TAKEN), `expected ERR_ID_TAKEN, got ${String(refused)}`);
  const heard: string[] = [];
  const owner = new PeerServerSocket(url(`silent-${counter}`), id, settings, { ...events, message: (m) => heard.push(m.type) });
  await owner.open();
  const staleHeard: string[] = [];
  stale.on('message', (data) => staleHeard.push(String(data)));
  const [sender] = members(ctx, ctx.plain, 1);
  await sender!.join(room());
  // Messages for the id now reach the new socket, not the stale one.
  const probe = new PeerServerSocket(url('probe-token').replace(encodeURIComponent(id), 'probeSender'), 'probeSender', settings, events);
  await probe.open();
  probe.send(ENVELOPE_TYPE, id, { p2ph: 1, kind: 'hello' });
  await until(() => heard.includes(ENVELOPE_TYPE), 'the message reaching the socket that took the id over', 5_000);
  assert.is(staleHeard.length, 0, 'the stale socket still received messages for the id');
  await Promise.all([owner.close(), probe.close(), intruder.close()]);
  timers.dispose();
});

test('a second member with the same peer id is refused with ERR_ID_TAKEN; a non-PeerJS id with ERR_INVALID_OPTION', async (ctx) => {
  const topic = room();
  const [first] = members(ctx, ctx.plain, 1);
  await first!.join(topic);
  const twin = new Member(ctx.plain, first!.peerId);
  ctx.members.push(twin);
  const taken = await twin.join(topic).then(() => undefined, (error: unknown) => error);
  assert.ok(isP2PError(taken, P2PErrorCode.ID_TAKEN), `expected ERR_ID_TAKEN, got ${String(taken)}`);
  const odd = new Member(ctx.plain, 'not a -valid- id!');
  const invalid = await odd.join(topic).then(() => undefined, (error: unknown) => error);
  assert.ok(isP2PError(invalid, P2PErrorCode.INVALID_OPTION), `expected ERR_INVALID_OPTION, got ${String(invalid)}`);
});

test('leave() tells the others at once (no wait for an expiry)', async (ctx) => {
  const pair = members(ctx, ctx.plain, 2);
  await joinAll(pair, room());
  await Promise.all(pair.map((member) => member.sees(pair)));
  await pair[1]!.leave();
  await until(() => pair[0]!.present.size === 0, 'the goodbye arriving', 500);
});

test.run();
