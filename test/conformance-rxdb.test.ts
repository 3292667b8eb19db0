/**
 * RxDB 17.6's own handlers through the conformance suite at `contract` level (exactly what
 * RxDB's replication relies on), run by the CLI as a user would: the simple-peer handler on
 * RxDB's own signaling server and the Nostr handler on our relay. Each genuine defect they
 * show is listed here and in the README with the case that shows it; every other case must
 * pass. This is the suite's proof of worth: it finds real problems in handlers people use,
 * and it does not fail them for this project's stricter rules.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { failures, lastLine, quote, runCli } from './fixtures/run-cli.js';

interface KnownDefect {
  /** The case that shows it. */
  case: string;
  /** What its failure says. */
  message: RegExp;
  /** Shown on every run; otherwise it depends on timing and may pass. */
  always: boolean;
}

const DEFECTS: readonly KnownDefect[] = [
  {
    // close() completes disconnect$ without a disconnect$ for the peers still linked: whatever
    // an app keyed by peer (RxDB's per-peer replication states included) is never released.
    case: 'lifecycle › close() emits disconnect$ for every live peer before completing',
    message: /disconnect\$ completed with 2 of 2 live peers never disconnected/,
    always: true,
  },
  {
    // simple-peer delivers data channel messages before it reports 'connect' (it waits for
    // getStats first), and RxDB's handlers pass them on at once: the token request RxDB sends
    // on connect$ then reaches the other side's message$ before its connect$.
    case: "identity › a request sent the moment connect$ fires arrives after the receiver's own connect$",
    message: /came before peer [A-Z]+'s own connect\$ for it|message\$ emitted a peer object .* that is not a connected peer/,
    always: true,
  },
  {
    // The same race, shown by a newcomer that writes as soon as its own side is connected.
    case: 'lifecycle › close() right after creation, while pairing, leaves no live link',
    message: /message\$ emitted a peer object .* that is not a connected peer/,
    always: false,
  },
];

const RUN_TIMEOUT_MS = 300_000;

for (const [file, target] of [
  ['test/fixtures/rxdb-simple-peer-target.ts', 'RxDB 17.6 simple-peer handler'],
  ['test/fixtures/rxdb-nostr-target.ts', 'RxDB 17.6 Nostr handler'],
] as const) {
  test(`${target} at contract level fails only where it has a known defect, and always where that defect is certain`, async () => {
    const started = Date.now();
    const result = await runCli(['conformance', file], RUN_TIMEOUT_MS);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const failed = failures(result.stdout, target);
    const summary = /^(\d+) passed, (\d+) failed$/.exec(lastLine(result.stdout));
    assert.ok(summary, quote(result));
    console.log(`${target}: ${summary[1]} passed, ${summary[2]} failed at contract level in ${seconds} s; failing: ${[...failed.keys()].join(' | ')}`);
    for (const [name, message] of failed) {
      const known = DEFECTS.find((defect) => defect.case === name);
      assert.ok(known, `"${name}" failed, and it is no known defect:\n${message}`);
      assert.match(message, known.message, `"${name}" failed for another reason than its known defect:\n${message}`);
    }
    for (const defect of DEFECTS.filter((each) => each.always)) assert.ok(failed.has(defect.case), `"${defect.case}" passed: is the defect fixed upstream?\n${quote(result)}`);
    assert.is(Number(summary[2]), failed.size, quote(result));
    assert.ok(Number(summary[1]) >= 25, `only ${summary[1]} cases passed\n${quote(result)}`);
  });
}

test.run();
