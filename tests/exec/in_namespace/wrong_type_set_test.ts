/**
 * A set of ours with another type, used by one of our rules (left by an older version or
 * another tool), on the real kernel of this private network namespace: the kernel refuses to
 * swap it and to destroy it, and one sync still converges; a second sync is empty.
 */
import assert from "node:assert/strict";
import { runCommand } from "../../../backends/exec/command.ts";
import { diffStates } from "../../../src/plan/diff.ts";
import { parseIpsetSave } from "../../../src/render/ipset.ts";
import { cleanUp, namespaceBackend, prepareNamespace, tool } from "./namespace_helpers.ts";
import { createNodeDevice, deleteNodeDevice, desiredState } from "./cluster_fixture.ts";

const NO_EXCLUDES = { excludeCIDRs: [] };
const LEGACY_SETS = "create KUBE-CLUSTER-IP hash:ip family inet hashsize 1024 maxelem 65536\n" +
  "add KUBE-CLUSTER-IP 10.96.0.1\n";
const LEGACY_RULES = "*nat\n:KUBE-SERVICES - [0:0]\n" +
  "-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst -j RETURN\n" +
  "-A PREROUTING -j KUBE-SERVICES\nCOMMIT\n";

Deno.test("a KUBE-CLUSTER-IP of type hash:ip that our rule uses converges in one real sync, and the next is empty", async () => {
  await prepareNamespace();
  await cleanUp();
  await createNodeDevice();
  try {
    await tool(["ipset", "restore"], LEGACY_SETS);
    await tool(["iptables-restore", "--noflush", "-w"], LEGACY_RULES);
    // What the kernel refuses, and why the old replace could never finish.
    const destroy = await runCommand(["ipset", "destroy", "KUBE-CLUSTER-IP"]);
    assert.match(destroy.stderr, /in use by a kernel component/);
    const backend = namespaceBackend();
    const swap = await backend.apply([{
      op: "ipset.replace",
      set: { name: "KUBE-CLUSTER-IP", type: "hash:ip,port", family: "inet" },
      entries: ["10.96.0.1,tcp:443"],
    }]);
    assert.match(swap.failures[0]?.message ?? "", /type does not match/);

    const desired = desiredState(await backend.nodeAddresses());
    const plan = diffStates(await backend.read(), desired, NO_EXCLUDES);
    const result = await backend.apply(plan);
    assert.deepEqual(result.failures, []);
    assert.equal(result.applied, plan.length);
    const again = diffStates(await backend.read(), desired, NO_EXCLUDES);
    assert.deepEqual(again, []);
    assert.deepEqual(await backend.apply(again), { applied: 0, failures: [], writes: 0 });
    const set = parseIpsetSave(await tool(["ipset", "save", "KUBE-CLUSTER-IP"]))[0];
    assert.equal(set.type, "hash:ip,port");
    const want = desired.ipsets.find((s) => s.name === "KUBE-CLUSTER-IP")!;
    assert.deepEqual([...set.entries].sort(), [...want.entries].sort());
    const nat = await tool(["iptables-save", "-t", "nat"]);
    assert.ok(!nat.includes("--match-set KUBE-CLUSTER-IP dst -j RETURN"), nat);
  } finally {
    await cleanUp();
    await deleteNodeDevice();
  }
});
