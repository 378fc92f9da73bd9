import assert from "node:assert/strict";
import { DryRunBackend } from "../../backends/dry_run/dry_run_backend.ts";
import { testConfig } from "../proxier/testing.ts";
import type { ClusterSnapshot } from "../cluster/types.ts";
import { resolveNodeIPs, type SyncContext, syncOnce } from "./sync_once.ts";

const snapshot: ClusterSnapshot = {
  services: [],
  endpointSlices: [],
  nodes: [{
    name: "node-a",
    source: "nodes.yaml",
    addresses: [
      { type: "ExternalIP", address: "203.0.113.5" },
      { type: "Hostname", address: "node-a" },
      { type: "InternalIP", address: "192.168.0.10" },
    ],
  }],
};

function context(kernel: string[], flags: string[] = []): SyncContext {
  return {
    config: testConfig(),
    backend: new DryRunBackend({ nodeAddresses: kernel }),
    nodeName: "node-a",
    nodeIPFlags: flags,
  };
}

Deno.test({
  name: "--node-ip wins over the kernel and the Node object",
  permissions: "none",
  async fn() {
    assert.deepEqual(await resolveNodeIPs(context(["10.1.1.1"], ["192.0.2.1"]), snapshot), [
      "192.0.2.1",
    ]);
  },
});

Deno.test({
  name: "the kernel's addresses carry NodePorts, the Node object's InternalIP first as primary",
  permissions: "none",
  async fn() {
    const ips = await resolveNodeIPs(context(["10.1.1.1", "192.168.0.10"]), snapshot);
    assert.deepEqual(ips, ["192.168.0.10", "10.1.1.1"]);
  },
});

Deno.test({
  name: "without kernel addresses (the dry run) the Node object's IPs are used, InternalIP first",
  permissions: "none",
  async fn() {
    assert.deepEqual(await resolveNodeIPs(context([]), snapshot), ["192.168.0.10", "203.0.113.5"]);
  },
});

Deno.test({
  name:
    "a node name with no Node object and no --node-ip is warned about once, saying NodePorts have no address",
  permissions: "none",
  async fn() {
    const lonely = { ...context([]), nodeName: "node-z" };
    const first = await syncOnce(lonely, snapshot);
    assert.equal(first.desired.warnings.length, 1);
    assert.match(
      first.desired.warnings[0],
      /no Node object named "node-z" and no --node-ip, so NodePorts get no virtual servers/,
    );
    const second = await syncOnce(lonely, snapshot);
    assert.deepEqual(second.desired.warnings, []);
    // With --node-ip, or with the Node there, nothing to say.
    assert.deepEqual((await syncOnce(context([], ["192.0.2.1"]), snapshot)).desired.warnings, []);
    assert.deepEqual((await syncOnce(context([]), snapshot)).desired.warnings, []);
  },
});
