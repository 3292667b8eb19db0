/**
 * Injected by the bundler wherever bundled code reads the Node globals `process` or `Buffer`
 * (simple-peer and its readable-stream use both), so pages need no shims of their own.
 */
// @ts-expect-error the `process` package ships no types; its browser build is a plain object.
import processShim from 'process/browser.js';
import { Buffer } from 'buffer';

export { processShim as process, Buffer };
