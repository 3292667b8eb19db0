/**
 * Loaded into every test process by test/run.ts: the library's trace (src/trace.ts) is kept in
 * memory and printed only when a test fails, so a failure that happens once in a hundred CI
 * runs comes with the story of its last minute (who joined, which signals went where, which
 * link closed and why) instead of a bare timeout. Set DEBUG yourself to see it live instead.
 */
import { format } from 'node:util';
import createDebug from 'debug';

/** Lines kept; a failing case's last minute of two or three peers fits many times over. */
const CAPACITY = 4_000;
/** Printed at a failure: what happened in this window before it, at most MAX_PRINTED lines. */
const WINDOW_MS = 60_000;
const MAX_PRINTED = 600;
/** uvu's mark of a failed test, written as the test ends. */
const FAILURE_MARK = '✘';

if (process.env.DEBUG === undefined) {
  const lines: Array<{ at: number; text: string }> = [];
  let next = 0;
  createDebug.enable('p2p-handlers:*');
  // enable() also exports DEBUG, which child processes (servers, crash tests) would print live.
  delete process.env.DEBUG;
  createDebug.log = (...args: unknown[]) => {
    const entry = { at: Date.now(), text: format(...args) };
    if (lines.length < CAPACITY) lines.push(entry);
    else lines[next] = entry;
    next = (next + 1) % CAPACITY;
  };

  const recent = (): string[] => {
    const ordered = lines.length < CAPACITY ? lines : [...lines.slice(next), ...lines.slice(0, next)];
    const since = Date.now() - WINDOW_MS;
    return ordered.filter((entry) => entry.at >= since).slice(-MAX_PRINTED).map((entry) => entry.text);
  };

  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    const written = write(chunk, ...rest);
    if (text.includes(FAILURE_MARK)) {
      const story = recent();
      write(`\n--- trace of the last ${WINDOW_MS / 1000} s before this failure (${story.length} lines) ---\n${story.join('\n')}\n--- end of trace ---\n`);
    }
    return written;
  }) as typeof process.stdout.write;
}
