/**
 * `npm start`: starts the demo (scripts/demo/server.ts), prints the page's address and what
 * each service is, and stops everything on Ctrl-C. `--json` prints one JSON line instead,
 * for programs that start the demo (the e2e tests).
 *
 *   node --import tsx scripts/demo/main.ts [--port N] [--host H] [--json]
 */
import { parseArgs } from 'node:util';
import { startDemo } from './server.js';

const { values } = parseArgs({
  options: { port: { type: 'string' }, host: { type: 'string' }, json: { type: 'boolean' } },
});
const port = Number(values.port ?? process.env.PORT ?? 8080);
if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`--port must be a port number, got ${values.port}`);

// Armed before the services start, so a Ctrl-C during startup is not lost.
const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
  process.once('SIGINT', resolve);
  process.once('SIGTERM', resolve);
});
const demo = await startDemo({ port, ...(values.host ? { host: values.host } : {}) });
if (values.json) {
  console.log(JSON.stringify({ url: demo.url, config: demo.config }));
} else {
  console.log(`\n  p2p-handlers demo: open ${demo.url} in two tabs or two browsers\n`);
  console.log('  Signaling services (they only introduce peers; todos travel over WebRTC):');
  for (const service of Object.values(demo.services)) for (const line of service.endpoints) console.log(`    ${line}`);
  console.log('\n  Ctrl-C stops everything.\n');
}
const signal = await stopSignal;
if (!values.json) console.log(`${signal}: stopping`);
await demo.close();
if (!values.json) console.log('stopped');
