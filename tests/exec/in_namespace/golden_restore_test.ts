/**
 * The goldens checked for meaning: each scenario's restore text, taken from its plan.json and
 * rendered as a real sync renders it (the same text as its plan.txt), is loaded by the real
 * `ipset restore`, then accepted by `iptables-restore --test` / `ip6tables-restore --test`
 * (whose `-m set` matches need the sets: without them, the tables are refused). IPVS has its
 * own check in the VM (tests/kernel/golden_ipvsadm_test.ts).
 */
import assert from "node:assert/strict";
import { runCommand } from "../../../backends/exec/command.ts";
import type { ToolInvocation } from "../../../src/render/tool_inputs.ts";
import { goldenScenarios, goldenText, goldenToolRuns, toolSections } from "../../golden_plans.ts";
import { prepareNamespace, tool } from "./namespace_helpers.ts";

/** The stdin of each section of a review text, in order. */
function sectionInputs(text: string): string[] {
  return toolSections(text).map((section) => section.split("\n").slice(1).join("\n") + "\n");
}

function createdSets(run: ToolInvocation): string[] {
  return run.operations.flatMap((op) => op.op === "ipset.create" ? [op.set.name] : []);
}

async function setNames(): Promise<string[]> {
  return (await tool(["ipset", "list", "-n"])).split("\n").filter((name) => name !== "");
}

/** `iptables-restore --test` (or ip6tables) of one run: parsed and checked, never committed. */
function testRestore(run: ToolInvocation) {
  return runCommand([...run.argv, "--test"], { stdin: run.stdin });
}

for (const scenario of goldenScenarios()) {
  Deno.test(`the ${scenario} golden's ipset and iptables input is accepted by the real tools`, async () => {
    await prepareNamespace();
    assert.deepEqual(await setNames(), [], "the namespace starts without sets");
    const runs = await goldenToolRuns(scenario);
    assert.deepEqual(runs.map((r) => r.stdin), sectionInputs(await goldenText(scenario)));
    const ipset = runs.filter((r) => r.tool === "ipset");
    const tables = runs.filter((r) => r.tool === "iptables" || r.tool === "ip6tables");
    assert.ok(ipset.length > 0 && tables.length >= 2, "the golden has sets and tables");
    try {
      for (const run of tables.filter((r) => r.stdin.includes("--match-set"))) {
        const refused = await testRestore(run);
        assert.notEqual(refused.code, 0, `${run.argv[0]} --test accepted sets that do not exist`);
      }
      for (const run of ipset) await tool([...run.argv], run.stdin);
      assert.deepEqual(
        (await setNames()).sort(),
        ipset.flatMap(createdSets).sort(),
        "ipset holds exactly the golden's sets",
      );
      for (const run of tables) {
        const result = await testRestore(run);
        assert.equal(result.code, 0, `${run.argv[0]} --test (${run.table}):\n${result.stderr}`);
      }
    } finally {
      for (const name of await setNames()) await tool(["ipset", "destroy", name]);
    }
  });
}
