/**
 * P6 browser bundles: what each client entry adds to a web app, bundled the way apps are
 * (esbuild, browser platform, ES2022, minified, Node's `process`/`Buffer` injected where a
 * dependency reads them), then brotli-compressed. RxDB is the app's own and stays out of
 * ours; the anchors are RxDB's own handlers bundled the same way from their files (with the
 * RxDB helpers they import).
 */
import { brotliCompressSync, constants } from 'node:zlib';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ROOT, row, type FigureResult, type Measured } from './lib.js';

export const P6_METHOD =
  'each client entry bundled alone for the browser (esbuild: bundle, code splitting, platform browser, ES2022, minify, process/Buffer injected as the demo does, ' +
  'every chunk counted (the transport library and the WebAssembly signer are chunks of their own, loaded at the first join); ' +
  '`rxdb`, `ws` and `@roamhq/wrtc` external), brotli quality 11; anchors: RxDB 17\'s connection-handler-simple-peer.js and connection-handler-nostr.js ' +
  'bundled the same way. Sizes do not vary between runs: one build each.';

const KIB = 1024;
/** What the issue asks of each entry, in brotli KiB (no anchor measures them in this run). */
const TARGET_KIB: Record<string, number> = { 'socket.io': 30, peerjs: 45, mqtt: 75, nostr: 40 };

const OURS: Array<{ name: string; file: string; creator: string; anchor: 'simple-peer' | 'nostr' }> = [
  { name: 'socket.io', file: 'handlers/socket-io/client.ts', creator: 'getConnectionHandlerSocketIo', anchor: 'simple-peer' },
  { name: 'mqtt', file: 'handlers/mqtt/client.ts', creator: 'getConnectionHandlerMqtt', anchor: 'simple-peer' },
  { name: 'nostr', file: 'handlers/nostr/client.ts', creator: 'getConnectionHandlerNostr', anchor: 'nostr' },
  { name: 'peerjs', file: 'handlers/peerjs/client.ts', creator: 'getConnectionHandlerPeerJS', anchor: 'simple-peer' },
  { name: 'y-webrtc', file: 'handlers/y-webrtc/client.ts', creator: 'getConnectionHandlerYWebrtc', anchor: 'simple-peer' },
];
const ANCHORS = {
  'simple-peer': { label: "RxDB's simple-peer handler", creator: 'getConnectionHandlerSimplePeer', file: 'connection-handler-simple-peer.js' },
  nostr: { label: "RxDB's Nostr handler", creator: 'getConnectionHandlerNostr', file: 'connection-handler-nostr.js' },
} as const;

const brotli = (code: Uint8Array): number => brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).byteLength;

/**
 * Brotli bytes of the chunk an app loads up front to use `creator` from `file` (what a dynamic
 * import loads only when used, such as the WebAssembly signer, is split off and counted apart),
 * and the largest inputs in it.
 */
async function bundled(file: string, creator: string): Promise<{ bytes: number; lazyBytes: number; heaviest: string }> {
  const result = await build({
    stdin: { contents: `export { ${creator} } from ${JSON.stringify(join(ROOT, file))};`, resolveDir: ROOT, loader: 'ts' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
    metafile: true,
    splitting: true,
    outdir: join(ROOT, 'bench-bundle-out'),
    entryNames: 'entry',
    inject: [join(ROOT, 'scripts/demo/page/node-globals.ts')],
    define: { global: 'globalThis', 'process.env.NODE_ENV': '"production"' },
    external: ['rxdb', 'rxdb/*', 'ws', '@roamhq/wrtc'],
  });
  const isEntry = (path: string) => /[\\/]entry\.js$/.test(path);
  const entry = result.outputFiles.find((output) => isEntry(output.path))!;
  const bytes = brotli(entry.contents);
  const lazyBytes = result.outputFiles.filter((output) => output.path.endsWith('.js') && !isEntry(output.path)).reduce((sum, output) => sum + brotli(output.contents), 0);
  const inputs = Object.entries(result.metafile!.outputs).find(([path]) => isEntry(path))![1].inputs;
  const byPackage = new Map<string, number>();
  for (const [path, { bytesInOutput }] of Object.entries(inputs)) {
    const parts = path.split('node_modules/').pop()!.split('/');
    const name = path.includes('node_modules/') ? parts.slice(0, parts[0]!.startsWith('@') ? 2 : 1).join('/') : 'p2p-handlers';
    byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
  }
  const heaviest = [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([name, size]) => `${name} ${Math.round(size / KIB)}`).join(', ');
  return { bytes, lazyBytes, heaviest };
}

export async function runP6(): Promise<FigureResult> {
  const rows: Measured[] = [];
  const notes: string[] = [];
  const anchors = new Map<string, number>();
  for (const [key, anchor] of Object.entries(ANCHORS)) {
    anchors.set(key, (await bundled(`node_modules/rxdb/dist/esm/plugins/replication-webrtc/${anchor.file}`, anchor.creator)).bytes);
  }
  for (const entry of OURS) {
    const { bytes, lazyBytes, heaviest } = await bundled(entry.file, entry.creator);
    const anchor = ANCHORS[entry.anchor];
    const total = (bytes + lazyBytes) / KIB;
    rows.push(row('P6', `${entry.name} client, all chunks`, total, anchor.label, anchors.get(entry.anchor)! / KIB, 'KiB br', 'lower'));
    const target = TARGET_KIB[entry.name];
    const goal = target === undefined ? '' : `; target ≤ ${target} KiB: ${total <= target ? 'met' : 'missed'}`;
    const parts = `${(bytes / KIB).toFixed(1)} KiB up front + ${(lazyBytes / KIB).toFixed(1)} KiB in chunks loaded at the first join`;
    notes.push(`${entry.name}: ${total.toFixed(1)} KiB brotli (${parts})${goal}; largest parts up front (minified KiB): ${heaviest}`);
  }
  return { rows, notes };
}
