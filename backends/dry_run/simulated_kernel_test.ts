import assert from "node:assert/strict";
import type { Operation } from "../../src/plan/types.ts";
import type { KernelState } from "../../src/state/types.ts";
import { emptyKernelState } from "../../src/state/keys.ts";
import { diffStates } from "../../src/plan/diff.ts";
import { contractDesiredState } from "../contract.ts";
import { DryRunBackend } from "./dry_run_backend.ts";

const desired = contractDesiredState({ ipvs: true, addresses: true, families: ["ipv4"] });
const NO_EXCLUDES = { excludeCIDRs: [] };
const dnsTcp = { protocol: "tcp", address: "10.96.0.10", port: 53 } as const;

async function synced(): Promise<DryRunBackend> {
  const backend = new DryRunBackend();
  const result = await backend.apply(diffStates(await backend.read(), desired, NO_EXCLUDES));
  assert.deepEqual(result.failures, []);
  return backend;
}

function withoutEndpoint(state: KernelState, address: string): KernelState {
  return {
    ...state,
    virtualServers: state.virtualServers.map((vs) =>
      vs.protocol === "tcp" && vs.port === 53
        ? { ...vs, realServers: vs.realServers.filter((rs) => rs.address !== address) }
        : vs
    ),
  };
}

Deno.test({
  name: "a busy TCP endpoint is drained, kept while busy, and deleted once idle",
  permissions: "none",
  async fn() {
    const backend = await synced();
    backend.setConnections(dnsTcp, "10.244.1.3:53", 2, 1);
    const fewer = withoutEndpoint(desired, "10.244.1.3");
    const drain = diffStates(await backend.read(), fewer, NO_EXCLUDES);
    assert.deepEqual(drain.map((op) => op.op), ["ipvs.editRealServer"]);
    await backend.apply(drain);
    assert.deepEqual(diffStates(await backend.read(), fewer, NO_EXCLUDES), []);
    backend.setConnections(dnsTcp, "10.244.1.3:53", 0, 0);
    const finish = diffStates(await backend.read(), fewer, NO_EXCLUDES);
    assert.deepEqual(finish.map((op) => op.op), ["ipvs.deleteRealServer"]);
    await backend.apply(finish);
    assert.deepEqual(diffStates(await backend.read(), fewer, NO_EXCLUDES), []);
  },
});

Deno.test({
  name: "recorded() lists what took effect; writes count the tool runs",
  permissions: "none",
  async fn() {
    const backend = new DryRunBackend({ nodeAddresses: ["192.168.1.5"] });
    const plan: Operation[] = [
      { op: "link.add", device: "kube-ipvs0" },
      { op: "link.add", device: "kube-ipvs0" },
      { op: "ipset.create", set: { name: "KUBE-X", type: "hash:ip", family: "inet" } },
      { op: "address.add", device: "kube-ipvs0", address: "10.0.0.1/32" },
    ];
    const result = await backend.apply(plan);
    assert.equal(result.applied, 3);
    assert.equal(result.writes, 3);
    assert.deepEqual(result.failures, [{
      operation: plan[1],
      tool: "ip -batch",
      line: "link add kube-ipvs0 type dummy",
      message: "RTNETLINK answers: File exists",
    }]);
    assert.deepEqual(backend.recorded(), [plan[0], plan[2], plan[3]]);
    assert.deepEqual(await backend.nodeAddresses(), ["192.168.1.5"]);
  },
});

