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

const webVs = {
  protocol: "tcp",
  address: "10.96.0.10",
  port: 80,
  scheduler: "rr",
  persistenceTimeout: 0,
  flags: [],
  service: "",
} as const;
const dnsVs = { ...webVs, address: "10.96.0.53" };
const realServer = (address: string) =>
  ({ address, port: 8080, forward: "masq", weight: 1 }) as const;

function isDeeplyFrozen(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return true;
  return Object.isFrozen(value) && Object.values(value).every(isDeeplyFrozen);
}

Deno.test({
  name: "a read is the same frozen object until the kernel changes; a change keeps what it missed",
  permissions: "none",
  async fn() {
    const backend = new DryRunBackend();
    await backend.apply([
      { op: "link.add", device: "kube-ipvs0" },
      {
        op: "ipset.create",
        set: { name: "KUBE-CLUSTER-IP", type: "hash:ip,port", family: "inet" },
      },
      { op: "ipset.add", set: "KUBE-CLUSTER-IP", entry: "10.96.0.10,tcp:80" },
      { op: "ipvs.addVirtualServer", virtualServer: webVs },
      { op: "ipvs.addVirtualServer", virtualServer: dnsVs },
      { op: "ipvs.addRealServer", virtualServer: webVs, realServer: realServer("10.244.0.5") },
      { op: "address.add", device: "kube-ipvs0", address: "10.96.0.10/32" },
    ]);
    const first = await backend.read();
    assert.ok(isDeeplyFrozen(first));
    assert.equal(await backend.read(), first);
    await backend.apply([
      { op: "ipvs.addRealServer", virtualServer: dnsVs, realServer: realServer("10.244.0.6") },
    ]);
    const second = await backend.read();
    assert.notEqual(second, first);
    assert.equal(second.virtualServers[0], first.virtualServers[0], "10.96.0.10 untouched");
    assert.notEqual(second.virtualServers[1], first.virtualServers[1]);
    assert.deepStrictEqual(second.virtualServers[1].realServers.map((rs) => rs.address), [
      "10.244.0.6",
    ]);
    assert.equal(second.ipsets[0], first.ipsets[0]);
    assert.equal(second.addresses, first.addresses);
    backend.setConnections(webVs, "10.244.0.5:8080", 3);
    const third = await backend.read();
    assert.equal(third.virtualServers[0].realServers[0].activeConnections, 3);
    assert.equal(third.virtualServers[1], second.virtualServers[1]);
  },
});

Deno.test({
  name: "a refused line still makes the next read see what the lines before it did",
  permissions: "none",
  async fn() {
    const backend = new DryRunBackend();
    const set = { name: "KUBE-CLUSTER-IP", type: "hash:ip,port", family: "inet" } as const;
    await backend.apply([{ op: "ipset.create", set }]);
    const before = await backend.read();
    const result = await backend.apply([
      { op: "ipset.add", set: set.name, entry: "10.96.0.10,tcp:80" },
      { op: "ipset.add", set: "KUBE-MISSING", entry: "10.96.0.11,tcp:80" },
    ]);
    assert.equal(result.failures.length, 1);
    const after = await backend.read();
    assert.notEqual(after, before);
    assert.deepStrictEqual(after.ipsets[0].entries, ["10.96.0.10,tcp:80"]);
  },
});
