import assert from "node:assert/strict";
import { FakeClock } from "./clock.ts";
import { HealthState, nodeEligible, TO_BE_DELETED_TAINT } from "./health_state.ts";
import type { SyncOutcome } from "./sync_outcome.ts";

const CLEAN: SyncOutcome = { durationMs: 1, operationsByKind: {}, failures: 0, writes: 0 };
const FAILED: SyncOutcome = { ...CLEAN, error: "boom" };

Deno.test({
  name: "HealthState is healthy until a queued change has waited 2x syncPeriod, as kube-proxy's",
  permissions: "none",
  async fn() {
    const clock = new FakeClock(1_000);
    const health = new HealthState({ clock, syncPeriodMs: 30_000 });
    assert.equal(health.check().healthy, true);
    health.recordQueued();
    await clock.advance(30_000);
    health.recordQueued(); // the oldest pending change counts, not the newest
    await clock.advance(29_999);
    assert.equal(health.check().healthy, true);
    await clock.advance(1);
    assert.deepEqual(health.check(), {
      healthy: false,
      nodeEligible: true,
      lastUpdatedMs: undefined,
      currentTimeMs: 61_000,
      consecutiveFailures: 0,
      oldestPendingMs: 1_000,
    });
    health.recordSync(CLEAN);
    assert.equal(health.check().healthy, true);
    assert.equal(health.check().lastUpdatedMs, 61_000);
  },
});

Deno.test({
  name: "HealthState counts failed syncs as pending work, so failing syncs turn it unhealthy",
  permissions: "none",
  async fn() {
    const clock = new FakeClock(0);
    const health = new HealthState({ clock, syncPeriodMs: 30_000 });
    health.recordSync(CLEAN);
    health.recordSync(FAILED);
    await clock.advance(30_000);
    health.recordSync(FAILED);
    assert.equal(health.check().consecutiveFailures, 2);
    assert.equal(health.check().healthy, true);
    await clock.advance(30_000);
    assert.equal(health.check().healthy, false);
    health.recordSync(CLEAN);
    assert.equal(health.check().consecutiveFailures, 0);
    assert.equal(health.check().healthy, true);
  },
});

Deno.test({
  name: "nodeEligible() is false for a node being deleted or tainted for deletion",
  permissions: "none",
  fn() {
    assert.equal(
      nodeEligible({ deleting: false, taintKeys: ["node.kubernetes.io/unschedulable"] }),
      true,
    );
    assert.equal(nodeEligible({ deleting: true, taintKeys: [] }), false);
    assert.equal(nodeEligible({ deleting: false, taintKeys: [TO_BE_DELETED_TAINT] }), false);
  },
});
