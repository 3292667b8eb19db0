/**
 * The demo in Firefox (Debian's ESR over WebDriver BiDi), for every transport: two Firefox
 * pages converge, and a Firefox page and a Chromium page replicate through the same room.
 */
import type { Browser as FirefoxBrowser } from 'puppeteer-core';
import { addTodo, consoleErrorsOf, expect, openDemo, test as base, todoTexts } from './fixtures.js';
import { firefoxAddTodo, firefoxErrorsOf, firefoxReplicatingPeers, firefoxTodoTexts, launchFirefox, openFirefoxDemo } from './firefox.js';
import type { TransportName } from '../scripts/demo/page/transports.js';

const TRANSPORTS: TransportName[] = ['socket.io', 'mqtt', 'nostr', 'peerjs'];
const uniqueRoom = (label: string) => `${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;

const test = base.extend<{}, { firefox: FirefoxBrowser }>({
  firefox: [
    async ({}, use) => {
      const firefox = await launchFirefox();
      await use(firefox);
      await firefox.close();
    },
    { scope: 'worker', timeout: 120_000 },
  ],
});

for (const transport of TRANSPORTS) {
  test.describe(`${transport} in Firefox`, () => {
    test('two Firefox pages add todos and converge', async ({ firefox, demo }) => {
      const room = uniqueRoom('firefox');
      const alice = await openFirefoxDemo(firefox, demo, transport, room);
      const bob = await openFirefoxDemo(firefox, demo, transport, room);
      try {
        for (const page of [alice, bob]) await expect.poll(() => firefoxReplicatingPeers(page)).toBe(1);
        await firefoxAddTodo(alice, 'from firefox alice');
        await firefoxAddTodo(bob, 'from firefox bob');
        for (const page of [alice, bob]) {
          await expect.poll(() => firefoxTodoTexts(page).then((texts) => texts.sort())).toEqual(['from firefox alice', 'from firefox bob']);
        }
        expect([...firefoxErrorsOf(alice), ...firefoxErrorsOf(bob)], 'errors on the Firefox pages').toEqual([]);
      } finally {
        await Promise.all([alice.browserContext().close(), bob.browserContext().close()]);
      }
    });

    test('a Firefox page and a Chromium page replicate through the same room', async ({ firefox, browser, demo }) => {
      const room = uniqueRoom('mixed');
      const fox = await openFirefoxDemo(firefox, demo, transport, room);
      const chrome = await openDemo(browser, demo, transport, room);
      try {
        await expect.poll(() => firefoxReplicatingPeers(fox)).toBe(1);
        await firefoxAddTodo(fox, 'written in firefox');
        await expect.poll(() => todoTexts(chrome)).toEqual(['written in firefox']);
        await addTodo(chrome, 'written in chromium');
        await expect.poll(() => firefoxTodoTexts(fox).then((texts) => texts.sort())).toEqual(['written in chromium', 'written in firefox']);
        expect([...firefoxErrorsOf(fox), ...consoleErrorsOf(chrome)], 'errors on the pages').toEqual([]);
      } finally {
        await Promise.all([fox.browserContext().close(), chrome.context().close()]);
      }
    });
  });
}
