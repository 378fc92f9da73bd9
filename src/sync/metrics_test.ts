import assert from "node:assert/strict";
import {
  DURATION_BUCKETS_SECONDS,
  formatGoFloat,
  NETWORK_PROGRAMMING_BUCKETS_SECONDS,
  SyncMetrics,
} from "./metrics.ts";
import { parseProcessStats, type ProcessStats, readProcessStats } from "./process_metrics.ts";

const OK = { operationsByKind: {}, failures: 0, writes: 1, endpointChanges: 3 };

Deno.test({
  name: "the buckets are kube-proxy's: 15 exponential from 1 ms, and 81 for network programming",
  permissions: "none",
  fn() {
    assert.equal(DURATION_BUCKETS_SECONDS.length, 15);
    assert.equal(DURATION_BUCKETS_SECONDS[0], 0.001);
    assert.equal(DURATION_BUCKETS_SECONDS[14], 16.384);
    assert.equal(NETWORK_PROGRAMMING_BUCKETS_SECONDS.length, 81);
    assert.deepEqual(NETWORK_PROGRAMMING_BUCKETS_SECONDS.slice(0, 5), [0, 0.25, 0.5, 1, 2]);
    assert.deepEqual(NETWORK_PROGRAMMING_BUCKETS_SECONDS.slice(-3), [240, 270, 300]);
  },
});

Deno.test({
  name: "formatGoFloat() writes numbers as Go's FormatFloat(v, 'g', -1, 64)",
  permissions: "none",
  fn() {
    assert.equal(formatGoFloat(0), "0");
    assert.equal(formatGoFloat(20.003), "20.003");
    assert.equal(formatGoFloat(999999), "999999");
    assert.equal(formatGoFloat(1048576), "1.048576e+06");
    assert.equal(formatGoFloat(1_700_000_031.5), "1.7000000315e+09");
    assert.equal(formatGoFloat(18446744073709551615), "1.8446744073709552e+19");
    assert.equal(formatGoFloat(0.00001), "1e-05");
    assert.equal(formatGoFloat(Infinity), "+Inf");
  },
});

Deno.test({
  name: "SyncMetrics renders kube-proxy's IPVS-mode metrics sorted by name before any sync",
  permissions: "none",
  fn() {
    const text = new SyncMetrics({ processStats: false }).render();
    const names = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
    assert.deepEqual(names, [
      "kubeproxy_network_programming_duration_seconds histogram",
      "kubeproxy_sync_proxy_rules_duration_seconds histogram",
      "kubeproxy_sync_proxy_rules_endpoint_changes_pending gauge",
      "kubeproxy_sync_proxy_rules_endpoint_changes_total counter",
      "kubeproxy_sync_proxy_rules_iptables_restore_failures_total counter",
      "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds gauge",
      "kubeproxy_sync_proxy_rules_last_timestamp_seconds gauge",
      "kubeproxy_sync_proxy_rules_service_changes_pending gauge",
      "kubeproxy_sync_proxy_rules_service_changes_total counter",
    ]);
    assert.match(
      text,
      /^# HELP kubeproxy_sync_proxy_rules_duration_seconds \[ALPHA\] SyncProxyRules latency in seconds$/m,
    );
    assert.match(text, /^kubeproxy_sync_proxy_rules_duration_seconds_count 0$/m);
    assert.ok(text.endsWith("\n"));
  },
});

Deno.test({
  name: "SyncMetrics.recordSync() updates the histogram, timestamps and counters",
  permissions: "none",
  fn() {
    const metrics = new SyncMetrics({ processStats: false });
    metrics.recordSync({ ...OK, durationMs: 3, serviceChanges: 2 }, 1_700_000_000_000);
    metrics.recordSync(
      { ...OK, durationMs: 20_000, failures: 1, iptablesRestoreFailed: true },
      1_700_000_030_000,
    );
    metrics.recordQueued(1_700_000_031_500);
    const lines = metrics.render().split("\n");
    const has = (line: string) => assert.ok(lines.includes(line), `missing ${line}`);
    has('kubeproxy_sync_proxy_rules_duration_seconds_bucket{le="0.002"} 0');
    has('kubeproxy_sync_proxy_rules_duration_seconds_bucket{le="0.004"} 1');
    has('kubeproxy_sync_proxy_rules_duration_seconds_bucket{le="16.384"} 1');
    has('kubeproxy_sync_proxy_rules_duration_seconds_bucket{le="+Inf"} 2');
    has("kubeproxy_sync_proxy_rules_duration_seconds_sum 20.003");
    has("kubeproxy_sync_proxy_rules_duration_seconds_count 2");
    // The failed sync does not move the last successful sync's time.
    has("kubeproxy_sync_proxy_rules_last_timestamp_seconds 1.7e+09");
    has("kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds 1.7000000315e+09");
    has("kubeproxy_sync_proxy_rules_iptables_restore_failures_total 1");
    has("kubeproxy_sync_proxy_rules_endpoint_changes_total 6");
    has("kubeproxy_sync_proxy_rules_service_changes_total 2");
  },
});

Deno.test({
  name: "only a refused iptables-restore counts as an iptables restore failure",
  permissions: "none",
  fn() {
    const metrics = new SyncMetrics({ processStats: false });
    const failed = { operationsByKind: {}, failures: 1, writes: 1, durationMs: 5 };
    metrics.recordSync({ ...failed, error: "ipset restore refused a line" }, 1_700_000_000_000);
    assert.ok(metrics.render().includes("iptables_restore_failures_total 0"));
    metrics.recordSync({ ...failed, iptablesRestoreFailed: true }, 1_700_000_001_000);
    assert.ok(metrics.render().includes("iptables_restore_failures_total 1"));
  },
});

