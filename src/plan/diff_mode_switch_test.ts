import assert from "node:assert/strict";
import { cleanupPlan, diffStates } from "./diff.ts";
import type { Operation } from "./types.ts";
import { computeDesiredState } from "../proxier/desired_state.ts";
import { computeIptablesDesiredState } from "../iptables_proxier/desired_state.ts";
import { endpoint, port, service, slice, snapshot, testConfig } from "../proxier/testing.ts";
import type { KernelState } from "../state/types.ts";

const NO_EXCLUDES = { excludeCIDRs: [] };

function input(endpoints = ["10.244.1.2", "10.244.2.2"]) {
  return {
    config: testConfig({ clusterCIDRs: ["10.244.0.0/16"] }),
    snapshot: snapshot(
      [service("web", "10.96.0.10", [port("http", 80, { nodePort: 30080 })], { type: "NodePort" })],
      [slice("web", endpoints.map((ip) => endpoint(ip)), [{ name: "http", port: 8080 }])],
    ),
    nodeName: "node-a",
    nodeIPs: ["192.168.0.2"],
  };
}

type Restore = Extract<Operation, { op: "iptables.restore" }>;

function restores(plan: readonly Operation[]): Restore[] {
  return plan.filter((op): op is Restore => op.op === "iptables.restore");
}

Deno.test({
  name: "switching a node from IPVS to iptables mode removes IPVS's chains, jumps, sets and link",
  permissions: "none",
  fn() {
    const ipvs = computeDesiredState(input()).state;
    const iptables = computeIptablesDesiredState(input()).state;
    const plan = diffStates(ipvs, iptables, NO_EXCLUDES);
    const filter = restores(plan).find((op) => op.table === "filter")!;
    assert.ok(filter.deleteChains.includes("KUBE-IPVS-FILTER"));
    assert.ok(filter.deleteJumps.some((j) => j.rule.endsWith("-j KUBE-IPVS-FILTER")));
    assert.ok(plan.some((op) => op.op === "link.delete"));
    const destroyed = plan.filter((op) => op.op === "ipset.destroy").length;
    assert.equal(destroyed, ipvs.ipsets.length);
    assert.ok(plan.some((op) => op.op === "ipvs.deleteVirtualServer"));
  },
});

Deno.test({
  name: "switching back from iptables to IPVS mode removes the per-service chains",
  permissions: "none",
  fn() {
    const ipvs = computeDesiredState(input()).state;
    const iptables = computeIptablesDesiredState(input()).state;
    const nat = restores(diffStates(iptables, ipvs, NO_EXCLUDES)).find((op) => op.table === "nat")!;
    assert.ok(nat.deleteChains.some((c) => c.startsWith("KUBE-SVC-")));
    assert.ok(nat.deleteChains.some((c) => c.startsWith("KUBE-SEP-")));
    assert.ok(!nat.deleteChains.includes("KUBE-SERVICES"), "a chain both modes use stays");
  },
});

Deno.test({
  name: "one changed endpoint rewrites only its service's chains and removes the stale one",
  permissions: "none",
  fn() {
    const before = computeIptablesDesiredState(input()).state;
    const after = computeIptablesDesiredState(input(["10.244.1.2", "10.244.3.2"])).state;
    const plan = diffStates(before, after, NO_EXCLUDES);
    assert.equal(plan.length, 1);
    const nat = plan[0] as Restore;
    assert.deepEqual(nat.chains.map((c) => c.name.slice(0, 9)).sort(), ["KUBE-SEP-", "KUBE-SVC-"]);
    assert.equal(nat.deleteChains.length, 1);
    assert.ok(nat.deleteChains[0].startsWith("KUBE-SEP-"));
    assert.deepEqual(diffStates(after, after, NO_EXCLUDES), []);
  },
});

Deno.test({
  name: "cleanupPlan() removes iptables mode's chains but not a foreign chain a backend reports",
  permissions: "none",
  fn() {
    const state = computeIptablesDesiredState(input()).state;
    const nat = state.iptables.ipv4.nat;
    const withForeign: KernelState = {
      ...state,
      iptables: {
        ...state.iptables,
        ipv4: {
          ...state.iptables.ipv4,
          nat: { ...nat, chains: [...nat.chains, { name: "CNI-FOO", rules: [] }] },
        },
      },
    };
    const ops = restores(cleanupPlan(withForeign));
    const deleted = ops.flatMap((op) => op.deleteChains);
    assert.ok(deleted.some((c) => c.startsWith("KUBE-SEP-")));
    assert.ok(deleted.includes("KUBE-EXTERNAL-SERVICES"));
    assert.ok(!deleted.includes("CNI-FOO"));
  },
});
