import assert from "node:assert/strict";
import { DryRunBackend } from "../../backends/dry_run/dry_run_backend.ts";
import { testConfig } from "../proxier/testing.ts";
import type { ClusterSnapshot } from "../cluster/types.ts";
import { resolveNodeIPs, type SyncContext } from "./sync_once.ts";

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
