import assert from "node:assert/strict";
import { DryRunBackend } from "../../backends/dry_run/dry_run_backend.ts";
import { syncOnce } from "./sync_once.ts";
import { endpoint, port, service, slice, snapshot, testConfig } from "../proxier/testing.ts";

const CLUSTER = snapshot(
  [service("web", "10.96.0.10", [port("http", 80)])],
  [slice("web", [endpoint("10.244.1.2")], [{ name: "http", port: 8080 }])],
);

Deno.test({
  name: "syncOnce() with the iptables proxier writes iptables mode's chains and no IPVS state",
  permissions: "none",
  async fn() {
    const backend = new DryRunBackend();
    const context = {
      config: testConfig(),
      backend,
      nodeName: "node-a",
      nodeIPFlags: ["192.168.0.2"],
      proxierKind: "iptables" as const,
    };
    const report = await syncOnce(context, CLUSTER);
    assert.deepEqual(report.result.failures, []);
    const state = backend.state();
    assert.ok(state.iptables.ipv4.nat.chains.some((c) => c.name.startsWith("KUBE-SVC-")));
    assert.deepEqual([state.virtualServers, state.ipsets, state.linkPresent], [[], [], false]);
    assert.equal((await syncOnce(context, CLUSTER)).plan.length, 0);
  },
});

Deno.test({
  name: "syncOnce() without a proxier choice still runs IPVS mode",
  permissions: "none",
  async fn() {
    const backend = new DryRunBackend();
    const context = {
      config: testConfig(),
      backend,
      nodeName: "node-a",
      nodeIPFlags: ["192.168.0.2"],
    };
    await syncOnce(context, CLUSTER);
    assert.equal(backend.state().virtualServers.length, 1);
  },
});
