/**
 * The suite must fail where a handler breaks the contract: each fixture in test/fixtures/broken
 * is the memory handler with one rule broken, run through the CLI; the cases that check that
 * rule must be among the failures, with a message that names the problem. The unbroken
 * memory handler must pass everything.
 */
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runConformanceSuite, type ConformanceTarget } from '../src/conformance/index.js';
import { failures, lastLine, quote, runCli, type CliResult } from './fixtures/run-cli.js';

interface Expectation {
  file: string;
  target: string;
  /** Case → a pattern its failure message must match. */
  failing: Record<string, RegExp>;
}

const BROKEN: Expectation[] = [
  {
    file: 'identity.ts',
    target: 'broken: new peer object per message',
    failing: {
      'identity › the same peer object on connect$, message$, response$ and disconnect$': /different peer object than connect\$/,
      'identity › the connect$ peer object is reused for every payload, both ways': /peer object|not a connected peer/,
    },
  },
  {
    file: 'falsy-results.ts',
    target: 'broken: drops falsy results',
    failing: {
      "routing › responses arrive on response$, including results null, 0, '' and false": /response\$ did not emit payload/,
    },
  },
  {
    file: 'no-complete.ts',
    target: 'broken: streams never complete',
    failing: {
      'lifecycle › close() before any peer completes all five streams': /connect\$, disconnect\$, message\$, response\$, error\$ did not complete/,
      'lifecycle › close() completes all five streams and later subscribers complete at once': /did not complete/,
    },
  },
  {
    file: 'leak-timer.ts',
    target: 'broken: leaks a timer after close',
    failing: {
      'lifecycle › leaves no timers or sockets once closed': /Timeout \d+ \(baseline \d+\)/,
      'resources › the whole run leaves no timers or sockets behind': /Timeout \d+ \(baseline \d+\)/,
    },
  },
  {
    file: 'leak-unref-interval.ts',
    target: "broken: leaks an unref'd interval after close",
    failing: {
      'lifecycle › leaves no timers or sockets once closed': /timer\(s\) created during the case .*leak-unref-interval/s,
    },
  },
  {
    file: 'send-unknown.ts',
    target: 'broken: send() resolves for unknown peers',
    failing: {
      'disconnect › send() to an unknown peer rejects with ERR_PEER_NOT_CONNECTED': /resolved; it must reject with code ERR_PEER_NOT_CONNECTED/,
      'disconnect › send() to a peer that left rejects with ERR_PEER_NOT_CONNECTED': /resolved; it must reject with code ERR_PEER_NOT_CONNECTED/,
      'disconnect › a peer that comes back on the same topic connects again as a new object': /previous session resolved/,
    },
  },
  {
    file: 'big-payloads.ts',
    target: 'broken: reorders and truncates large payloads',
    failing: {
      'payloads › the largest payload (maxPayloadBytes, 16 MiB by default) arrives intact both ways': /arrived damaged: .*string differs \(length 2097152/,
      'payloads › order is kept under load, mixed sizes, both directions at once': /arrived in position \d+; order must be kept/,
    },
  },
  {
    file: 'no-remote-disconnect.ts',
    target: 'broken: no disconnect$ on remote close',
    failing: {
      'disconnect › a remote close() gives disconnect$ with the connected peer object': /disconnect\$ did not emit for peer B after its close\(\) within 1500 ms/,
      'disconnect › the others keep working when one peer closes': /disconnect\$ did not emit/,
      'disconnect › a crash gives disconnect$ on every other peer, and they keep working': /disconnect\$ did not emit for peer C after its crash/,
    },
  },
  {
    file: 'late-connect.ts',
    target: 'broken: connect$ after the first payloads',
    failing: {
      "identity › a request sent the moment connect$ fires arrives after the receiver's own connect$": /came before peer [A-Z]'s own connect\$ for it|message\$ emitted a peer object .* that is not a connected peer/,
    },
  },
  {
    file: 'topic-leak.ts',
    target: 'broken: one creator mixes its topics',
    failing: {
      'isolation › a creator shared by two topics brings each peer only into the topic it joined': /connect\$ brought 2 peers/,
      "isolation › two creators sharing two topics keep each topic's payloads and peer objects apart": /received \[.*\], sent on the other topic/,
    },
  },
];

/** What strict asks beyond RxDB's contract, and an RxDB-17-shaped handler (no destroy(), uncoded errors) lacks. */
const STRICT_ONLY_FAILURES = [
  'lifecycle › both close() (RxDB 17) and destroy() (RxDB 14) are there, one teardown',
  'lifecycle › send() during and after close() rejects with ERR_DESTROYED',
  'disconnect › send() to a peer that left rejects with ERR_PEER_NOT_CONNECTED',
  'disconnect › send() to an unknown peer rejects with ERR_PEER_NOT_CONNECTED',
  'disconnect › a peer that comes back on the same topic connects again as a new object',
  'errors › send() of an unserializable payload rejects with a coded error and the link keeps working',
];
const JUNIT_FILE = join(tmpdir(), `conformance-junit-${process.pid}.xml`);

// Runs start three at a time (they mostly wait on timeouts, but nine suites at once on two
// busy cores outran the per-run limit); each test awaits its own.
const CONCURRENT_RUNS = 3;
const RUN_TIMEOUT_MS = 300_000;
const waiting: Array<() => void> = [];
let running = 0;
function queuedRun(args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const start = () => {
      running++;
      runCli(['conformance', ...args], RUN_TIMEOUT_MS)
        .then(resolve, reject)
        .finally(() => {
          running--;
          waiting.shift()?.();
        });
    };
    if (running < CONCURRENT_RUNS) start();
    else waiting.push(start);
  });
}
const runs = new Map<string, Promise<CliResult>>(
  [...BROKEN.map((expectation) => `test/fixtures/broken/${expectation.file}`), 'test/fixtures/memory-target.ts'].map((file) => [
    file,
    queuedRun([file]),
  ]),
);
const rxdbShaped = queuedRun(['test/fixtures/rxdb17-shape.ts']);
const rxdbShapedStrict = queuedRun(['test/fixtures/rxdb17-shape.ts', '--level', 'strict']);
const bailStarted = Date.now();
const bailed = queuedRun(['test/fixtures/broken/no-remote-disconnect.ts', '--bail']).then((result) => ({ result, ms: Date.now() - bailStarted }));
const junit = queuedRun(['test/fixtures/memory-target.ts', '--grep', 'pairing ›', '--reporter', 'junit', '--output', JUNIT_FILE]);
const tap = queuedRun(['test/fixtures/broken/topic-leak.ts', '--grep', 'isolation', '--reporter', 'tap']);

