import assert from "node:assert/strict";
import { assertWholeSuiteRan, parseSummary } from "./test_summary.ts";

Deno.test({
  name: "parseSummary() reads passed, failed, ignored and filtered counts, steps aside",
  permissions: "none",
  fn: () => {
    assert.deepEqual(
      parseSummary("x ... ok\n\nFAILED | 2 passed (1 step) | 1 failed | 1 ignored (12ms)\n"),
      { passed: 2, failed: 1, ignored: 1, filtered: 0 },
    );
    assert.deepEqual(
      parseSummary("ok | 1 passed | 0 failed | 3 filtered out (8ms)"),
      { passed: 1, failed: 0, ignored: 0, filtered: 3 },
    );
    assert.equal(parseSummary("error: Module not found"), undefined);
  },
});

Deno.test({
  name: "a kernel run passes only with every registered test run and passed",
  permissions: "none",
  fn: () => {
    assertWholeSuiteRan("ok | 25 passed | 0 failed (2m)", 25);
    assert.throws(() => assertWholeSuiteRan("ok | 24 passed | 0 failed (2m)", 25), /registers 25/);
    assert.throws(
      () => assertWholeSuiteRan("ok | 20 passed | 0 failed | 5 filtered out (2m)", 25),
      /registers 25/,
    );
    assert.throws(
      () => assertWholeSuiteRan("ok | 24 passed | 0 failed | 1 ignored (2m)", 25),
      /registers 25/,
    );
    assert.throws(
      () => assertWholeSuiteRan('error: Module not found "file:///x.ts".', 25),
      /no test summary/,
    );
  },
});
