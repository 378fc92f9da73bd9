import assert from "node:assert/strict";
import { FakeClock } from "./clock.ts";
import { HealthState, nodeEligible, TO_BE_DELETED_TAINT } from "./health_state.ts";
import {
  formatGoTime,
  healthHandler,
  metricsHandler,
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
  name: "formatGoTime() prints Go's time.Time String() in UTC, with the monotonic part when asked",
  permissions: "none",
  fn() {
    const ms = Date.UTC(2024, 0, 2, 3, 4, 5, 123) + 0.456;
    assert.equal(formatGoTime(ms), "2024-01-02 03:04:05.123456 +0000 UTC");
    assert.equal(formatGoTime(Date.UTC(2024, 0, 2)), "2024-01-02 00:00:00 +0000 UTC");
    assert.equal(
      formatGoTime(Date.UTC(2024, 0, 2, 0, 0, 1, 500), Date.UTC(2024, 0, 2)),
      "2024-01-02 00:00:01.5 +0000 UTC m=+1.500000000",
    );
    assert.equal(formatGoTime(undefined), "0001-01-01 00:00:00 +0000 UTC");
  },
});

Deno.test({
  name:
    "healthHandler() answers /healthz and /livez with kube-proxy's exact bodies and 404 elsewhere",
  permissions: "none",
  async fn() {
    const clock = new FakeClock(Date.UTC(2024, 0, 1));
    const health = new HealthState({ clock, syncPeriodMs: 30_000 });
    const metrics = new SyncMetrics({ processStats: false });
    const handle = healthHandler(health, { metrics });
    // Healthy while starting up: lastUpdated is the current time, as kube-proxy reports it.
    const start = handle(new Request("http://node/healthz"));
    assert.equal(start.status, 200);
    assert.equal(start.headers.get("content-type"), "application/json");
    assert.equal(start.headers.get("x-content-type-options"), "nosniff");
    assert.equal(
      await start.text(),
      '{"lastUpdated": "2024-01-01 00:00:00 +0000 UTC","currentTime": "2024-01-01 00:00:00 +0000 UTC", "nodeEligible": true}',
    );
    health.recordQueued();
    await clock.advance(60_000);
    const late = handle(new Request("http://node/livez"));
    assert.equal(late.status, 503);
    assert.equal(
      await late.text(),
      '{"lastUpdated": "0001-01-01 00:00:00 +0000 UTC","currentTime": "2024-01-01 00:01:00 +0000 UTC"}',
    );
    assert.equal(handle(new Request("http://node/")).status, 404);
    assert.match(metrics.render(), /^kubeproxy_proxy_healthz_total\{code="200"\} 1$/m);
    assert.match(metrics.render(), /^kubeproxy_proxy_livez_total\{code="503"\} 1$/m);
  },
});

Deno.test({
  name: "/healthz turns 503 for a node that is not eligible while /livez stays 200",
  permissions: "none",
  async fn() {
    const clock = new FakeClock(Date.UTC(2024, 0, 1));
    const health = new HealthState({ clock, syncPeriodMs: 30_000 });
    health.recordSync(CLEAN);
    health.setNodeEligible(nodeEligible({ deleting: false, taintKeys: [TO_BE_DELETED_TAINT] }));
    const handle = healthHandler(health);
    const healthz = handle(new Request("http://node/healthz"));
    assert.equal(healthz.status, 503);
    assert.match(await healthz.text(), /"nodeEligible": false\}$/);
    assert.equal(handle(new Request("http://node/livez")).status, 200);
  },
});

Deno.test({
  name: "startHealthServer() serves 200, then 503 once a change waited 2x syncPeriod, on 127.0.0.1",
  permissions: { net: ["127.0.0.1"] },
  async fn() {
    const clock = new FakeClock();
    const health = new HealthState({ clock, syncPeriodMs: 30_000 });
    const server = startHealthServer("127.0.0.1:0", health);
    assert.ok(server && server.port > 0);
    try {
      const first = await fetch(`http://127.0.0.1:${server.port}/healthz`);
      assert.equal(first.status, 200);
      await first.body?.cancel();
      health.recordSync(FAILED);
      await clock.advance(60_000);
      const second = await fetch(`http://127.0.0.1:${server.port}/healthz`);
      assert.equal(second.status, 503);
      assert.match(await second.text(), /^\{"lastUpdated": "0001-01-01 00:00:00 \+0000 UTC",/);
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "the metrics address serves /proxyMode, /configz and /healthz as kube-proxy's does",
  permissions: "none",
  async fn() {
    const handle = metricsHandler(new SyncMetrics({ processStats: false }), {
      configz: () => ({ "kubeproxy.config.k8s.io": { mode: "ipvs" } }),
    });
    const mode = handle(new Request("http://node/proxyMode"));
    assert.equal(await mode.text(), "ipvs");
    assert.equal(mode.headers.get("content-type"), "text/plain; charset=utf-8");
    const configz = handle(new Request("http://node/configz"));
    assert.equal(configz.headers.get("content-type"), "application/json");
    assert.deepEqual(await configz.json(), { "kubeproxy.config.k8s.io": { mode: "ipvs" } });
    assert.equal(await handle(new Request("http://node/healthz")).text(), "ok");
    assert.equal(metricsHandler(new SyncMetrics())(new Request("http://node/configz")).status, 404);
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
        /^kubeproxy_sync_proxy_rules_last_timestamp_seconds 1.7e\+09$/m,
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
