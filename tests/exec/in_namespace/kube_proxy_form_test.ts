/**
 * Holds the golden tests' converter (`tests/golden_iptables/kube_proxy_form.ts`) to the real
 * tools: kube-proxy's expected rules of TestOverallIPTablesRules, restored in kube-proxy's own
 * syntax, come back from `iptables-save` exactly as the converter (and so this project's
 * iptables proxier) writes them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { cleanupPlan } from "../../../src/plan/diff.ts";
import { isOurChain } from "../../../src/proxier/ownership.ts";
import { parseIptablesSave } from "../../../src/render/iptables.ts";
import { chainsOf } from "../../golden_iptables/kube_proxy_form.ts";
import { namespaceBackend, prepareNamespace, tool } from "./namespace_helpers.ts";

Deno.test("kube-proxy's rules come back from iptables-save as the converter writes them", async () => {
  await prepareNamespace();
  const text = await Deno.readTextFile(
    new URL("../../golden_iptables/overall_expected.txt", import.meta.url),
  );
  const backend = namespaceBackend({ families: ["ipv4"] });
  try {
    await tool(["iptables-restore", "--noflush", "-w"], text);
    for (const [table, chains] of chainsOf(text)) {
      const name = table as "nat" | "filter";
      const read = parseIptablesSave(
        await tool(["iptables-save", "-t", name]),
        (chain) => isOurChain(name, chain),
        name,
      );
      const got = Object.fromEntries(read.chains.map((c) => [c.name, c.rules]));
      assert.deepEqual(got, Object.fromEntries(chains), `table ${name}`);
    }
  } finally {
    const result = await backend.apply(cleanupPlan(await backend.read()));
    assert.deepEqual(result.failures, []);
  }
});
