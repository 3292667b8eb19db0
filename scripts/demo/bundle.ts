/**
 * Builds the demo page's script with esbuild, in memory. The browser needs nothing from the
 * user: Node's `process`/`Buffer` are injected (page/node-globals.ts), `global` is mapped to
 * `globalThis`, and packages resolve to their browser builds.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const page = (name: string) => fileURLToPath(new URL(`./page/${name}`, import.meta.url));

export interface PageBundle {
  /** The page script, served as /app.js; points at its source map, /app.js.map. */
  script: string;
  sourceMap: string;
}

export async function bundlePage(): Promise<PageBundle> {
  const result = await build({
    entryPoints: [page('main.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    inject: [page('node-globals.ts')],
    define: { global: 'globalThis', 'process.env.NODE_ENV': '"production"', 'process.env.NODE_DEBUG': 'false' },
    // Only Node ever takes these paths (the handlers load them when no browser global exists).
    external: ['@roamhq/wrtc', 'ws'],
    outfile: 'app.js',
    sourcemap: 'external',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const script = result.outputFiles.find((file) => file.path.endsWith('.js'));
  const sourceMap = result.outputFiles.find((file) => file.path.endsWith('.js.map'));
  if (!script || !sourceMap) throw new Error('esbuild produced no output for the demo page');
  return { script: script.text, sourceMap: sourceMap.text };
}
