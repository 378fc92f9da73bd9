import assert from "node:assert/strict";
import { DURATION_BUCKETS_SECONDS, SyncMetrics } from "./metrics.ts";

Deno.test({
  name: "DURATION_BUCKETS_SECONDS are kube-proxy's 14 buckets from 1 ms doubling",
  permissions: "none",
  fn() {
    assert.equal(DURATION_BUCKETS_SECONDS.length, 14);
    assert.equal(DURATION_BUCKETS_SECONDS[0], 0.001);
    assert.equal(DURATION_BUCKETS_SECONDS[13], 8.192);
  },
});

Deno.test({
  name: "SyncMetrics renders zeros with HELP and TYPE lines before any sync",
  permissions: "none",
  fn() {
    const text = new SyncMetrics().render();
    for (
      const [name, type] of [
        ["sync_proxy_rules_duration_seconds", "histogram"],
        ["sync_proxy_rules_last_timestamp_seconds", "gauge"],
        ["sync_proxy_rules_last_queued_timestamp_seconds", "gauge"],
        ["sync_proxy_rules_iptables_restore_failures_total", "counter"],
        ["sync_proxy_rules_endpoint_changes_total", "counter"],
        ["sync_proxy_rules_service_changes_total", "counter"],
      ]
    ) {
      assert.match(text, new RegExp(`^# HELP kubeproxy_${name} \\S`, "m"));
      assert.match(text, new RegExp(`^# TYPE kubeproxy_${name} ${type}$`, "m"));
    }
    assert.match(text, /^kubeproxy_sync_proxy_rules_duration_seconds_count 0$/m);
    assert.ok(text.endsWith("\n"));
  },
});

Deno.test({
  name: "SyncMetrics.recordSync() updates the histogram, timestamps and counters",
  permissions: "none",
  fn() {
    const metrics = new SyncMetrics();
    const ok = { operationsByKind: {}, failures: 0, writes: 1, endpointChanges: 3 };
    metrics.recordSync({ ...ok, durationMs: 3, serviceChanges: 2 }, 1_700_000_000_000);
    metrics.recordSync(
      { ...ok, durationMs: 20_000, failures: 1, iptablesRestoreFailed: true },
      1_700_000_030_000,
    );
    metrics.recordQueued(1_700_000_031_500);
    const lines = metrics.render().split("\n");
    const has = (line: string) => assert.ok(lines.includes(line), `missing ${line}`);
    has('kubeproxy_sync_proxy_rules_duration_seconds_bucket{le="0.002"} 0');
    has('kubeproxy_sync_proxy_rules_duration_seconds_bucket{le="0.004"} 1');
    has('kubeproxy_sync_proxy_rules_duration_seconds_bucket{le="8.192"} 1');
    has('kubeproxy_sync_proxy_rules_duration_seconds_bucket{le="+Inf"} 2');
    has("kubeproxy_sync_proxy_rules_duration_seconds_sum 20.003");
    has("kubeproxy_sync_proxy_rules_duration_seconds_count 2");
    // The failed sync does not move the last successful sync's time.
    has("kubeproxy_sync_proxy_rules_last_timestamp_seconds 1700000000");
    has("kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds 1700000031.5");
    has("kubeproxy_sync_proxy_rules_iptables_restore_failures_total 1");
    has("kubeproxy_sync_proxy_rules_endpoint_changes_total 6");
    has("kubeproxy_sync_proxy_rules_service_changes_total 2");
  },
});

Deno.test({
  name: "only a refused iptables-restore counts as an iptables restore failure",
  permissions: "none",
  fn() {
    const metrics = new SyncMetrics();
    const failed = { operationsByKind: {}, failures: 1, writes: 1, durationMs: 5 };
    metrics.recordSync({ ...failed, error: "ipset restore refused a line" }, 1_700_000_000_000);
    assert.ok(metrics.render().includes("iptables_restore_failures_total 0"));
    metrics.recordSync({ ...failed, iptablesRestoreFailed: true }, 1_700_000_001_000);
    assert.ok(metrics.render().includes("iptables_restore_failures_total 1"));
  },
});
