/**
 * Reads `deno test`'s closing line, so the VM test can tell a whole suite that passed from a run
 * that passed with tests missing.
 *
 * @module
 */

import assert from "node:assert/strict";

/** The numbers of deno test's closing line, e.g. `ok | 25 passed | 0 failed | 2 filtered out (2m)`. */
export interface TestSummary {
  /** Tests that passed. */
  passed: number;
  /** Tests that failed. */
  failed: number;
  /** Tests marked `ignore`. */
  ignored: number;
  /** Tests left out by `--filter`. */
  filtered: number;
}

/** Reads deno test's closing line from its output, or undefined when there is none. */
export function parseSummary(output: string): TestSummary | undefined {
  const match = output.match(
    /^(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \(\d+ steps?\))?(?: \| (\d+) ignored)?(?: \| (\d+) filtered out)?/m,
  );
  if (!match) return undefined;
  const [passed, failed, ignored, filtered] = match.slice(1).map((n) => Number(n ?? 0));
  return { passed, failed, ignored, filtered };
}

/**
 * Fails unless the guest's run ran every registered test and all passed: a file that failed
 * to load, a filter, an ignored test or a test that stopped registering all show here.
 */
export function assertWholeSuiteRan(output: string, expected: number): void {
  const summary = parseSummary(output);
  assert.ok(summary, "the kernel suite printed no test summary (did a file fail to load?)");
  assert.deepEqual(
    summary,
    { passed: expected, failed: 0, ignored: 0, filtered: 0 },
    `the kernel suite registers ${expected} tests; all must run and pass in the VM`,
  );
}
