/**
 * `startPeerServer` (a PeerServer child process) and the options of `getConnectionHandlerPeerJS`:
 * validation at construction, the PeerJS cloud defaults (checked without contacting it),
 * PeerJS-style `peerOptions`, several servers, custom path and key.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { getConnectionHandlerPeerJS, type PeerJsHandlerOptions } from '../handlers/peerjs/client.js';
import { startPeerServer } from '../handlers/peerjs/server.js';
import { P2PErrorCode, isP2PError } from '../src/errors.js';
import { excessOver, snapshotResources } from '../src/conformance/resources.js';
import { Member } from './fixtures/peerjs-members.js';
import { until } from './helpers/wait.js';
import * as peerjsModule from 'peerjs';
import { CLOUD_HOST, CLOUD_PORT, ServerType, isPeerJsId } from '../handlers/peerjs/protocol.js';

const test = suite('peerjs server and options');

function expectInvalid(make: () => unknown, what: string): void {
  try {
    make();
  } catch (error) {
    assert.ok(isP2PError(error, P2PErrorCode.INVALID_OPTION), `${what}: threw ${String(error)} instead of ERR_INVALID_OPTION`);
    return;
  }
  assert.unreachable(`${what}: accepted`);
}

test('startPeerServer validates its options', async () => {
  for (const [options, what] of [
    [{ port: -1 }, 'negative port'],
    [{ port: 1.5 }, 'fractional port'],
    [{ host: '' }, 'empty host'],
    [{ path: '/a?b' }, 'path with a query'],
    [{ key: '' }, 'empty key'],
    [{ allowDiscovery: 'yes' }, 'allowDiscovery not a boolean'],
    [{ expireTimeoutMs: 0 }, 'zero expire timeout'],
  ] as const) {
    const refused = await startPeerServer(options as never).then(() => undefined, (error: unknown) => error);
    assert.ok(isP2PError(refused, P2PErrorCode.INVALID_OPTION), `${what}: ${String(refused)}`);
  }
});

test('the server starts on a free port, answers /peers only with allowDiscovery, and close() leaves nothing', async () => {
  const baseline = snapshotResources();
  const [closed, open] = await Promise.all([startPeerServer(), startPeerServer({ allowDiscovery: true })]);
  assert.match(closed.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.equal(closed.clientOptions, { host: '127.0.0.1', port: closed.port, path: '/', key: 'peerjs', secure: false, discovery: false });
  const refused = await fetch(`${closed.url}peerjs/peers`, { headers: { connection: 'close' } });
  assert.is(refused.status, 401);
  await refused.body?.cancel();
  const listed = await fetch(`${open.url}peerjs/peers`, { headers: { connection: 'close' } });
  assert.equal(await listed.json(), []);
  await Promise.all([closed.close(), closed.close(), open.close()]);
  await closed.close();
  await until(() => excessOver(baseline, snapshotResources()).length === 0, `resources released (${excessOver(baseline, snapshotResources()).join(', ')})`, 3_000);
});

test('a port in use is a typed start failure', async () => {
  const first = await startPeerServer();
  try {
    const refused = await startPeerServer({ port: first.port }).then(() => undefined, (error: unknown) => error);
    assert.ok(isP2PError(refused, P2PErrorCode.SIGNALING), String(refused));
    assert.match(String((refused as Error).message), /EADDRINUSE/);
  } finally {
    await first.close();
  }
});

test('custom path and key work end to end; a wrong key is refused with ERR_UNAUTHORIZED (final)', async () => {
  const server = await startPeerServer({ path: 'myapp', key: 'secret' });
  const members = [new Member(server), new Member(server)];
  try {
    assert.is(server.path, '/myapp/');
    for (const member of members) await member.join('custom-mount');
    await Promise.all(members.map((member) => member.sees(members)));
    const creator = getConnectionHandlerPeerJS({ ...server.clientOptions, key: 'wrong', config: { iceServers: [] } });
    const refused = await creator({ topic: 'custom-mount' }).then(() => undefined, (error: unknown) => error);
    assert.ok(isP2PError(refused, P2PErrorCode.UNAUTHORIZED), String(refused));
  } finally {
    await Promise.all(members.map((member) => member.leave()));
    await server.close();
  }
});

test('getConnectionHandlerPeerJS refuses bad options at construction', () => {
  const bad: Array<[PeerJsHandlerOptions, string]> = [
    [{ port: 0 }, 'port 0'],
    [{ port: '443' as never }, 'port as a string'],
    [{ host: 'a/b' }, 'host with a slash'],
    [{ secure: 'yes' as never }, 'secure not a boolean'],
    [{ key: '' }, 'empty key'],
    [{ path: '/a#b' }, 'path with a fragment'],
    [{ peerOptions: { serializers: {} } }, 'PeerJS serializers'],
    [{ peerOptions: { nonsense: 1 } as never }, 'unknown PeerJS option'],
    [{ peerOptions: { token: '' } }, 'empty token'],
    [{ peerOptions: { pingInterval: -5 } }, 'negative ping interval'],
    [{ discovery: 'auto' as never }, 'discovery not a boolean'],
    [{ WebSocket: 'ws' as never }, 'WebSocket not a class'],
    [{ servers: [] }, 'no servers'],
    [{ servers: [{ host: 'a.test' }, { host: 'a.test' }] }, 'a server twice'],
    [{ servers: [{ port: -1 }] }, 'a bad server'],
    [{ peerId: 'not a PeerJS id!' }, 'peer id PeerJS would refuse'],
    [null as never, 'null options'],
  ];
  for (const [options, what] of bad) expectInvalid(() => getConnectionHandlerPeerJS(options), what);
});

/** A WebSocket that records where it was asked to connect and never connects. */
function recordingWebSocket(urls: string[]) {
  return class {
    readyState = 0;
    onopen = null;
    onmessage = null;
    onerror = null;
    onclose: ((event: { code?: number }) => void) | null = null;
    constructor(url: string) {
      urls.push(url);
    }
    send(): void {}
    close(): void {
      this.readyState = 3;
      queueMicrotask(() => this.onclose?.({ code: 1006 }));
    }
  };
}

