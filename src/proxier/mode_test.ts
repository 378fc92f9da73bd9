import assert from "node:assert/strict";
import { chooseProxier, computeDesiredStateFor } from "./mode.ts";
import { snapshot, testConfig } from "./testing.ts";

Deno.test({
  name: "mode ipvs without IPVS falls back to iptables with the seed's two lines, word for word",
  permissions: "none",
  fn() {
    assert.deepEqual(chooseProxier("ipvs", false), {
      proxier: "iptables",
      logLines: ["Can't use ipvs proxier, trying iptables proxier", "Using iptables Proxier."],
    });
  },
});

Deno.test({
  name: "mode ipvs with IPVS uses it; iptables and the empty mode use iptables at once",
  permissions: "none",
  fn() {
    assert.deepEqual(chooseProxier("ipvs", true), {
      proxier: "ipvs",
      logLines: ["Using ipvs Proxier."],
    });
    for (const mode of ["iptables", ""]) {
      assert.deepEqual(chooseProxier(mode, true), {
        proxier: "iptables",
        logLines: ["Using iptables Proxier."],
      });
    }
    assert.throws(() => chooseProxier("nftables", true), /mode "nftables"/);
  },
});

Deno.test({
  name: "computeDesiredStateFor() dispatches: IPVS has kube-ipvs0, iptables mode has none",
  permissions: "none",
  fn() {
    const input = { config: testConfig(), snapshot: snapshot([]), nodeName: "n", nodeIPs: [] };
    assert.equal(computeDesiredStateFor("ipvs", input).state.linkPresent, true);
    assert.equal(computeDesiredStateFor("iptables", input).state.linkPresent, false);
  },
});
