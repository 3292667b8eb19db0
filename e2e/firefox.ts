/**
 * Debian's Firefox ESR for the e2e tests, driven over WebDriver BiDi by puppeteer-core
 * (Playwright's Firefox is a patched build that cannot be downloaded here). Each page gets its
 * own browser context, so its own storage and RxDB database, as in the Chromium tests.
 *
 * Firefox gathers no ICE candidates on loopback unless told it may, and it takes host
 * candidates only from the interface of the default route (the loopback namespace gives lo
 * one, see scripts/in-loopback-namespace.sh).
 */
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import type { Demo } from './fixtures.js';
import type { TransportName } from '../scripts/demo/page/transports.js';

export const FIREFOX_PATH = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';

const PREFS = {
  // Loopback host candidates, with their addresses (not mDNS names nobody can resolve here).
  'media.peerconnection.ice.loopback': true,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  // Nothing to reach outside the namespace: no captive-portal or connectivity probes.
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
};

export function launchFirefox(): Promise<Browser> {
  return puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX_PATH, headless: true, extraPrefsFirefox: PREFS });
}

/** What each Firefox page logged as errors, uncaught page errors included. */
const pageErrors = new WeakMap<Page, string[]>();

export function firefoxErrorsOf(page: Page): string[] {
  return pageErrors.get(page) ?? [];
}

/** A page in a fresh context with the demo open on `transport` and `room`, once it is online. */
export async function openFirefoxDemo(firefox: Browser, demo: Demo, transport: TransportName, room: string): Promise<Page> {
  const context = await firefox.createBrowserContext();
  const page = await context.newPage();
  const errors: string[] = [];
  pageErrors.set(page, errors);
  page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
  page.on('pageerror', (error) => {
    const message = error instanceof Error ? error.message : String(error);
    errors.push(message);
    process.stderr.write(`[firefox page error] ${message}\n`);
  });
  await page.goto(`${demo.url}?transport=${encodeURIComponent(transport)}&room=${encodeURIComponent(room)}`);
  await page.waitForSelector('[data-testid="status"][data-state="online"]', { timeout: 45_000 });
  return page;
}

export async function firefoxAddTodo(page: Page, text: string): Promise<void> {
  await page.type('[data-testid="new-todo-text"]', text);
  await page.keyboard.press('Enter');
}

/** The texts of the page's todos, in list order, with a ✓ on the done ones (as todoTexts). */
export function firefoxTodoTexts(page: Page): Promise<string[]> {
  return page.$$eval('[data-testid="todo"]', (rows) =>
    rows.map((row) => `${(row as HTMLElement).dataset.text}${(row as HTMLElement).dataset.done === 'true' ? ' ✓' : ''}`),
  );
}

/** Peers the page shows as replicating with it. */
export function firefoxReplicatingPeers(page: Page): Promise<number> {
  return page.$$eval('[data-testid="peer"][data-state="replicating"]', (rows) => rows.length);
}
