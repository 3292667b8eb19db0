/**
 * Node processes never crash: many processes, two at a time, replicate RxDB databases over real
 * WebRTC with the default implementation (@roamhq/wrtc), close everything and exit by
 * themselves, as a user's app does (without the exit-time collection test/run.ts adds to test
 * processes). Every one must exit with code 0. EXIT_CHECK_PROCESSES sets how many (default 200).
 * Then the workload that crashed at exit 2 runs in 20 before src/mesh/wrtc-exit.ts (the Nostr
 * handler's tests: many handlers, a relay in the process) runs 30 times the same way.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('..', import.meta.url));
const child = fileURLToPath(new URL('./fixtures/replicate-and-exit.mjs', import.meta.url));
const COUNT = Number(process.env.EXIT_CHECK_PROCESSES ?? 200);
const PARALLEL = 2;
/** A process that has not exited by then is counted as hung. */
const PROCESS_TIMEOUT_MS = 60_000;

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

function runOnce(args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const process_ = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    process_.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    process_.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => process_.kill('SIGKILL'), PROCESS_TIMEOUT_MS);
    process_.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

/** Runs `args` `count` times, PARALLEL at once; fails listing the runs that did not exit 0 having printed `done`. */
async function runMany(what: string, count: number, args: string[], done: string): Promise<void> {
  const failures: Array<Outcome & { index: number }> = [];
  let next = 0;
  const started = Date.now();
  const worker = async () => {
    while (next < count) {
      const index = next++;
      const outcome = await runOnce(args);
      if (outcome.code !== 0 || !outcome.output.includes(done)) failures.push({ index, ...outcome });
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  console.log(`${count} ${what} in ${Math.round((Date.now() - started) / 1000)} s: ${failures.length} crashed or failed`);
  const shown = failures.slice(0, 5).map((failure) => `#${failure.index}: exit ${failure.code ?? failure.signal}\n${failure.output.slice(-600)}`);
  assert.is(failures.length, 0, `${failures.length} of ${count} ${what} failed:\n${shown.join('\n')}`);
}

test(`${COUNT} processes replicate, close and exit, and none crashes`, async () => {
  await runMany('replicating processes', COUNT, [child], 'replicated');
});

test('the Nostr handler tests, run as their own processes without the exit-time collection, never crash at exit', async () => {
  const nostrTests = fileURLToPath(new URL('./nostr.handler.test.ts', import.meta.url));
  await runMany('runs of nostr.handler.test.ts', 30, ['--import', 'tsx', nostrTests], 'Passed:');
});

test.run();