const test = suite('conformance suite on broken handlers');

test('the unbroken memory handler passes every case', async () => {
  const result = await runs.get('test/fixtures/memory-target.ts')!;
  assert.is(result.code, 0, quote(result));
  assert.is(failures(result.stdout, 'memory').size, 0, quote(result));
  assert.match(lastLine(result.stdout), /^\d+ passed, 0 failed$/, quote(result));
});

test('an RxDB-17-shaped handler (close() only, uncoded errors) passes at contract level and fails strict only where strict asks more', async () => {
  const contract = await rxdbShaped;
  assert.is(contract.code, 0, quote(contract));
  assert.match(lastLine(contract.stdout), /^\d+ passed, 0 failed$/, quote(contract));
  const strict = await rxdbShapedStrict;
  assert.is(strict.code, 1, quote(strict));
  assert.equal([...failures(strict.stdout, 'RxDB-17-shaped memory handler').keys()].sort(), [...STRICT_ONLY_FAILURES].sort(), quote(strict));
});

test('--bail stops at the first failing case and reports the rest as skipped', async () => {
  const { result, ms } = await bailed;
  assert.is(result.code, 1, quote(result));
  assert.is(failures(result.stdout, 'broken: no disconnect$ on remote close').size, 1, quote(result));
  assert.match(result.stdout, /\n\d+ skipped after the first failure \(--bail\)\n/, quote(result));
  assert.match(lastLine(result.stdout), /^\d+ passed, 1 failed$/, quote(result));
  // A figure, not a check (timing belongs in benchmarks): one timeout (1.5 s) plus queueing.
  console.log(`--bail on a broken handler: reported in ${ms} ms, ${failures(result.stdout, 'broken: no disconnect$ on remote close').size} failure`);
});

