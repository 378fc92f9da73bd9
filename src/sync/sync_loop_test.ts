import assert from "node:assert/strict";
import { FakeClock } from "./clock.ts";
import { HealthState } from "./health_state.ts";
import { SyncMetrics } from "./metrics.ts";
import { runSyncLoop, type SyncOutcome } from "./sync_loop.ts";

const CLEAN: SyncOutcome = { durationMs: 2, operationsByKind: {}, failures: 0, writes: 0 };

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => resolve = r);
  return { promise, resolve };
}

/**
 * A loop on a fake clock. `script` answers each sync in turn (an Error is thrown); after the
 * script runs out every sync is clean. `syncs` holds each sync's start time.
 */
function harness(options: {
  script?: Array<SyncOutcome | Error | (() => Promise<SyncOutcome>)>;
  minSyncPeriodMs?: number;
  snapshot?: Promise<void>;
} = {}) {
  const clock = new FakeClock();
  const controller = new AbortController();
  const lines: string[] = [];
  const syncs: number[] = [];
  const listeners = new Set<() => void>();
  const metrics = new SyncMetrics();
  const health = new HealthState({ clock, syncPeriodMs: 30_000 });
  const script = [...(options.script ?? [])];
  const done = runSyncLoop({
    syncOnce: () => {
      syncs.push(clock.now());
      const next = script.shift() ?? CLEAN;
      if (next instanceof Error) return Promise.reject(next);
      return typeof next === "function" ? next() : Promise.resolve(next);
    },
    waitForFirstSnapshot: () => options.snapshot ?? Promise.resolve(),
    subscribe: (onChange) => {
      listeners.add(onChange);
      return () => listeners.delete(onChange);
    },
    clock,
    syncPeriodMs: 30_000,
    minSyncPeriodMs: options.minSyncPeriodMs ?? 0,
    signal: controller.signal,
    log: (line) => lines.push(line),
    metrics,
    health,
  });
  const change = () => listeners.forEach((onChange) => onChange());
  const stop = async () => {
    controller.abort();
    await done;
  };
  return { clock, lines, syncs, change, stop, done, listeners, metrics, health };
}

Deno.test({
  name: "runSyncLoop waits for the first snapshot, then syncs at once and every syncPeriod",
  permissions: "none",
  async fn() {
    const snapshot = deferred();
    const h = harness({ snapshot: snapshot.promise });
    h.change();
    await h.clock.advance(40_000);
    assert.deepEqual(h.syncs, []);
    snapshot.resolve();
    await h.clock.advance(60_000);
    assert.deepEqual(h.syncs, [40_000, 70_000, 100_000]);
    assert.deepEqual(h.lines, Array(3).fill("sync: 2.0 ms, no changes"));
    assert.equal(h.health.check().healthy, true);
    await h.stop();
  },
});

Deno.test({
  name: "runSyncLoop syncs on every change, at most once per minSyncPeriod",
  permissions: "none",
  async fn() {
    const h = harness({ minSyncPeriodMs: 1000 });
    await h.clock.advance(100);
    h.change();
    h.change();
    await h.clock.advance(900);
    h.change();
    await h.clock.advance(5000);
    assert.deepEqual(h.syncs, [0, 1000, 2000]);
    assert.match(h.metrics.render(), /last_queued_timestamp_seconds 1\n/);
    await h.stop();
  },
});

Deno.test({
  name: "runSyncLoop logs one line per sync with the operations by kind",
  permissions: "none",
  async fn() {
    const h = harness({
      script: [{
        durationMs: 12.34,
        operationsByKind: { "ipvs.addRealServer": 2, "ipset.add": 3 },
        failures: 0,
        writes: 2,
      }],
    });
    await h.clock.advance(0);
    assert.deepEqual(h.lines, [
      "sync: 12.3 ms, 5 operations (ipset.add 3, ipvs.addRealServer 2), 0 failures, 2 writes",
    ]);
    await h.stop();
  },
});

Deno.test({
  name: "runSyncLoop retries failed syncs with doubling delays and resets them after a success",
  permissions: "none",
  async fn() {
    const partial = { durationMs: 4, operationsByKind: { "ipset.add": 1 }, failures: 1, writes: 1 };
    const h = harness({
      script: [new Error("ipset restore: exit 1"), partial, new Error("again"), CLEAN, partial],
    });
    await h.clock.advance(7000);
    assert.deepEqual(h.syncs, [0, 1000, 3000, 7000]);
    h.change();
    await h.clock.advance(1000);
    assert.deepEqual(h.syncs, [0, 1000, 3000, 7000, 7000, 8000]);
    assert.deepEqual(h.lines.slice(0, 3), [
      "sync failed after 0.0 ms: ipset restore: exit 1; retrying in 1s",
      "sync: 4.0 ms, 1 operation (ipset.add 1), 1 failure, 1 write; retrying in 2s",
      "sync failed after 0.0 ms: again; retrying in 4s",
    ]);
    assert.equal(
      h.lines[4],
      "sync: 4.0 ms, 1 operation (ipset.add 1), 1 failure, 1 write; " +
        "retrying in 1s",
    );
    assert.equal(h.health.check().consecutiveFailures, 0);
    await h.stop();
  },
});

Deno.test({
  name: "runSyncLoop stops after the sync in progress when the signal aborts",
  permissions: "none",
  async fn() {
    const gate = deferred();
    const h = harness({ script: [() => gate.promise.then(() => CLEAN)] });
    await h.clock.advance(0);
    let finished = false;
    const stopping = h.stop().then(() => finished = true);
    await h.clock.advance(100);
    assert.equal(finished, false);
    gate.resolve();
    await stopping;
    assert.deepEqual(h.lines, ["sync: 2.0 ms, no changes"]);
    assert.equal(h.listeners.size, 0);
    await h.clock.advance(60_000);
    assert.deepEqual(h.syncs, [0]);
  },
});

Deno.test({
  name: "runSyncLoop ends without syncing when aborted before the first snapshot",
  permissions: "none",
  async fn() {
    const h = harness({ snapshot: new Promise(() => {}) });
    await h.stop();
    assert.deepEqual(h.syncs, []);
  },
});
