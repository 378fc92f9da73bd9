import assert from "node:assert/strict";
import { FakeClock } from "./clock.ts";
import { HealthState } from "./health_state.ts";
import {
  healthHandler,
  parseBindAddress,
  startHealthServer,
  startMetricsServer,
} from "./http_servers.ts";
import { SyncMetrics } from "./metrics.ts";
import type { SyncOutcome } from "./sync_outcome.ts";

const CLEAN: SyncOutcome = { durationMs: 1, operationsByKind: {}, failures: 0, writes: 0 };
const FAILED: SyncOutcome = { ...CLEAN, error: "boom" };

Deno.test({
  name: "parseBindAddress() reads IPv4, bracketed IPv6, empty-host and empty addresses",
  permissions: "none",
  fn() {
    assert.deepEqual(parseBindAddress("0.0.0.0:10256"), { hostname: "0.0.0.0", port: 10256 });
    assert.deepEqual(parseBindAddress("[::1]:10249"), { hostname: "::1", port: 10249 });
    assert.deepEqual(parseBindAddress(":10256"), { hostname: "0.0.0.0", port: 10256 });
    assert.deepEqual(parseBindAddress("127.0.0.1:0"), { hostname: "127.0.0.1", port: 0 });
    assert.equal(parseBindAddress(""), undefined);
  },
});

Deno.test({
  name: "parseBindAddress() rejects a missing port, bare IPv6 and a port above 65535",
  permissions: "none",
  fn() {
    for (const bad of ["0.0.0.0", "::1:10249", "1.2.3.4:65536", "host:port"]) {
      assert.throws(() => parseBindAddress(bad), /Cannot parse bind address .*"host:port"/);
    }
  },
});

Deno.test({
  name: "HealthState is unhealthy before the first sync and after 2x syncPeriod without success",
  permissions: "none",
  async fn() {
    const clock = new FakeClock(1_000);
    const health = new HealthState({ clock, syncPeriodMs: 30_000 });
    assert.equal(health.check().healthy, false);
    health.recordSync(CLEAN);
    await clock.advance(60_000);
    health.recordSync(FAILED);
    health.recordSync(FAILED);
    assert.deepEqual(health.check(), {
      healthy: true,
      lastUpdatedMs: 1_000,
      currentTimeMs: 61_000,
      consecutiveFailures: 2,
    });
    await clock.advance(1);
    assert.equal(health.check().healthy, false);
    health.recordSync(CLEAN);
    assert.equal(health.check().healthy, true);
    assert.equal(health.check().consecutiveFailures, 0);
  },
});

Deno.test({
  name: "healthHandler() answers /healthz and /livez with kube-proxy's JSON and 404 elsewhere",
  permissions: "none",
  async fn() {
    const clock = new FakeClock(Date.UTC(2024, 0, 1));
    const health = new HealthState({ clock, syncPeriodMs: 30_000 });
    const handle = healthHandler(health);
    const before = handle(new Request("http://node/healthz"));
    assert.equal(before.status, 503);
    assert.deepEqual(await before.json(), {
      lastUpdated: null,
      currentTime: "2024-01-01T00:00:00.000Z",
      consecutiveFailures: 0,
    });
    health.recordSync(CLEAN);
    const after = handle(new Request("http://node/livez"));
    assert.equal(after.status, 200);
    assert.equal(after.headers.get("content-type"), "application/json");
    assert.equal((await after.json()).lastUpdated, "2024-01-01T00:00:00.000Z");
    assert.equal(handle(new Request("http://node/")).status, 404);
  },
});

Deno.test({
  name: "startHealthServer() serves 503 then 200 on 127.0.0.1 with a kernel-chosen port",
  permissions: { net: ["127.0.0.1"] },
  async fn() {
    const health = new HealthState({ clock: new FakeClock(), syncPeriodMs: 30_000 });
    const server = startHealthServer("127.0.0.1:0", health);
    assert.ok(server && server.port > 0);
    try {
      const first = await fetch(`http://127.0.0.1:${server.port}/healthz`);
      assert.equal(first.status, 503);
      await first.body?.cancel();
      health.recordSync(CLEAN);
      const second = await fetch(`http://127.0.0.1:${server.port}/healthz`);
      assert.equal(second.status, 200);
      assert.equal((await second.json()).consecutiveFailures, 0);
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "startMetricsServer() serves /metrics as Prometheus text 0.0.4",
  permissions: { net: ["127.0.0.1"] },
  async fn() {
    const metrics = new SyncMetrics();
    metrics.recordSync(CLEAN, 1_700_000_000_000);
    const server = startMetricsServer("127.0.0.1:0", metrics);
    assert.ok(server);
    try {
      const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      assert.match(
        await response.text(),
        /^kubeproxy_sync_proxy_rules_last_timestamp_seconds 1700000000$/m,
      );
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "startHealthServer() and startMetricsServer() start nothing for an empty bind address",
  permissions: "none",
  fn() {
    const health = new HealthState({ clock: new FakeClock(), syncPeriodMs: 30_000 });
    assert.equal(startHealthServer("", health), undefined);
    assert.equal(startMetricsServer("", new SyncMetrics()), undefined);
  },
});

Deno.test({
  name: "startMetricsServer() says which address it cannot bind",
  permissions: { net: ["127.0.0.1"] },
  async fn() {
    const first = startMetricsServer("127.0.0.1:0", new SyncMetrics());
    assert.ok(first);
    try {
      assert.throws(
        () => startMetricsServer(`127.0.0.1:${first.port}`, new SyncMetrics()),
        /Cannot serve \/metrics on "127\.0\.0\.1:\d+": /,
      );
    } finally {
      await first.close();
    }
  },
});
