/**
 * Everything `npm start` runs, in one call: the four signaling services on loopback and a
 * web server for the demo page, which learns their addresses from /config.json.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { startService, type RunningService } from '../../handlers/services.js';
import { bundlePage } from './bundle.js';
import { TRANSPORTS, type DemoConfig, type TransportName } from './page/transports.js';

export interface DemoOptions {
  /** Port of the page's web server. Default: 0, an ephemeral port. */
  port?: number;
  /** Interface every service binds to. Default: '127.0.0.1' (the demo uses no STUN, so it is one machine's). */
  host?: string;
}

export interface RunningDemo {
  /** The page. */
  readonly url: string;
  readonly services: Readonly<Record<TransportName, RunningService>>;
  /** What the page and the e2e Node peer are given. */
  readonly config: DemoConfig;
  /** Stops the web server and every service; idempotent. */
  close(): Promise<void>;
}

const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

export async function startDemo(options: DemoOptions = {}): Promise<RunningDemo> {
  const { port = 0, host = '127.0.0.1' } = options;
  const started: RunningService[] = [];
  const closeServices = () => Promise.all(started.map((service) => service.close())).then(() => {});
  let services: Record<TransportName, RunningService>;
  let bundle: Awaited<ReturnType<typeof bundlePage>>;
  try {
    const [pageBundle, ...running] = await Promise.all([
      bundlePage(),
      ...TRANSPORTS.map((kind) => startService(kind, { host }).then((service) => (started.push(service), service))),
    ]);
    bundle = pageBundle as Awaited<ReturnType<typeof bundlePage>>;
    services = Object.fromEntries(running.map((service) => [(service as RunningService).kind, service])) as Record<TransportName, RunningService>;
  } catch (error) {
    await closeServices();
    throw error;
  }
  const config: DemoConfig = {
    iceServers: [],
    services: {
      'socket.io': { url: services['socket.io'].clientConfig.url as string },
      mqtt: { url: services.mqtt.clientConfig.url as string },
      nostr: { url: services.nostr.clientConfig.url as string },
      peerjs: services.peerjs.clientConfig as DemoConfig['services']['peerjs'],
    },
  };
  const dynamic: Record<string, { body: string; type: string }> = {
    '/app.js': { body: bundle.script, type: 'text/javascript; charset=utf-8' },
    '/app.js.map': { body: bundle.sourceMap, type: 'application/json' },
    '/config.json': { body: JSON.stringify(config), type: 'application/json' },
  };
  const web = createServer((request, response) => void respond(request, response, dynamic));
  try {
    await new Promise<void>((resolve, reject) => {
      web.once('error', reject);
      web.listen(port, host, () => resolve());
    });
  } catch (error) {
    await closeServices();
    throw error;
  }
  const address = web.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}/`,
    services,
    config,
    close: () =>
      (closing ??= (async () => {
        await new Promise<void>((resolve) => {
          web.close(() => resolve());
          web.closeAllConnections();
        });
        await closeServices();
      })()),
  };
}

async function respond(request: IncomingMessage, response: ServerResponse, dynamic: Record<string, { body: string; type: string }>): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://demo').pathname;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  const fixed = STATIC[path];
  const generated = dynamic[path];
  if (!fixed && !generated) {
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  const body = generated ? generated.body : await readFile(new URL(`./page/${fixed!.file}`, import.meta.url), 'utf8');
  response.writeHead(200, { 'content-type': (generated ?? fixed)!.type, 'cache-control': 'no-store' });
  response.end(request.method === 'HEAD' ? undefined : body);
}
