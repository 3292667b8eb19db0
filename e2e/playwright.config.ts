/**
 * Playwright for the demo's end-to-end tests: Debian's Chromium (no browser download), run by
 * `npm test` inside the same loopback-only network namespace as every other test. Chromium
 * gathers no ICE candidates there unless it may use loopback and show local addresses, hence
 * the flags and the media permissions (without them it hides host candidates behind mDNS).
 */
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  timeout: 180_000,
  expect: { timeout: 45_000 },
  // One worker: the machine has two cores and every test already runs two browsers and WebRTC.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: true,
  reporter: [['list'], ['json', { outputFile: '../test-results/e2e/results.json' }]],
  outputDir: '../test-results/e2e/output',
  use: {
    browserName: 'chromium',
    headless: true,
    permissions: ['camera', 'microphone'],
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--allow-loopback-in-peer-connection',
        '--disable-features=WebRtcHideLocalIpsWithMdns',
        '--use-fake-ui-for-media-stream',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-quic',
        '--no-first-run',
        '--disable-gpu',
      ],
    },
  },
});
