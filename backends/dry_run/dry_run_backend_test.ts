import assert from "node:assert/strict";
import { backendContract } from "../contract.ts";
import { DryRunBackend } from "./dry_run_backend.ts";
import type { NodePreparationStep } from "../../src/node_prep/node_preparation.ts";

backendContract(
  "dry-run",
  () => Promise.resolve({ backend: new DryRunBackend(), close: () => Promise.resolve() }),
  { ipvs: true, addresses: true, families: ["ipv4", "ipv6"], permissions: "none" },
);

backendContract(
  "dry-run (IPv4 only, no IPVS, no link)",
  () => Promise.resolve({ backend: new DryRunBackend(), close: () => Promise.resolve() }),
  { ipvs: false, addresses: false, families: ["ipv4"], permissions: "none" },
);

Deno.test({
  name:
    "DryRunBackend.prepareNode() records the steps and creates kube-ipvs0 so the sync plan does not",
  permissions: "none",
  async fn() {
    const backend = new DryRunBackend();
    const steps: NodePreparationStep[] = [
      { kind: "sysctl", key: "net/ipv4/ip_forward", value: "1", ipvs: false },
      { kind: "dummy-link", name: "kube-ipvs0" },
    ];
    backend.prepareNode(steps);
    backend.prepareNode(steps);
    assert.deepEqual(backend.preparation(), [...steps, ...steps]);
    assert.equal((await backend.read()).linkPresent, false);
  },
});

Deno.test({
  name: "DryRunBackend.prepareNode() with simulate creates kube-ipvs0 as a start would, once",
  permissions: "none",
  async fn() {
    const backend = new DryRunBackend();
    const steps: NodePreparationStep[] = [{ kind: "dummy-link", name: "kube-ipvs0" }];
    backend.prepareNode(steps, { simulate: true });
    backend.prepareNode(steps, { simulate: true });
    assert.equal((await backend.read()).linkPresent, true);
    assert.deepEqual(backend.recorded(), []);
  },
});
