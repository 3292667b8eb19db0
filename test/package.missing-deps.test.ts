/**
 * An entry whose optional package is missing loads anyway and, when used, fails with
 * ERR_MISSING_DEPENDENCY naming the package and its install line: run against the build, by
 * package name, with the package hidden as a fresh install without it would be.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('..', import.meta.url));
const { name } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string };
const hide = fileURLToPath(new URL('./fixtures/hide-packages.mjs', import.meta.url));

/** Runs `body` (an async function body with `entry` imported) with `hidden` unresolvable; returns what it threw. */
function failureWithout(hidden: string[], subpath: string, body: string): { code?: string; message?: string } {
  const script = `
    const entry = await import(${JSON.stringify(`${name}/${subpath}`)});
    try {
      await (async () => { ${body} })();
      console.log(JSON.stringify({ code: 'NO_ERROR' }));
    } catch (error) {
      console.log(JSON.stringify({ code: error?.code, message: error?.message }));
    }`;
  const result = spawnSync(process.execPath, ['--import', hide, '--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, HIDE_PACKAGES: hidden.join(',') },
    timeout: 60_000,
  });
  assert.is(result.status, 0, `${subpath} without ${hidden.join(', ')}: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop()!);
}

function expectMissing(failure: { code?: string; message?: string }, pkg: string): void {
  assert.is(failure.code, 'ERR_MISSING_DEPENDENCY', JSON.stringify(failure));
  assert.ok(failure.message?.includes(`npm install ${pkg}`), `names "npm install ${pkg}": ${failure.message}`);
}

test('socket.io server without socket.io, or without ws for its RxDB endpoint', () => {
  expectMissing(failureWithout(['socket.io'], 'socket-io/server', 'await entry.startSocketIoSignalingServer()'), 'socket.io');
  expectMissing(failureWithout(['ws'], 'socket-io/server', 'await entry.startSocketIoSignalingServer()'), 'ws');
  // Without the RxDB endpoint ws is not needed.
  const served = failureWithout(['ws'], 'socket-io/server', 'const server = await entry.startSocketIoSignalingServer({ rxdbPath: false }); await server.close();');
  assert.is(served.code, 'NO_ERROR', JSON.stringify(served));
});

test('MQTT broker without aedes, Nostr relay without its relay packages', () => {
  expectMissing(failureWithout(['aedes'], 'mqtt/broker', 'await entry.startMqttBroker()'), 'aedes');
  expectMissing(failureWithout(['@nostr-relay/core'], 'nostr/relay', 'await entry.startNostrRelay()'), '@nostr-relay/core');
});

test('clients without their library: MQTT without mqtt, socket.io without socket.io-client, y-webrtc without ws in a Node that has no WebSocket', () => {
  const create = (creator: string, options: string) =>
    `const handler = await entry.${creator}(${options})({ topic: 'missing-deps' }); await handler.close();`;
  expectMissing(failureWithout(['mqtt'], 'mqtt', create('getConnectionHandlerMqtt', "{ url: 'mqtt://127.0.0.1:1' }")), 'mqtt');
  expectMissing(failureWithout(['socket.io-client'], 'socket-io', create('getConnectionHandlerSocketIo', "{ url: 'http://127.0.0.1:1' }")), 'socket.io-client');
  if (typeof (globalThis as { WebSocket?: unknown }).WebSocket !== 'function') {
    expectMissing(failureWithout(['ws'], 'y-webrtc', create('getConnectionHandlerYWebrtc', "{ signaling: ['ws://127.0.0.1:1'] }")), 'ws');
  }
});

test('the conformance CLI needs tsx only for a .ts target, and says so', () => {
  const cli = join(root, 'dist/src/cli/index.js');
  const run = (target: string) =>
    spawnSync(process.execPath, ['--import', hide, cli, 'conformance', target, '--grep', 'lifecycle'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, HIDE_PACKAGES: 'tsx' },
      timeout: 120_000,
    });
  const typescript = run('test/fixtures/memory-target.ts');
  assert.is.not(typescript.status, 0);
  assert.ok(`${typescript.stdout}${typescript.stderr}`.includes('npm install tsx'), `${typescript.stdout}${typescript.stderr}`);
  const javascript = run('test/fixtures/memory-target.mjs');
  assert.is(javascript.status, 0, `${javascript.stdout}${javascript.stderr}`);
});

test.run();