test('--reporter junit writes one testcase per case to --output; --reporter tap alone owns stdout', async () => {
  const result = await junit;
  assert.is(result.code, 0, quote(result));
  assert.match(lastLine(result.stdout), /^5 passed, 0 failed$/, quote(result));
  const xml = readFileSync(JUNIT_FILE, 'utf8');
  rmSync(JUNIT_FILE, { force: true });
  assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="conformance: memory \(strict\)" tests="5" failures="0" skipped="0"/);
  assert.is(xml.match(/<testcase /g)?.length, 5, xml);
  assert.is(xml.match(/<testsuite /g)?.length, 1, xml);

  const report = await tap;
  assert.is(report.code, 1, quote(report));
  const lines = report.stdout.trimEnd().split('\n');
  assert.is(lines[0], 'TAP version 13', quote(report));
  assert.is(lines[2], '1..3', quote(report));
  // One creator mixing its topics also mixes the two peers a second call for one topic makes.
  assert.is(lines.filter((line) => /^not ok \d+ - isolation › /.test(line)).length, 3, quote(report));
  assert.ok(lines.includes('  message: |'), quote(report));
  assert.not.match(report.stdout, /Total:|passed, \d+ failed/, 'uvu output or the summary line leaked into the TAP stream');
});

test('malformed targets are refused at registration with ERR_INVALID_OPTION', () => {
  const creator = () => async () => ({}) as never;
  const malformed: Array<[unknown, RegExp]> = [
    [undefined, /expected an object/],
    [{ name: '', creator }, /name must be a non-empty string/],
    [{ name: 'x' }, /creator must be a function/],
    [{ name: 'x', creator, setup: 'no' }, /setup must be a function/],
    [{ name: 'x', creator, capabilities: { timeoutMS: 5 } }, /unknown capability "timeoutMS"/],
    [{ name: 'x', creator, capabilities: { meshSize: 2 } }, /meshSize must be an integer >= 3/],
    [{ name: 'x', creator, capabilities: { maxPayloadBytes: 10 } }, /maxPayloadBytes must be an integer >= 1024/],
    [{ name: 'x', creator, capabilities: { timeoutMs: -1 } }, /timeoutMs must be a number >= 1/],
    [{ name: 'x', creator, capabilities: { crash: true } }, /crash must be a function/],
    [{ name: 'x', creator, level: 'lenient' }, /level must be 'contract' or 'strict'/],
  ];
  for (const [target, message] of malformed) {
    try {
      runConformanceSuite(target as ConformanceTarget<unknown>);
    } catch (error) {
      assert.is((error as { code?: unknown }).code, 'ERR_INVALID_OPTION');
      assert.match((error as Error).message, message);
      continue;
    }
    assert.unreachable(`accepted ${JSON.stringify(target)}`);
  }
});

for (const expectation of BROKEN) {
  test(`fails on "${expectation.target}" in the cases that check it`, async () => {
    const result = await runs.get(`test/fixtures/broken/${expectation.file}`)!;
    assert.is(result.code, 1, quote(result));
    const failed = failures(result.stdout, expectation.target);
    for (const [name, why] of Object.entries(expectation.failing)) {
      const message = failed.get(name);
      assert.ok(message !== undefined, `expected "${name}" to fail\n${quote(result)}`);
      assert.match(message, why, `"${name}" failed for another reason:\n${message}`);
    }
    const [passed, failedCount] = (/^(\d+) passed, (\d+) failed$/.exec(lastLine(result.stdout)) ?? []).slice(1).map(Number);
    assert.is(failedCount, failed.size, `summary line disagrees with the FAIL lines\n${quote(result)}`);
    assert.ok((passed ?? 0) > 0, 'a broken handler should still pass the cases its breakage does not touch');
  });
}

test.run();
