// The goldens' IPVS part checked for meaning: each scenario's ipvsadm input, rendered from its
// plan.json as a real sync renders it, is loaded by the real `ipvsadm --restore`, and
// `ipvsadm -Sn` reads back exactly the scenario's virtual servers. (Their ipset and iptables input
// is checked on the host: tests/exec/in_namespace/golden_restore_test.ts.)
import assert from "node:assert/strict";
import { parseIpvsadmSave } from "../../src/render/ipvsadm.ts";
import { sortVirtualServers } from "../../src/state/keys.ts";
import type { VirtualServer } from "../../src/state/types.ts";
import { goldenJson, goldenScenarios } from "../golden_plans.ts";
import { toolInvocations } from "../../src/render/tool_inputs.ts";
import { kernelTest, sh } from "./harness.ts";

/** What `ipvsadm -Sn` can show of a virtual server: no service name, no connection counts. */
function comparable(virtualServers: readonly VirtualServer[]) {
  return sortVirtualServers(virtualServers).map((vs) => ({
    ...vs,
    service: "",
    flags: [...vs.flags].sort(),
    realServers: vs.realServers.map(({ address, port, forward, weight }) => ({
      address,
      port,
      forward,
      weight,
    })),
  }));
}

for (const scenario of goldenScenarios()) {
  kernelTest(`the ${scenario} golden's ipvsadm input is restored and read back`, async () => {
    const golden = await goldenJson(scenario);
    const runs = toolInvocations(golden.plan).filter((r) => r.tool === "ipvsadm");
    assert.equal(runs.length, 1, "one ipvsadm --restore per sync");
    assert.ok(golden.virtualServers.length > 0, "the golden has virtual servers");
    await sh(["ipvsadm", "-C"]);
    try {
      await sh([...runs[0].argv], runs[0].stdin);
      const saved = await sh(["ipvsadm", "-Sn"]);
      assert.deepEqual(
        comparable(parseIpvsadmSave(saved)),
        comparable(golden.virtualServers),
        `ipvsadm -Sn:\n${saved}`,
      );
    } finally {
      await sh(["ipvsadm", "-C"]);
    }
  });
}
