/**
 * Bun and Deno run what a user runs there: the conformance CLI (the built package) on the
 * memory handler and on the socket.io handler with real WebRTC (@roamhq/wrtc, a Node-API
 * addon both load), and a process that replicates three RxDB databases over real WebRTC,
 * closes everything and exits by itself. The binaries come from their npm packages
 * (scripts/ensure-runtimes.sh, which `npm test` runs), or BUN_PATH and DENO_PATH.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI, ROOT, lastLine, quote, runProgram } from './fixtures/run-cli.js';

interface Runtime {
  name: string;
  path: string;
  /** Arguments before the script. */
  run: string[];
}

const RUNTIMES: Runtime[] = [
  { name: 'Bun', path: process.env.BUN_PATH ?? join(ROOT, '.cache/runtimes/node_modules/@oven/bun-linux-x64/bin/bun'), run: [] },
  {
    name: 'Deno',
    path: process.env.DENO_PATH ?? join(ROOT, '.cache/runtimes/node_modules/@deno/linux-x64-glibc/deno'),
    // The targets are TypeScript sources that import siblings as `.js`, as tsc wants; Deno
    // resolves those only with --sloppy-imports. The built package needs no flag.
    run: ['run', '--allow-all', '--sloppy-imports', '--no-check'],
  },
];
const RUN_TIMEOUT_MS = 240_000;

for (const runtime of RUNTIMES) {
  const test = suite(runtime.name);
  const run = (script: string, args: string[] = []) => {
    assert.ok(existsSync(runtime.path), `${runtime.name} is not at ${runtime.path}: run scripts/ensure-runtimes.sh or set ${runtime.name.toUpperCase()}_PATH`);
    return runProgram(runtime.path, [...runtime.run, script, ...args], RUN_TIMEOUT_MS);
  };

  for (const [label, target] of [
    ['the memory handler', 'test/fixtures/memory-target.ts'],
    ['the socket.io handler over real WebRTC', 'test/fixtures/socket-io-target.ts'],
  ] as const) {
    test(`the conformance suite passes on ${label}`, async () => {
      const result = await run(CLI, ['conformance', target]);
      console.log(`${runtime.name}, ${label}: ${lastLine(result.stdout)}`);
      assert.is(result.code, 0, quote(result));
      assert.match(lastLine(result.stdout), /^\d+ passed, 0 failed$/, quote(result));
      assert.ok(Number(/^(\d+)/.exec(lastLine(result.stdout))![1]) >= 40, quote(result));
    });
  }

  test('three RxDB databases replicate over real WebRTC, close, and the process exits by itself', async () => {
    const result = await run('test/fixtures/replicate-and-exit.mjs');
    assert.is(result.code, 0, quote(result));
    assert.is(result.signal, null, quote(result));
    assert.match(result.stdout, /replicated 15 documents to 3 databases/, quote(result));
  });

  test.run();
}