Deno.test({
  name: "with ipFamilies every per-family metric has one series per family labelled ip_family",
  permissions: "none",
  fn() {
    const metrics = new SyncMetrics({ ipFamilies: ["IPv4", "IPv6"], processStats: false });
    metrics.recordSync({ ...OK, durationMs: 3, iptablesRestoreFailed: true }, 1_000);
    metrics.observeNetworkProgramming(1.5, "IPv6");
    metrics.observeNetworkProgramming(-2, "IPv6");
    metrics.setNoLocalEndpoints({ family: "IPv4", internal: 1, external: 2 });
    const lines = metrics.render().split("\n");
    const has = (line: string) => assert.ok(lines.includes(line), `missing ${line}`);
    has('kubeproxy_sync_proxy_rules_duration_seconds_bucket{ip_family="IPv6",le="0.004"} 1');
    has('kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family="IPv4"} 1');
    has('kubeproxy_sync_proxy_rules_iptables_restore_failures_total{ip_family="IPv4"} 1');
    has('kubeproxy_sync_proxy_rules_iptables_restore_failures_total{ip_family="IPv6"} 0');
    has('kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds{ip_family="IPv6"} 0');
    has('kubeproxy_network_programming_duration_seconds_bucket{ip_family="IPv6",le="1"} 0');
    has('kubeproxy_network_programming_duration_seconds_bucket{ip_family="IPv6",le="2"} 1');
    has('kubeproxy_network_programming_duration_seconds_count{ip_family="IPv6"} 1');
    has('kubeproxy_network_programming_duration_seconds_count{ip_family="IPv4"} 0');
    has(
      'kubeproxy_sync_proxy_rules_no_local_endpoints_total{ip_family="IPv4",traffic_policy="external"} 2',
    );
    has(
      'kubeproxy_sync_proxy_rules_no_local_endpoints_total{ip_family="IPv4",traffic_policy="internal"} 1',
    );
  },
});

Deno.test({
  name: "pending changes show until the next sync takes them in; health answers count by code",
  permissions: "none",
  fn() {
    const metrics = new SyncMetrics({ processStats: false });
    metrics.setPendingChanges({ services: 2, endpoints: 5 });
    metrics.recordHealthz(200);
    metrics.recordHealthz(200);
    metrics.recordLivez(503);
    let text = metrics.render();
    assert.match(text, /^kubeproxy_sync_proxy_rules_service_changes_pending 2$/m);
    assert.match(text, /^kubeproxy_sync_proxy_rules_endpoint_changes_pending 5$/m);
    assert.match(text, /^kubeproxy_proxy_healthz_total\{code="200"\} 2$/m);
    assert.match(text, /^kubeproxy_proxy_livez_total\{code="503"\} 1$/m);
    metrics.recordSync({ ...OK, durationMs: 1 }, 1_000);
    text = metrics.render();
    assert.match(text, /^kubeproxy_sync_proxy_rules_endpoint_changes_pending 0$/m);
  },
});

const STATS: ProcessStats = {
  cpuSeconds: 3,
  startTimeSeconds: 1_700_000_010,
  residentBytes: 10_240_000,
  virtualBytes: 1_000_000,
  openFds: 9,
  maxFds: 1024,
  virtualMaxBytes: 18446744073709551615,
};

Deno.test({
  name: "SyncMetrics renders the process_* metrics as the Go client names and types them",
  permissions: "none",
  fn() {
    const text = new SyncMetrics({ processStats: () => STATS }).render();
    for (
      const line of [
        "# TYPE process_cpu_seconds_total counter",
        "process_cpu_seconds_total 3",
        "process_max_fds 1024",
        "process_open_fds 9",
        "process_resident_memory_bytes 1.024e+07",
        "process_start_time_seconds 1.70000001e+09",
        "process_virtual_memory_bytes 1e+06",
        "process_virtual_memory_max_bytes 1.8446744073709552e+19",
      ]
    ) assert.ok(text.split("\n").includes(line), `missing ${line}`);
  },
});

Deno.test({
  name: "parseProcessStats() reads /proc/self/stat with a command name holding spaces and a paren",
  permissions: "none",
  fn() {
    const stat = "42 (my (deno) x) S 1 42 42 0 -1 4194560 1 0 0 0 250 50 0 0 20 0 5 0 1000 " +
      "1000000 2500 18446744073709551615 1 2 3";
    const limits = "Limit  Soft Limit  Hard Limit  Units\n" +
      "Max open files            1024                 4096                 files\n" +
      "Max address space         unlimited            unlimited            bytes\n";
    assert.deepEqual(
      parseProcessStats({ stat, procStat: "cpu 1 2\nbtime 1700000000\n", limits, openFds: 9 }),
      { ...STATS, residentBytes: 2500 * 4096 },
    );
    assert.equal(
      parseProcessStats({ stat: "garbage", procStat: "", limits, openFds: 1 }),
      undefined,
    );
  },
});

Deno.test({
  // Deno lets only --allow-all read /proc/self/stat: this test inherits the run's permissions.
  name: "readProcessStats() reads this process's real figures from /proc",
  fn() {
    const stats = readProcessStats();
    assert.ok(stats, "readable /proc/self");
    assert.ok(
      stats.residentBytes > 1_000_000 && stats.openFds > 2 && stats.maxFds >= stats.openFds,
    );
    const age = Date.now() / 1000 - stats.startTimeSeconds;
    assert.ok(age > 0 && age < 3600, `started ${age} s ago`);
  },
});
