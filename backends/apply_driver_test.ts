import assert from "node:assert/strict";
import type { Operation } from "../src/plan/types.ts";
import { applyPlanWith, NOT_APPLIED_EARLIER, type Step, type StepResult } from "./apply_driver.ts";

const add = (entry: string): Operation => ({ op: "ipset.add", set: "KUBE-CLUSTER-IP", entry });
const address = (a: string): Operation => ({ op: "address.add", device: "kube-ipvs0", address: a });
const deleteVs: Operation = {
  op: "ipvs.deleteVirtualServer",
  virtualServer: { protocol: "tcp", address: "10.96.0.1", port: 443 },
};
const natRestore: Operation = {
  op: "iptables.restore",
  family: "ipv4",
  table: "nat",
  chains: [],
  addJumps: [],
  deleteJumps: [],
  deleteChains: ["KUBE-MARK-MASQ"],
};

/** An executor that refuses the first operation of the steps of `refusing` tools. */
function refusing(tools: readonly string[]) {
  const started: Step[] = [];
  const execute = (step: Step): Promise<StepResult> => {
    started.push(step);
    const failures = tools.includes(step.tool)
      ? [{ operation: step.operations[0], tool: step.tool, line: step.lines[0], message: "no" }]
      : [];
    return Promise.resolve({ failures, writes: 2 });
  };
  return { started, execute };
}

Deno.test({
  name: "a refused ipset step stops every later step, reported with one shared message",
  permissions: "none",
  async fn() {
    const { started, execute } = refusing(["ipset"]);
    const plan = [add("10.0.0.1,tcp:80"), natRestore, deleteVs, address("10.0.0.1/32")];
    const result = await applyPlanWith(plan, execute);
    assert.deepEqual(started.map((s) => s.tool), ["ipset"]);
    assert.deepEqual(result.failures.map((f) => [f.operation, f.message]), [
      [plan[0], "no"],
      [plan[1], NOT_APPLIED_EARLIER],
      [plan[2], NOT_APPLIED_EARLIER],
      [plan[3], NOT_APPLIED_EARLIER],
    ]);
    assert.equal(result.failures[1].tool, "iptables-restore (nat)");
    assert.deepEqual({ applied: result.applied, writes: result.writes }, { applied: 0, writes: 2 });
  },
});

Deno.test({
  name: "a refused iptables step stops the later steps, a refused ipvsadm or ip step does not",
  permissions: "none",
  async fn() {
    const plan = [deleteVs, address("10.0.0.1/32"), natRestore, deleteVs];
    const goesOn = await applyPlanWith(plan.slice(0, 2), refusing(["ipvsadm", "ip"]).execute);
    assert.equal(goesOn.failures.length, 2);
    assert.equal(goesOn.writes, 4, "both steps started");
    const { started, execute } = refusing(["iptables"]);
    const stops = await applyPlanWith(plan.slice(2), execute);
    assert.deepEqual(started.map((s) => s.tool), ["iptables"]);
    assert.equal(stops.failures[1].message, NOT_APPLIED_EARLIER);
  },
});

Deno.test({
  name: "an unrenderable operation is reported and left out; the rest of its step still runs",
  permissions: "none",
  async fn() {
    const { started, execute } = refusing([]);
    const bad = add("10.0.0.2,tcp:80\nflush KUBE-CLUSTER-IP");
    const result = await applyPlanWith([add("10.0.0.1,tcp:80"), bad], execute);
    assert.deepEqual(started.map((s) => s.lines), [["add KUBE-CLUSTER-IP 10.0.0.1,tcp:80 -exist"]]);
    assert.equal(result.applied, 1);
    assert.equal(result.failures[0].operation, bad);
    assert.match(result.failures[0].message, /^Cannot render/);
  },
});

Deno.test({
  name: "an empty plan starts no step and writes nothing",
  permissions: "none",
  async fn() {
    const { started, execute } = refusing([]);
    assert.deepEqual(await applyPlanWith([], execute), { applied: 0, failures: [], writes: 0 });
    assert.equal(started.length, 0);
  },
});
