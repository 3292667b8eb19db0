/**
 * The published shape: every `exports` subpath loads from the build and exposes its public
 * names, and importing one entry never loads another transport's client library (checked on
 * the static import graph of the built files, which is what bundlers follow).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const expectedNames: Record<string, string[]> = {
  '.': ['P2PError', 'P2PErrorCode', 'isP2PError', 'ConnectionHub', 'createWebRTCMeshHandler', 'createMeshHandlerCreator', 'getConnectionHandlerMulti', 'simulateCrash'],
  './memory': ['createMemoryNetwork', 'getConnectionHandlerMemory'],
  './conformance': ['runConformanceSuite'],
  './services': ['startService', 'isServiceKind', 'SERVICE_KINDS'],
  './socket-io': ['getConnectionHandlerSocketIo', 'getConnectionHandlerSimplePeer'],
  './socket-io/server': ['startSocketIoSignalingServer'],
  './rxdb': ['replicateP2P', 'lastWriteWinsConflictHandler'],
  './nostr': ['getConnectionHandlerNostr', 'getPeerPublicKey'],
  './nostr/relay': ['startNostrRelay'],
  './peerjs': ['getConnectionHandlerPeerJS'],
  './peerjs/server': ['startPeerServer'],
  './mqtt': ['getConnectionHandlerMqtt'],
  './mqtt/broker': ['startMqttBroker'],
  './kit': ['createMeshHandlerCreator', 'SessionTransport', 'BroadcastRoomSession', 'SealedRoom', 'sealedRooms', 'PresenceRoster', 'SerialQueue', 'resolveWebSocket', 'BoundedMap', 'serverUrls', 'TimerSet', 'P2PError'],
  './y-webrtc': ['getConnectionHandlerYWebrtc', 'Y_WEBRTC_SEAL_SCHEME'],
};
const TRANSPORT_LIBRARIES = ['socket.io-client', 'socket.io', 'mqtt', 'aedes', 'peerjs', 'peer', 'nostr-tools', '@nostr-relay/core', 'rxdb', '@roamhq/wrtc', 'node-datachannel'];
const allowed: Record<string, string[]> = {
  '.': ['rxjs', 'simple-peer'],
  './memory': ['rxjs'],
  './conformance': ['rxjs', 'uvu'],
  // Loads each server only when asked for it (dynamic import), so nothing statically.
  './services': [],
  './socket-io': ['rxjs', 'simple-peer', 'socket.io-client'],
  './socket-io/server': ['socket.io'],
  './rxdb': ['rxdb', 'rxjs'],
  './nostr': ['rxjs', 'simple-peer', 'nostr-tools'],
  './nostr/relay': ['ws', 'nostr-tools', '@nostr-relay/core'],
  './peerjs': ['rxjs', 'simple-peer'],
  './peerjs/server': ['peer'],
  './mqtt': ['rxjs', 'simple-peer', 'mqtt'],
  './mqtt/broker': ['aedes', 'ws'],
  './kit': ['rxjs', 'simple-peer'],
  // `ws` only when there is no global WebSocket (dynamic import).
  './y-webrtc': ['rxjs', 'simple-peer'],
};

/** Bare packages reachable through static imports from `file`. */
function staticPackages(file: string, seen = new Set<string>(), found = new Set<string>()): Set<string> {
  if (seen.has(file)) return found;
  seen.add(file);
  const source = readFileSync(file, 'utf8');
  for (const match of source.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm)) {
    const specifier = match[1] ?? match[2]!;
    if (specifier.startsWith('.')) staticPackages(resolve(dirname(file), specifier), seen, found);
    else if (!specifier.startsWith('node:')) found.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
  }
  return found;
}

test('every exports entry is built and declared with types', () => {
  assert.equal(Object.keys(pkg.exports).filter((key) => key !== './package.json').sort(), Object.keys(expectedNames).sort());
  for (const [subpath, target] of Object.entries<any>(pkg.exports)) {
    if (subpath === './package.json') continue;
    assert.ok(existsSync(join(root, target.import)), `${subpath}: ${target.import} is built`);
    assert.ok(existsSync(join(root, target.types)), `${subpath}: ${target.types} is built`);
  }
});

test('importing one entry never loads another transport client library', () => {
  for (const [subpath, target] of Object.entries<any>(pkg.exports)) {
    if (subpath === './package.json') continue;
    const packages = staticPackages(join(root, target.import));
    const leaked = [...packages].filter((name) => TRANSPORT_LIBRARIES.includes(name) && !allowed[subpath]!.includes(name));
    assert.equal(leaked, [], `${subpath} statically imports ${leaked.join(', ')}`);
  }
});

test('each subpath loads by package name and exposes its public API', () => {
  for (const [subpath, names] of Object.entries(expectedNames)) {
    const specifier = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
    const script = `const m = await import(${JSON.stringify(specifier)}); console.log(JSON.stringify(Object.keys(m)));`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    assert.is(result.status, 0, `${specifier}: ${result.stderr}`);
    const exported: string[] = JSON.parse(result.stdout.trim().split('\n').pop()!);
    for (const name of names) assert.ok(exported.includes(name), `${specifier} exports ${name}`);
  }
});

test('the bin points at the built CLI with a node shebang', () => {
  const bin = join(root, pkg.bin['p2p-handlers']);
  assert.ok(existsSync(bin), `${bin} is built`);
  assert.ok(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node'));
});

test.run();
