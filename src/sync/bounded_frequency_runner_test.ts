import assert from "node:assert/strict";
import { BoundedFrequencyRunner } from "./bounded_frequency_runner.ts";
import { FakeClock } from "./clock.ts";

/** A runner on a fake clock that records the fake time of every run's start. */
function harness(
  options: { minIntervalMs?: number; maxIntervalMs?: number; fn?: () => Promise<void> } = {},
) {
  const clock = new FakeClock();
  const starts: number[] = [];
  const runner = new BoundedFrequencyRunner({
    clock,
    minIntervalMs: options.minIntervalMs ?? 1000,
    maxIntervalMs: options.maxIntervalMs ?? 30_000,
    fn: async () => {
      starts.push(clock.now());
      await options.fn?.();
    },
  });
  runner.start();
  return { clock, starts, runner };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => resolve = r);
  return { promise, resolve };
}

Deno.test({
  name: "BoundedFrequencyRunner coalesces many requests into one run",
  permissions: "none",
  async fn() {
    const { clock, starts, runner } = harness();
    runner.run();
    runner.run();
    runner.run();
    await clock.advance(0);
    assert.deepEqual(starts, [0]);
    await runner.stop();
  },
});

Deno.test({
  name: "BoundedFrequencyRunner waits minInterval between starts, then runs once",
  permissions: "none",
  async fn() {
    const { clock, starts, runner } = harness({ minIntervalMs: 1000 });
    runner.run();
    await clock.advance(200);
    runner.run();
    runner.run();
    await clock.advance(799);
    assert.deepEqual(starts, [0]);
    await clock.advance(1);
    assert.deepEqual(starts, [0, 1000]);
    await clock.advance(5000);
    assert.deepEqual(starts, [0, 1000]);
    await runner.stop();
  },
});

Deno.test({
  name: "BoundedFrequencyRunner runs every maxInterval when nobody asks",
  permissions: "none",
  async fn() {
    const { clock, starts, runner } = harness({ maxIntervalMs: 30_000 });
    await clock.advance(29_999);
    assert.deepEqual(starts, []);
    await clock.advance(1);
    assert.deepEqual(starts, [30_000]);
    await clock.advance(10_000);
    runner.run();
    await clock.advance(30_000);
    // The periodic timer restarts from the last run, wherever it came from.
    assert.deepEqual(starts, [30_000, 40_000, 70_000]);
    await runner.stop();
  },
});

Deno.test({
  name: "BoundedFrequencyRunner runs exactly once more after requests made during a run",
  permissions: "none",
  async fn() {
    const gate = deferred();
    let calls = 0;
    const { clock, starts, runner } = harness({
      minIntervalMs: 0,
      fn: () => ++calls === 1 ? gate.promise : Promise.resolve(),
    });
    runner.run();
    await clock.advance(500);
    runner.run();
    runner.run();
    await clock.advance(500);
    assert.deepEqual(starts, [0]);
    gate.resolve();
    await clock.advance(0);
    assert.deepEqual(starts, [0, 1000]);
    await clock.advance(1000);
    assert.deepEqual(starts, [0, 1000]);
    await runner.stop();
  },
});

Deno.test({
  name: "BoundedFrequencyRunner retries after the delay given by retryAfter",
  permissions: "none",
  async fn() {
    const self: { runner?: BoundedFrequencyRunner } = {};
    const h = harness({
      minIntervalMs: 100,
      fn: () => Promise.resolve(self.runner?.retryAfter(2000)),
    });
    self.runner = h.runner;
    h.runner.run();
    await h.clock.advance(1999);
    assert.deepEqual(h.starts, [0]);
    await h.clock.advance(1);
    assert.deepEqual(h.starts, [0, 2000]);
    await h.runner.stop();
  },
});

Deno.test({
  name: "BoundedFrequencyRunner keeps running after fn throws and reports the error",
  permissions: "none",
  async fn() {
    const clock = new FakeClock();
    const errors: unknown[] = [];
    const runner = new BoundedFrequencyRunner({
      clock,
      minIntervalMs: 0,
      maxIntervalMs: 1000,
      fn: () => Promise.reject(new Error("boom")),
      onError: (error) => errors.push(error),
    });
    runner.start();
    await clock.advance(2000);
    assert.equal(errors.length, 2);
    await runner.stop();
  },
});

Deno.test({
  name: "BoundedFrequencyRunner.stop() resolves only after the run in progress finishes",
  permissions: "none",
  async fn() {
    const gate = deferred();
    const { clock, starts, runner } = harness({ fn: () => gate.promise });
    runner.run();
    await clock.advance(0);
    let stopped = false;
    const stopping = runner.stop().then(() => stopped = true);
    runner.run();
    await clock.advance(100);
    assert.equal(stopped, false);
    gate.resolve();
    await stopping;
    await clock.advance(60_000);
    assert.deepEqual(starts, [0]);
  },
});

Deno.test({
  name: "BoundedFrequencyRunner rejects a minInterval longer than its maxInterval",
  permissions: "none",
  fn() {
    assert.throws(
      () =>
        new BoundedFrequencyRunner({
          clock: new FakeClock(),
          minIntervalMs: 5000,
          maxIntervalMs: 1000,
          fn: () => Promise.resolve(),
        }),
      RangeError,
    );
  },
});
