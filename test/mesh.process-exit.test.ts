/**
 * Node processes never crash: many processes, two at a time, replicate RxDB databases over real
 * WebRTC with the default implementation (@roamhq/wrtc), close everything and exit by
 * themselves, as a user's app does (without the exit-time collection test/run.ts adds to test
 * processes). Every one must exit with code 0. EXIT_CHECK_PROCESSES sets how many (default 200).
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

function runOnce(): Promise<Outcome> {
  return new Promise((resolve) => {
    const process_ = spawn(process.execPath, [child], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
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

test(`${COUNT} processes replicate, close and exit, and none crashes`, async () => {
  const failures: Array<Outcome & { index: number }> = [];
  let next = 0;
  const started = Date.now();
  const worker = async () => {
    while (next < COUNT) {
      const index = next++;
      const outcome = await runOnce();
      if (outcome.code !== 0 || !outcome.output.includes('replicated')) failures.push({ index, ...outcome });
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  console.log(`${COUNT} processes in ${Math.round((Date.now() - started) / 1000)} s: ${failures.length} crashed or failed`);
  const shown = failures.slice(0, 5).map((failure) => `#${failure.index}: exit ${failure.code ?? failure.signal}\n${failure.output.slice(-600)}`);
  assert.is(failures.length, 0, `${failures.length} of ${COUNT} processes failed:\n${shown.join('\n')}`);
});

test.run();
