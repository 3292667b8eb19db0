/**
 * What a hostile or broken PeerServer (or whoever it relays) can do to the PeerJS transport:
 * every malformed message and id is a typed error on error$, never a crash or an unhandled
 * rejection, and the transport keeps working; refusals at connect time are typed and final.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_ROSTER, memberId, roomKeyOf } from '../handlers/peerjs/protocol.js';
import { PROBE_WINDOW } from '../handlers/peerjs/client.js';
import { P2PErrorCode, isP2PError } from '../src/errors.js';
import { Member } from './fixtures/peerjs-members.js';
import { startFakePeerServer, type FakePeerServer } from './fixtures/peerjs-fake-server.js';
import { until } from './helpers/wait.js';

const test = suite<{ fake: FakePeerServer; members: Member[] }>('peerjs hostile server', {} as never);
const escaped: unknown[] = [];
const record = (error: unknown) => escaped.push(error);

test.before(() => {
  process.on('unhandledRejection', record);
  process.on('uncaughtException', record);
});
test.after(() => {
  process.off('unhandledRejection', record);
  process.off('uncaughtException', record);
});
test.before.each(async (ctx) => {
  ctx.fake = await startFakePeerServer();
  ctx.members = [];
});
test.after.each(async (ctx) => {
  await Promise.all(ctx.members.map((member) => member.leave()));
  await ctx.fake.close();
  assert.equal(escaped, [], 'an error escaped as an unhandled rejection or exception');
});

function member(ctx: { fake: FakePeerServer; members: Member[] }, overrides: ConstructorParameters<typeof Member>[2] = {}): Member {
  const made = new Member(ctx.fake, 'target', { openTimeoutMs: 1_000, ...overrides });
  ctx.members.push(made);
  return made;
}

test('malformed frames, foreign or malformed ids and bad envelopes are typed errors; the transport keeps working', async (ctx) => {
  const topic = 'hostile-room';
  const roomKey = await roomKeyOf(topic);
  const target = member(ctx);
  await target.join(topic);
  const socket = ctx.fake.sockets.get(memberId(roomKey, 'target'))!;
  const friend = memberId(roomKey, 'friend');
  const relayed = (src: unknown, payload: unknown, type = 'CANDIDATE') => JSON.stringify({ type, src, dst: memberId(roomKey, 'target'), payload });
  const garbage: Array<string | Buffer> = [
    'not json',
    Buffer.from([1, 2, 3]),
    '[]',
    '{}',
    '{"type":42}',
    '{"type":"CANDIDATE","payload":{}}',
    relayed(12, {}),
    relayed('someone-else', { p2ph: 1, kind: 'hello' }),
    relayed('__proto__', { p2ph: 1, kind: 'hello' }),
    relayed(`${roomKey}_bad id!!`, { p2ph: 1, kind: 'hello' }),
    relayed(`${roomKey}_${'a'.repeat(600)}`, { p2ph: 1, kind: 'hello' }),
    relayed(`${roomKey}-0x10`, { p2ph: 1, kind: 'hello' }),
    relayed(friend, 'a string'),
    relayed(friend, { p2ph: 2, kind: 'hello' }),
    relayed(friend, { p2ph: 1, kind: 'weird' }),
    relayed(friend, { p2ph: 1, kind: 'welcome', peers: 'nope' }),
    relayed(friend, { p2ph: 1, kind: 'hello', slot: -1 }),
    relayed(friend, { p2ph: 1, kind: 'signal' }),
    relayed('foreign', undefined, 'EXPIRE'),
    relayed(friend, {}, 'FOO'),
    '{"type":"ID-TAKEN"}',
    'x'.repeat(1_000_000),
  ];
  for (const frame of garbage) socket.send(frame);
  // Valid, but hostile in size: only MAX_ROSTER ids of a roster are greeted, and junk is skipped.
  const roster = [1, null, 'bad id!', ...Array.from({ length: 5_000 }, (_, i) => `p${i}`)];
  socket.send(relayed(friend, { p2ph: 1, kind: 'welcome', peers: roster }));
  socket.send('{"type":"OPEN"}');
  socket.send(relayed(friend, { p2ph: 1, kind: 'hello', slot: 3 }));
  await until(() => target.present.has('friend'), 'the valid hello after the garbage', 5_000);
  await until(() => ctx.fake.received.some(({ message }) => message.dst === friend && (message.payload as { kind?: string })?.kind === 'welcome'), 'the welcome answering it', 5_000);
  // One error per bad frame; the valid ones (the big roster, a repeated OPEN, the hello) none.
  assert.is(target.errors.length, garbage.length, target.errors.map((error) => error.message).join('\n'));
  for (const error of target.errors) {
    assert.ok(error.code === P2PErrorCode.SIGNALING || error.code === P2PErrorCode.PROTOCOL, `unexpected code ${error.code}: ${error.message}`);
  }
  assert.equal([...target.present], ['friend'], 'hearsay or a malformed id was reported present');
  const greeted = ctx.fake.received.filter(({ message }) => (message.payload as { kind?: string })?.kind === 'hello' && message.dst?.startsWith(`${roomKey}_p`));
  assert.ok(greeted.length <= MAX_ROSTER, `${greeted.length} hellos for one roster`);
  assert.is(target.lost, undefined, 'the garbage cost the connection');
});

test('a hello claiming a far slot moves the probe frontier by one window, not to that slot', async (ctx) => {
  const topic = 'far-slot-room';
  const roomKey = await roomKeyOf(topic);
  const target = member(ctx);
  await target.join(topic);
  const socket = ctx.fake.sockets.get(memberId(roomKey, 'target'))!;
  const friend = memberId(roomKey, 'friend');
  const slotHellos = () => ctx.fake.received.filter(({ message }) => (message.payload as { kind?: string })?.kind === 'hello' && /-\d+$/.test(message.dst ?? '')).length;
  const before = slotHellos();
  socket.send(JSON.stringify({ type: 'CANDIDATE', src: friend, dst: memberId(roomKey, 'target'), payload: { p2ph: 1, kind: 'hello', slot: 100_000 } }));
  await until(() => target.present.has('friend'), 'the far-slot hello heard', 5_000);
  await until(() => ctx.fake.received.some(({ message }) => message.dst === friend && (message.payload as { kind?: string })?.kind === 'welcome'), 'the welcome answering it', 5_000);
  // The join's own probe above our slot may still be going out: one window for it, one for the claim.
  const probes = slotHellos() - before;
  assert.ok(probes <= 2 * PROBE_WINDOW, `${probes} slot hellos for one far-slot claim (window ${PROBE_WINDOW})`);
});

test('refusals when connecting are typed: ID-TAKEN, invalid key, ERROR without a reason', async (ctx) => {
  const cases: Array<[string, string, string]> = [
    ['{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}', P2PErrorCode.ID_TAKEN, 'id taken'],
    ['{"type":"ERROR","payload":{"msg":"Invalid key provided"}}', P2PErrorCode.UNAUTHORIZED, 'invalid key'],
    ['{"type":"INVALID-KEY"}', P2PErrorCode.UNAUTHORIZED, 'peerjs invalid-key type'],
    ['{"type":"ERROR","payload":"junk"}', P2PErrorCode.SIGNALING, 'error without reason'],
    ['{"type":"ERROR","payload":{"msg":"Server has reached its concurrent user limit"}}', P2PErrorCode.SIGNALING, 'server full (retried)'],
  ];
  for (const [answer, code, what] of cases) {
    ctx.fake.onConnection = (_id, socket) => {
      socket.send(answer);
      socket.close();
    };
    const refused = await member(ctx).join(`refusal-${what}`).then(() => undefined, (error: unknown) => error);
    assert.ok(isP2PError(refused, code as P2PErrorCode), `${what}: expected ${code}, got ${String(refused)}`);
  }
});

test('a server that never answers times out, one that hangs up is a signaling error', async (ctx) => {
  ctx.fake.onConnection = () => {};
  const silent = await member(ctx).join('silent-server').then(() => undefined, (error: unknown) => error);
  assert.ok(isP2PError(silent, P2PErrorCode.TIMEOUT), `expected ERR_TIMEOUT, got ${String(silent)}`);
  ctx.fake.onConnection = (_id, socket) => socket.terminate();
  const dropped = await member(ctx).join('dropping-server').then(() => undefined, (error: unknown) => error);
  assert.ok(isP2PError(dropped, P2PErrorCode.SIGNALING), `expected ERR_SIGNALING, got ${String(dropped)}`);
});

test('a garbage /peers listing falls back to slots; a dropped connection after joining is `lost`', async (ctx) => {
  for (const body of ['not json', '{}', '[1,null,{"a":1},"x"]', '']) {
    ctx.fake.onListing = (response) => response.end(body);
    const listed = member(ctx, { discovery: true });
    await listed.join(`listing-${body.length}`);
    await until(() => listed.transport.slot !== undefined, 'a slot claimed after a garbage listing', 5_000);
  }
  assert.ok(ctx.fake.listings >= 4, 'the listing was not asked for');
  const target = ctx.members[0]!;
  ctx.fake.sockets.forEach((socket) => socket.terminate());
  await until(() => target.lost !== undefined, 'the lost connection being reported', 5_000);
  assert.is(target.lost!.code, P2PErrorCode.SIGNALING);
});

test.run();
