import assert from "node:assert/strict";
import { TokenBucket } from "./rate_limiter.ts";

Deno.test({
  name: "a burst passes at once, then requests are spaced at qps",
  permissions: "none",
  async fn() {
    const bucket = new TokenBucket(50, 3);
    const started = performance.now();
    for (let i = 0; i < 3; i++) await bucket.take();
    const burstMs = performance.now() - started;
    for (let i = 0; i < 3; i++) await bucket.take();
    const totalMs = performance.now() - started;
    // Three more tokens at 50 per second take 60 ms at least (a little slack for timers).
    assert.ok(burstMs < 30, `the burst took ${burstMs} ms`);
    assert.ok(totalMs >= 55, `six requests took only ${totalMs} ms`);
  },
});

Deno.test({
  name: "a waiting request gives up when its signal aborts",
  permissions: "none",
  async fn() {
    const bucket = new TokenBucket(0.5, 1);
    await bucket.take();
    const controller = new AbortController();
    const waiting = bucket.take(controller.signal);
    controller.abort(new Error("stopped"));
    await assert.rejects(waiting, /stopped/);
  },
});

Deno.test({
  name: "qps 0 or less means no limit",
  permissions: "none",
  async fn() {
    const bucket = new TokenBucket(-1, 0);
    for (let i = 0; i < 1000; i++) await bucket.take();
  },
});
