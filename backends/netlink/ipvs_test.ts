// The parts of NetlinkIpvs that this machine's kernel can show: it has generic netlink but no
// IPVS (REFERENCE section 8), so opening is an answer that names the fix, not an error. Everything
// else runs against the real IPVS in tests/kernel/netlink_ipvs_test.ts (the VM of tests/vm).
import assert from "node:assert/strict";
import { ipvsPreflightChecks, NetlinkIpvs } from "./ipvs.ts";

const opened = await NetlinkIpvs.open();
const hasIpvs = opened.ok;
if (opened.ok) opened.client.close();

Deno.test({
  name: "on a kernel without IPVS, opening says why and that modprobe -- ip_vs fixes it",
  ignore: hasIpvs,
  async fn() {
    const result = await NetlinkIpvs.open();
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.match(result.reason, /no "IPVS" generic netlink family/);
    assert.equal(result.fix, "modprobe -- ip_vs");
  },
});

Deno.test({
  name:
    "on a kernel without IPVS, the preflight's IPVS check fails with the fix and probes nothing",
  ignore: hasIpvs,
  async fn() {
    const checks = await ipvsPreflightChecks("rr");
    assert.deepEqual(checks.map((c) => [c.name, c.ok, c.fix]), [
      ["IPVS reachable", false, "modprobe -- ip_vs"],
    ]);
  },
});
