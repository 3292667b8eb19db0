/**
 * The package as a new project gets it: the packed tarball unpacked into a fresh project whose
 * node_modules holds only what `npm install p2p-handlers socket.io socket.io-client mqtt aedes
 * ws nostr-tools @nostr-relay/* @types/node` would bring (linked from this checkout, which has
 * no network here). Its public .d.ts files must compile under `strict` with `skipLibCheck:
 * false`, and a small program must pair peers over socket.io, MQTT and Nostr with them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('..', import.meta.url));
/** What the consumer installs beside us (our dependencies come with us). */
const INSTALLED = [
  'rxjs', 'simple-peer', 'debug', '@noble/hashes', 'uvu', '@roamhq/wrtc',
  'socket.io', 'socket.io-client', 'mqtt', 'aedes', 'ws', 'nostr-tools',
  '@nostr-relay/core', '@nostr-relay/common', '@nostr-relay/validator', '@types/node',
];

const PROGRAM = `
import { firstValueFrom } from 'rxjs';
import type { P2PConnectionHandler, P2PConnectionHandlerCreator } from 'p2p-handlers';
import { isP2PError } from 'p2p-handlers';
import { getConnectionHandlerSocketIo } from 'p2p-handlers/socket-io';
import { startSocketIoSignalingServer } from 'p2p-handlers/socket-io/server';
import { getConnectionHandlerMqtt } from 'p2p-handlers/mqtt';
import { startMqttBroker } from 'p2p-handlers/mqtt/broker';
import { getConnectionHandlerNostr } from 'p2p-handlers/nostr';
import { startNostrRelay } from 'p2p-handlers/nostr/relay';
import { getConnectionHandlerMemory, createMemoryNetwork } from 'p2p-handlers/memory';
import type { ConformanceTarget } from 'p2p-handlers/conformance';
import { SessionTransport } from 'p2p-handlers/kit';

const config = { iceServers: [] };

/** Two app instances, each with its own creator, as two browsers would be. */
async function pairAndTalk(name: string, makeCreator: () => P2PConnectionHandlerCreator): Promise<void> {
  const a: P2PConnectionHandler = await makeCreator()({ topic: 'consumer-' + name });
  const aConnected = firstValueFrom(a.connect$);
  const b: P2PConnectionHandler = await makeCreator()({ topic: 'consumer-' + name });
  const [peerOfB] = await Promise.all([aConnected, firstValueFrom(b.connect$)]);
  const heard = firstValueFrom(b.message$);
  await a.send(peerOfB, { id: '1', method: 'hello', params: [name] });
  const { message } = await heard;
  if (message.params[0] !== name) throw new Error(name + ': wrong message');
  await Promise.all([a.close(), b.close()]);
  console.log(name + ' ok');
}

const socketServer = await startSocketIoSignalingServer();
await pairAndTalk('socket.io', () => getConnectionHandlerSocketIo({ url: socketServer.url, config }));
await socketServer.close();
const broker = await startMqttBroker();
await pairAndTalk('mqtt', () => getConnectionHandlerMqtt({ url: broker.url, config }));
await broker.close();
const relay = await startNostrRelay();
await pairAndTalk('nostr', () => getConnectionHandlerNostr({ relays: [relay.url], config }));
await relay.close();
const target: ConformanceTarget<ReturnType<typeof createMemoryNetwork>> = {
  name: 'memory',
  setup: async () => createMemoryNetwork(),
  creator: (network) => getConnectionHandlerMemory({ network }),
};
console.log(target.name, typeof SessionTransport, isP2PError(new Error('x'), 'ERR_TIMEOUT'));
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true,
    skipLibCheck: false, noEmitOnError: true, outDir: 'out', types: ['node'], lib: ['ES2022', 'DOM'],
  },
  files: ['program.mts'],
};

function run(command: string, args: string[], cwd: string, timeout = 120_000) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_update_notifier: 'false' } });
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}` };
}

test('a fresh project compiles the public types strictly and pairs peers over socket.io, MQTT and Nostr', () => {
  const project = mkdtempSync(join(tmpdir(), 'p2p-consumer-'));
  try {
    const packed = run('npm', ['pack', '--silent', '--pack-destination', project], root);
    assert.is(packed.status, 0, packed.output);
    const tarball = join(project, packed.output.trim().split('\n').pop()!);
    const ours = join(project, 'node_modules', 'p2p-handlers');
    mkdirSync(ours, { recursive: true });
    const unpacked = run('tar', ['-xzf', tarball, '-C', ours, '--strip-components=1'], project);
    assert.is(unpacked.status, 0, unpacked.output);
    assert.ok(existsSync(join(ours, 'LICENSE')), 'the tarball has a LICENSE');
    // Source maps resolve without the sources being shipped: they carry them.
    const map = JSON.parse(readFileSync(join(ours, 'dist/src/mesh/network.js.map'), 'utf8')) as { sourcesContent?: unknown[] };
    assert.ok(typeof map.sourcesContent?.[0] === 'string' && map.sourcesContent[0].includes('class MeshNetwork'), 'source maps carry their sources');
    for (const name of INSTALLED) {
      const source = join(root, 'node_modules', name);
      if (!existsSync(source)) continue;
      const link = join(project, 'node_modules', name);
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(source, link, 'dir');
    }
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(TSCONFIG));
    writeFileSync(join(project, 'program.mts'), PROGRAM);
    const compiled = run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', project], project);
    assert.is(compiled.status, 0, `the public types do not compile in a fresh project:\n${compiled.output}`);
    const ran = run(process.execPath, [join(project, 'out/program.mjs')], project);
    assert.is(ran.status, 0, ran.output);
    console.log(`the packed tarball in a fresh project: tsc (strict, skipLibCheck false) exit ${compiled.status}; program: ${ran.output.trim().split('\n').join(' | ')}`);
    for (const name of ['socket.io', 'mqtt', 'nostr']) assert.ok(ran.output.includes(`${name} ok`), ran.output);
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
});

test.run();