test('defaults to the PeerJS cloud like peerjs does, without contacting it (no /peers request either)', async () => {
  const urls: string[] = [];
  const fetches: unknown[] = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = (async (...args: unknown[]) => {
    fetches.push(args[0]);
    throw new Error('no network in this test');
  }) as typeof fetch;
  try {
    const cases: Array<[PeerJsHandlerOptions, RegExp[]]> = [
      [{}, [/^wss:\/\/0\.peerjs\.com:443\/peerjs\?key=peerjs&id=[0-9a-f]{24}_[A-Za-z0-9]{20}&token=\w+$/]],
      [{ peerOptions: { host: 'example.test', port: 9000, path: 'app', secure: false, key: 'k', token: 'kept' } }, [/^ws:\/\/example\.test:9000\/app\/peerjs\?key=k&id=\w+&token=kept$/]],
      [{ host: 'top.test', peerOptions: { host: 'ignored.test', port: 9000 } }, [/^wss:\/\/top\.test:9000\//]],
      [{ servers: [{ host: 'one.test' }, { host: 'two.test', port: 8443 }] }, [/^wss:\/\/one\.test:443\//, /^wss:\/\/two\.test:8443\//]],
    ];
    for (const [options, expected] of cases) {
      urls.length = 0;
      const creator = getConnectionHandlerPeerJS({ ...options, WebSocket: recordingWebSocket(urls), signalingTimeoutMs: 100, config: { iceServers: [] } });
      const handler = await creator({ topic: 'cloud-defaults' });
      await until(() => urls.length >= expected.length, 'the connection attempts', 2_000);
      await handler.close();
      for (const pattern of expected) assert.ok(urls.some((url) => pattern.test(url)), `no attempt matched ${pattern}: ${urls.join(', ')}`);
    }
    assert.equal(fetches.filter((url) => String(url).includes('0.peerjs.com')), [], 'asked the PeerJS cloud for /peers');
  } finally {
    globalThis.fetch = realFetch;
  }
});

test('the PeerJS wire names, cloud address and id rule are the installed peerjs client\'s', () => {
  // Node loads peerjs's CommonJS build, whose exports arrive as the default export.
  const peerjs = ('util' in peerjsModule && peerjsModule.util ? peerjsModule : (peerjsModule as unknown as { default: typeof peerjsModule }).default);
  assert.equal({ ...ServerType }, { ...peerjs.ServerMessageType }, 'peerjs changed its ServerMessageType: PeerServer speaks what it speaks');
  assert.equal([CLOUD_HOST, CLOUD_PORT], [peerjs.util.CLOUD_HOST, peerjs.util.CLOUD_PORT]);
  const ids = ['a', 'abc123', 'a-b', 'a_b', 'a b', 'a--b', 'a-', '-a', '', ' ', 'ä', 'a.b', 'x'.repeat(300), 'A9_z-0 q'];
  for (const id of ids) assert.is(isPeerJsId(id), id !== '' && peerjs.util.validateId(id), `id ${JSON.stringify(id)}`);
});

test.run();