Deno.test({
  name: "the simulated kernel refuses what IPVS refuses",
  permissions: "none",
  async fn() {
    const backend = await synced();
    const spec = { ...dnsTcp, scheduler: "rr", persistenceTimeout: 0, flags: [], service: "" };
    const refused: [Operation, string][] = [
      [{ op: "ipvs.addVirtualServer", virtualServer: spec }, "Service already exists"],
      [{ op: "ipvs.editVirtualServer", virtualServer: { ...spec, port: 54 } }, "No such service"],
      [
        { op: "ipvs.addVirtualServer", virtualServer: { ...spec, port: 54, scheduler: "xx" } },
        "Scheduler not found: ip_vs_xx.ko",
      ],
      [{
        op: "ipvs.addRealServer",
        virtualServer: dnsTcp,
        realServer: { address: "fd00::9", port: 53, forward: "masq", weight: 1 },
      }, "Address family of destination does not match the service"],
      [{
        op: "ipvs.deleteRealServer",
        virtualServer: dnsTcp,
        realServer: { address: "1.1.1.1", port: 53 },
      }, "No such destination"],
    ];
    for (const [op, message] of refused) {
      const { failures } = await backend.apply([op]);
      assert.equal(failures[0]?.message, message, op.op);
      assert.equal(failures[0].tool, "ipvsadm --restore");
    }
    assert.deepEqual(diffStates(await backend.read(), desired, NO_EXCLUDES), []);
  },
});

Deno.test({
  name: "an iptables restore that fails changes nothing in its table",
  permissions: "none",
  async fn() {
    const backend = await synced();
    const before = await backend.read();
    const { failures } = await backend.apply([{
      op: "iptables.restore",
      family: "ipv4",
      table: "nat",
      chains: [{ name: "KUBE-SERVICES", rules: [] }],
      addJumps: [],
      deleteJumps: [{ chain: "OUTPUT", rule: "-j KUBE-NOWHERE" }],
      deleteChains: [],
    }]);
    assert.equal(failures.length, 1);
    assert.equal(failures[0].line, "-D OUTPUT -j KUBE-NOWHERE");
    assert.match(failures[0].message, /^line 3 failed/);
    assert.deepEqual(await backend.read(), before);
  },
});

