/**
 * The engine.io and socket.io internals our server trims (handlers/socket-io/server/engine.ts),
 * checked against the installed versions: when an upgrade renames one, the trimming silently
 * stops (idle sockets cost more again) and this fails, naming which.
 */
import type { EventEmitter } from 'node:events';
import { io as ioClient } from 'socket.io-client';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startSocketIoSignalingServer } from '../handlers/socket-io/server/index.js';
import { within } from './helpers/hostile-checks.js';

test('a connected socket keeps no upgrade request, no upgrade-error listener and no upgrade response listener', async () => {
  const server = await startSocketIoSignalingServer({ host: '127.0.0.1', port: 0 });
  const client = ioClient(server.url, { transports: ['websocket'], reconnection: false, forceNew: true });
  try {
    const engine = server.io.engine as unknown as { middlewares?: unknown; handleUpgrade?: unknown };
    assert.ok(Array.isArray(engine.middlewares), 'engine.io no longer keeps `middlewares` as an array');
    assert.type(engine.handleUpgrade, 'function', 'engine.io no longer has `handleUpgrade`');
    assert.is((engine.handleUpgrade as { name?: string }).name, '', 'our wrapper is not in place over `handleUpgrade`');
    await within(new Promise<void>((resolve, reject) => (client.once('connect', () => resolve()), client.once('connect_error', reject))), 10_000, 'the client connecting');
    const [socket] = [...server.io.of('/').sockets.values()];
    assert.ok(socket, 'no server socket');
    const conn = socket.conn as unknown as { request?: Record<string, unknown>; transport?: { socket?: EventEmitter & { _socket?: EventEmitter } } };
    assert.type(conn.request, 'object', 'engine.io no longer keeps the upgrade request as `conn.request`');
    assert.not.ok('rawHeaders' in conn.request!, 'the upgrade request was not released (engine.io renamed `request`?)');
    assert.ok(conn.request!.headers && socket.handshake.headers.host, 'the released request lost what socket.io reads');
    const webSocket = conn.transport?.socket;
    assert.type(webSocket?.listeners, 'function', 'the WebSocket transport no longer keeps its ws socket as `transport.socket`');
    const errorListeners = webSocket!.listeners('error').map((listener) => listener.name);
    assert.not.ok(errorListeners.includes('onUpgradeError'), `engine.io's upgrade-error listener stayed: ${errorListeners.join(', ')}`);
    const tcp = webSocket!._socket;
    assert.type(tcp?.rawListeners, 'function', 'ws no longer keeps its TCP socket as `_socket`');
    const onceWrapped = (tcp!.rawListeners('close') as Array<{ listener?: unknown }>).filter((listener) => typeof listener.listener === 'function');
    assert.is(onceWrapped.length, 0, "the upgrade response's close listener stayed on the TCP socket");
  } finally {
    client.disconnect();
    await server.close();
  }
});

test.run();
