import assert from "node:assert/strict";
import { formatDelay, formatSyncLine, syncFailed } from "./sync_outcome.ts";

Deno.test({
  name: "formatSyncLine() says no changes for an empty plan",
  permissions: "none",
  fn() {
    const line = formatSyncLine({ durationMs: 3.14, operationsByKind: {}, failures: 0, writes: 0 });
    assert.equal(line, "sync: 3.1 ms, no changes");
  },
});

Deno.test({
  name: "formatSyncLine() lists kinds by count, then name, in singular where it fits",
  permissions: "none",
  fn() {
    const line = formatSyncLine({
      durationMs: 1,
      operationsByKind: { "link.add": 1, "address.add": 1, "ipset.add": 0 },
      failures: 1,
      writes: 1,
    });
    assert.equal(
      line,
      "sync: 1.0 ms, 2 operations (address.add 1, link.add 1), 1 failure, 1 write",
    );
  },
});

Deno.test({
  name: "formatSyncLine() puts a thrown error's lines on one line",
  permissions: "none",
  fn() {
    const outcome = {
      durationMs: 4,
      operationsByKind: {},
      failures: 0,
      writes: 0,
      error: "ipset restore failed\n  line 3: bad entry\n",
    };
    assert.equal(
      formatSyncLine(outcome),
      "sync failed after 4.0 ms: ipset restore failed | line 3: bad entry",
    );
    assert.equal(syncFailed(outcome), true);
  },
});

Deno.test({
  name: "formatDelay() prints delays the way Go prints durations",
  permissions: "none",
  fn() {
    assert.deepEqual(
      [500, 1000, 1500, 30_000, 60_000, 90_000].map(formatDelay),
      ["500ms", "1s", "1.5s", "30s", "1m0s", "1m30s"],
    );
  },
});