Deno.test({
  name: "rules cannot use a missing set, and a set in use cannot be destroyed",
  permissions: "none",
  async fn() {
    const backend = new DryRunBackend();
    const restore: Operation = {
      op: "iptables.restore",
      family: "ipv4",
      table: "filter",
      chains: [{ name: "KUBE-FORWARD", rules: ["-m set --match-set KUBE-X dst -j ACCEPT"] }],
      addJumps: [],
      deleteJumps: [],
      deleteChains: [],
    };
    assert.match((await backend.apply([restore])).failures[0].message, /Set KUBE-X doesn't exist/);
    const create: Operation = {
      op: "ipset.create",
      set: { name: "KUBE-X", type: "hash:ip", family: "inet" },
    };
    assert.deepEqual((await backend.apply([create, restore])).failures, []);
    const destroy = await backend.apply([{ op: "ipset.destroy", set: "KUBE-X" }]);
    assert.equal(
      destroy.failures[0].message,
      "Set cannot be destroyed: it is in use by a kernel component",
    );
  },
});

Deno.test({
  name: "set entries must fit the set's type and family; -exist makes add and del idempotent",
  permissions: "none",
  async fn() {
    const backend = await synced();
    const bad = await backend.apply([
      { op: "ipset.add", set: "KUBE-CLUSTER-IP", entry: "fd00::1,tcp:80" },
      { op: "ipset.add", set: "KUBE-NODE-PORT-TCP", entry: "70000" },
      { op: "ipset.add", set: "KUBE-MISSING", entry: "1.1.1.1" },
    ]);
    assert.equal(bad.failures.length, 3);
    const fine = await backend.apply([
      { op: "ipset.add", set: "KUBE-CLUSTER-IP", entry: "10.96.0.1,tcp:443" },
      { op: "ipset.del", set: "KUBE-CLUSTER-IP", entry: "10.9.9.9,tcp:1" },
    ]);
    assert.deepEqual(fine.failures, []);
  },
});

Deno.test({
  name:
    "replacing a set with another type fails at the swap, like the kernel, leaving the temporary",
  permissions: "none",
  async fn() {
    const backend = await synced();
    const { failures } = await backend.apply([{
      op: "ipset.replace",
      set: { name: "KUBE-CLUSTER-IP", type: "hash:ip", family: "inet" },
      entries: ["10.96.0.1"],
    }]);
    assert.equal(failures[0].line, "swap KUBE-CLUSTER-IP-TMP KUBE-CLUSTER-IP");
    const names = (await backend.read()).ipsets.map((s) => s.name);
    assert.ok(names.includes("KUBE-CLUSTER-IP-TMP"));
    // The next diff removes the leftover.
    const plan = diffStates(await backend.read(), desired, NO_EXCLUDES);
    assert.deepEqual(plan, [{ op: "ipset.destroy", set: "KUBE-CLUSTER-IP-TMP" }]);
  },
});

Deno.test({
  name: "replacing a set with the same header swaps its entries in",
  permissions: "none",
  async fn() {
    const backend = await synced();
    const { failures } = await backend.apply([{
      op: "ipset.replace",
      set: { name: "KUBE-CLUSTER-IP", type: "hash:ip,port", family: "inet" },
      entries: ["10.96.0.1,tcp:443"],
    }]);
    assert.deepEqual(failures, []);
    const set = (await backend.read()).ipsets.find((s) => s.name === "KUBE-CLUSTER-IP");
    assert.deepEqual(set?.entries, ["10.96.0.1,tcp:443"]);
    assert.ok(!(await backend.read()).ipsets.some((s) => s.name.endsWith("-TMP")));
  },
});

Deno.test({
  name: "addresses need their device; deleting the link drops its addresses",
  permissions: "none",
  async fn() {
    const backend = new DryRunBackend();
    const add: Operation = { op: "address.add", device: "kube-ipvs0", address: "10.0.0.1/32" };
    assert.equal(
      (await backend.apply([add])).failures[0].message,
      'Cannot find device "kube-ipvs0"',
    );
    await backend.apply([{ op: "link.add", device: "kube-ipvs0" }, add]);
    assert.equal(
      (await backend.apply([add])).failures[0].message,
      "RTNETLINK answers: File exists",
    );
    await backend.apply([{ op: "link.delete", device: "kube-ipvs0" }]);
    assert.deepEqual(await backend.read(), emptyKernelState());
  },
});

Deno.test({
  name: "a value that cannot be rendered is a failure of that operation",
  permissions: "none",
  async fn() {
    const backend = new DryRunBackend();
    const result = await backend.apply([{ op: "ipset.destroy", set: "KUBE-X\ncreate Y hash:ip" }]);
    assert.equal(result.applied, 0);
    assert.match(result.failures[0].message, /^Cannot render ipset name/);
  },
});

Deno.test({
  name: "the simulated kernel starts from a given state and reads it back sorted",
  permissions: "none",
  async fn() {
    const start: KernelState = {
      ...desired,
      virtualServers: [...desired.virtualServers].reverse(),
      ipsets: [...desired.ipsets].reverse(),
    };
    const backend = new DryRunBackend({ initial: start });
    assert.deepEqual(diffStates(await backend.read(), desired, NO_EXCLUDES), []);
    const read = await backend.read();
    assert.deepEqual(read.ipsets.map((s) => s.name), [
      "KUBE-CLUSTER-IP",
      "KUBE-LOOP-BACK",
      "KUBE-NODE-PORT-TCP",
    ]);
    assert.equal(read.virtualServers[0].service, "");
    assert.equal(read.virtualServers[0].realServers[0].activeConnections, 0);
  },
});

Deno.test({
  name: "a KUBE-CLUSTER-IP of type hash:ip that our rule uses converges in one sync",
  permissions: "none",
  async fn() {
    const start = await synced();
    const state = await start.read();
    const legacy: KernelState = {
      ...state,
      ipsets: state.ipsets.map((s) =>
        s.name === "KUBE-CLUSTER-IP" ? { ...s, type: "hash:ip", entries: ["10.96.0.1"] } : s
      ),
    };
    const backend = new DryRunBackend({ initial: legacy });
    const plan = diffStates(await backend.read(), desired, NO_EXCLUDES);
    // iptables-restore (nat) without the rule, ipset restore (destroy, create, fill), the rule back.
    assert.deepEqual(await backend.apply(plan), { applied: plan.length, failures: [], writes: 3 });
    assert.deepEqual(diffStates(await backend.read(), desired, NO_EXCLUDES), []);
  },
});
