/** The `p2p-handlers` bin: help, usage errors, and `conformance` on passing and failing targets. */
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI, failures, lastLine, quote, runCli } from './fixtures/run-cli.js';

const test = suite('p2p-handlers cli');

test('the built bin starts with a node shebang', () => {
  assert.is(readFileSync(CLI, 'utf8').split('\n')[0], '#!/usr/bin/env node');
});

test('--help lists the commands and exits 0', async () => {
  const result = await runCli(['--help']);
  assert.is(result.code, 0, quote(result));
  assert.match(result.stdout, /Usage: p2p-handlers <command>/);
  assert.match(result.stdout, /^ {2}conformance {2}/m);
});

test('conformance --help shows its options and exits 0', async () => {
  const result = await runCli(['conformance', '--help']);
  assert.is(result.code, 0, quote(result));
  assert.match(result.stdout, /Usage: p2p-handlers conformance <file> \[options\]/);
  for (const option of ['--grep <text>', '--level <level>', '--bail', '--reporter <name>', '--output <file>']) assert.ok(result.stdout.includes(option), option);
});

test('bad usage exits 2 with a message on stderr', async () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /Usage: p2p-handlers <command>/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['conformance'], /missing <file>/],
    [['conformance', 'test/fixtures/does-not-exist.ts'], /no such file: test\/fixtures\/does-not-exist\.ts/],
    [['conformance', 'test/fixtures/memory-target.ts', '--bale'], /unknown option --bale/],
    [['conformance', 'test/fixtures/memory-target.ts', '--level', 'lenient'], /--level must be contract or strict/],
    [['conformance', 'test/fixtures/memory-target.ts', '--reporter', 'xml'], /--reporter must be one of default, junit, tap/],
    [['conformance', 'test/fixtures/memory-target.ts', '--output', 'x.xml'], /--output goes with --reporter junit or tap/],
    [['conformance', 'test/fixtures/memory-target.ts', '--grep'], /--grep needs a value/],
    [['conformance', 'test/fixtures/memory-target.ts', '--grep', 'no case is called this'], /no case matches --grep/],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(args);
    assert.is(result.code, 2, `${args.join(' ')}\n${quote(result)}`);
    assert.match(result.stderr, message, `${args.join(' ')}\n${quote(result)}`);
  }
});

test('a file without a valid default export exits 1 and says why', async () => {
  const cases: Array<[string, RegExp]> = [
    ['test/fixtures/no-default.ts', /has no default export/],
    ['test/fixtures/invalid-target.mjs', /not a valid target: .*creator must be a function/],
    ['test/fixtures/typo-capability.mjs', /unknown capability "timeoutMS"/],
  ];
  for (const [file, message] of cases) {
    const result = await runCli(['conformance', file]);
    assert.is(result.code, 1, `${file}\n${quote(result)}`);
    assert.match(result.stderr, message, `${file}\n${quote(result)}`);
  }
});

test('a passing .mjs target (importing the package by name) exits 0 with "N passed, 0 failed"', async () => {
  const result = await runCli(['conformance', 'test/fixtures/memory-target.mjs']);
  assert.is(result.code, 0, quote(result));
  const summary = /^(\d+) passed, 0 failed$/.exec(lastLine(result.stdout));
  assert.ok(summary, quote(result));
  assert.ok(Number(summary[1]) >= 30, `only ${summary[1]} cases ran`);
  assert.is(failures(result.stdout, 'memory (js)').size, 0, quote(result));
});

test('--grep runs only the matching cases', async () => {
  const result = await runCli(['conformance', 'test/fixtures/memory-target.ts', '--grep', 'routing ›']);
  assert.is(result.code, 0, quote(result));
  assert.is(lastLine(result.stdout), '5 passed, 0 failed', quote(result));
});

test('a failing target exits 1 and prints each failing case with the target name', async () => {
  const result = await runCli(['conformance', 'test/fixtures/broken/falsy-results.ts', '--grep=routing']);
  assert.is(result.code, 1, quote(result));
  const failed = failures(result.stdout, 'broken: drops falsy results');
  assert.ok(failed.has("routing › responses arrive on response$, including results null, 0, '' and false"), quote(result));
  assert.match(lastLine(result.stdout), new RegExp(`^\\d+ passed, ${failed.size} failed$`), quote(result));
});

test.run();
