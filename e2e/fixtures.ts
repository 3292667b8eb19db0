/**
 * Shared e2e fixtures: the demo started by `npm start`'s own script (one process per
 * worker, stopped with SIGINT, which must end it cleanly), browser pages on it, and Node peers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { test as base, expect, type Browser, type Page } from '@playwright/test';
import type { DemoConfig, TransportName } from '../scripts/demo/page/transports.js';
import type { Todo } from '../scripts/demo/page/todos.js';
import type { NodePeerCommand, NodePeerEvent } from './node-peer.js';

export { expect };

const root = fileURLToPath(new URL('..', import.meta.url));
const nativeGc = fileURLToPath(new URL('../test/helpers/native-gc.ts', import.meta.url));

export interface Demo {
  url: string;
  config: DemoConfig;
}

/** Resolves with the child's exit code; rejects when it is killed by a signal. */
function exited(child: ChildProcess): Promise<number> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) =>
    child.once('exit', (code, signal) => (code === null ? reject(new Error(`killed by ${signal}`)) : resolve(code))),
  );
}

function firstLine(child: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-4000)));
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve(line));
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready: ${stderr}`)));
  });
}

export class NodePeer {
  docs: Todo[] = [];
  peers = 0;
  readonly errors: string[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const event = JSON.parse(line) as NodePeerEvent;
      if (event.event === 'docs') this.docs = event.docs;
      if (event.event === 'peers') this.peers = event.count;
      if (event.event === 'error') this.errors.push(event.message);
      for (const wake of this.waiters) wake();
    });
    child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(`[node peer] ${chunk.toString()}`));
  }

  static start(transport: TransportName, room: string, config: DemoConfig): NodePeer {
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', nativeGc, 'e2e/node-peer.ts', JSON.stringify({ transport, room, config })], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new NodePeer(child);
  }

  send(command: NodePeerCommand): void {
    this.child.stdin!.write(`${JSON.stringify(command)}\n`);
  }

  /** Waits, on the peer's own events, until `holds()` is true. */
  until(holds: (peer: NodePeer) => boolean, what: string, ms = 45_000): Promise<void> {
    if (holds(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!holds(this)) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`node peer: ${what} did not happen within ${ms} ms (docs ${JSON.stringify(this.docs)}, errors ${this.errors.join('; ')})`));
      }, ms);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  /** Stops replication and closes the database; the process must then end with code 0 on its own. */
  async stop(): Promise<number> {
    const code = exited(this.child);
    this.send({ op: 'stop' });
    this.child.stdin!.end();
    return code;
  }
}

/** A fresh browser context (its own storage: its own RxDB database) with the demo open. */
/** What each page wrote to its console as errors, failed requests included (a 404, a 401). */
const consoleErrors = new WeakMap<Page, string[]>();

/** The console errors `page` logged so far: the demo, as a person sees it, logs none. */
export function consoleErrorsOf(page: Page): string[] {
  return consoleErrors.get(page) ?? [];
}

export async function openDemo(browser: Browser, demo: Demo, transport: TransportName, room: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  consoleErrors.set(page, errors);
  page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
  page.on('pageerror', (error) => {
    errors.push(error.message);
    process.stderr.write(`[page error] ${error.message}\n`);
  });
  await page.goto(`${demo.url}?transport=${encodeURIComponent(transport)}&room=${encodeURIComponent(room)}`);
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'online');
  return page;
}

export async function addTodo(page: Page, text: string): Promise<void> {
  await page.getByTestId('new-todo-text').fill(text);
  await page.getByTestId('new-todo-text').press('Enter');
}

export function todoRow(page: Page, text: string) {
  return page.locator(`[data-testid="todo"][data-text="${text}"]`);
}

/** The texts of the page's todos, in list order, with a ✓ on the done ones. */
export function todoTexts(page: Page): Promise<string[]> {
  return page
    .getByTestId('todo')
    .evaluateAll((rows) => rows.map((row) => `${(row as HTMLElement).dataset.text}${(row as HTMLElement).dataset.done === 'true' ? ' ✓' : ''}`));
}

export const test = base.extend<{}, { demo: Demo }>({
  demo: [
    async ({}, use) => {
      // What `npm start` runs (its script execs node, so SIGINT reaches the demo itself).
      const child = spawn('bash', ['scripts/start.sh', '--port', '0', '--json'], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const ready = JSON.parse(await firstLine(child, 'the demo')) as Demo;
      await use(ready);
      const code = exited(child);
      child.kill('SIGINT');
      // Ctrl-C must stop every service and let the process end by itself.
      expect(await code).toBe(0);
    },
    { scope: 'worker', timeout: 120_000 },
  ],
});
