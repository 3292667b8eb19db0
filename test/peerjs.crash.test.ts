/**
 * Peers that die without leaving, over real WebRTC on a local PeerServer: a newcomer still
 * joins the room and connects to the survivors, whether the dead peer's sockets were dropped
 * by the server (crash, SIGKILL) or are still held (a frozen process: SIGSTOP).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { getConnectionHandlerPeerJS } from '../handlers/peerjs/client.js';
import { startPeerServer, type RunningPeerServer } from '../handlers/peerjs/server.js';
import { simulateCrash, type WebRTCMeshHandler } from '../src/mesh/mesh.js';
import type { P2PPeer } from '../src/types.js';
import { next } from './helpers/wait.js';

interface Context {
  server: RunningPeerServer;
  handlers: WebRTCMeshHandler[];
  children: ChildProcess[];
}

const test = suite<Context>('peerjs crashes', { handlers: [], children: [] } as unknown as Context);
const CHILD = fileURLToPath(new URL('./fixtures/peerjs-child-peer.ts', import.meta.url));
let counter = 0;

test.before(async (ctx) => {
  ctx.server = await startPeerServer();
});
test.after(async (ctx) => {
  await ctx.server.close();
});
test.before.each((ctx) => {
  ctx.handlers = [];
  ctx.children = [];
});
test.after.each(async (ctx) => {
  await Promise.all(ctx.handlers.map((handler) => handler.close()));
  await Promise.all(
    ctx.children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }),
  );
});

async function open(ctx: Context, topic: string): Promise<WebRTCMeshHandler> {
  const handler = await getConnectionHandlerPeerJS({
    ...ctx.server.clientOptions,
    config: { iceServers: [] },
    heartbeatIntervalMs: 500,
    peerTimeoutMs: 2_000,
  })({ topic });
  ctx.handlers.push(handler);
  return handler;
}

/** Arms a wait for `handler` to connect to `peerId` (arm before the action). */
const connects = (handler: WebRTCMeshHandler, peerId: string, what: string) =>
  next(handler.connect$, what, 15_000, (peer: P2PPeer) => peer.id === peerId);
const disconnects = (handler: WebRTCMeshHandler, peerId: string, what: string) =>
  next(handler.disconnect$, what, 15_000, (peer: P2PPeer) => peer.id === peerId);

async function childPeer(ctx: Context, topic: string): Promise<{ child: ChildProcess; peerId: string }> {
  const options = JSON.stringify({ host: ctx.server.host, port: ctx.server.port, topic });
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, options], { stdio: ['pipe', 'pipe', 'inherit'] });
  ctx.children.push(child);
  const peerId = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('\n')) resolve((JSON.parse(output.split('\n')[0]!) as { peerId: string }).peerId);
    });
    child.once('exit', (code) => reject(new Error(`the child peer exited (${code}) before joining`)));
  });
  return { child, peerId };
}

/** A newcomer joins `room` and connects to `survivor`, both ways; returns the newcomer. */
async function newcomerConnects(ctx: Context, room: string, survivor: WebRTCMeshHandler): Promise<WebRTCMeshHandler> {
  const onSurvivor = next(survivor.connect$, 'the survivor connecting to the newcomer', 15_000);
  const newcomer = await open(ctx, room);
  const [peer] = await Promise.all([onSurvivor, connects(newcomer, survivor.peerId, 'the newcomer connecting to the survivor')]);
  assert.is(peer.id, newcomer.peerId, 'the survivor connected to someone else');
  return newcomer;
}

const topic = () => `crash-${process.pid}-${++counter}`;

test('after a simulated crash, a newcomer connects to the survivor, which saw the crash', async (ctx) => {
  const room = topic();
  const a = await open(ctx, room);
  const b = await open(ctx, room);
  await connects(a, b.peerId, 'a connecting to b');
  const gone = disconnects(a, b.peerId, 'a seeing b crash');
  await b[simulateCrash]();
  await gone;
  await newcomerConnects(ctx, room, a);
});

test('a peer process killed with SIGKILL does not keep a newcomer out', async (ctx) => {
  const room = topic();
  const a = await open(ctx, room);
  const armed = next(a.connect$, 'a connecting to the child peer', 20_000);
  const { child, peerId } = await childPeer(ctx, room);
  assert.is((await armed).id, peerId);
  const gone = disconnects(a, peerId, 'a seeing the killed peer go');
  child.kill('SIGKILL');
  await gone;
  await newcomerConnects(ctx, room, a);
});

test('a frozen peer whose sockets the server still holds keeps no newcomer out', async (ctx) => {
  const room = topic();
  const a = await open(ctx, room);
  const armed = next(a.connect$, 'a connecting to the child peer', 20_000);
  const { child, peerId } = await childPeer(ctx, room);
  assert.is((await armed).id, peerId);
  const gone = disconnects(a, peerId, 'a seeing the frozen peer go silent');
  child.kill('SIGSTOP');
  await gone;
  await newcomerConnects(ctx, room, a);
  const c = ctx.handlers.at(-1)!;
  const d = await open(ctx, room);
  await Promise.all([connects(d, a.peerId, 'a second newcomer connecting to the survivor'), connects(d, c.peerId, 'a second newcomer connecting to the first')]);
});

test.run();
