// The netlink backend's contract suite (backends/contract.ts) on a kernel with IPVS, with IPVS
// through NetlinkIpvs (generic netlink); netlink_contract_test.ts runs it with the ipvsadm
// fallback. Sets over nfnetlink, kube-ipvs0 (a real dummy link) and its addresses over rtnetlink,
// IPv4 and IPv6. Each case starts from and leaves a kernel with nothing of ours.
import assert from "node:assert/strict";
import { backendContract } from "../../backends/contract.ts";
import { NetlinkIpvs } from "../../backends/netlink/ipvs.ts";
import { NetlinkBackend } from "../../backends/netlink/netlink_backend.ts";
import { cleanupPlan } from "../../src/plan/diff.ts";
import { IN_VM, kernelTest } from "./harness.ts";

const NAME = "netlink (real kernel, IPVS over generic netlink)";

/** Removes everything of ours with the backend's own cleanup, and checks that it worked. */
async function cleanUp(backend: NetlinkBackend): Promise<void> {
  const plan = cleanupPlan(await backend.read());
  if (plan.length === 0) return;
  const result = await backend.apply(plan);
  assert.deepEqual(result.failures, [], "the cleanup failed");
  assert.deepEqual(cleanupPlan(await backend.read()), [], "the cleanup left something of ours");
}

if (IN_VM) {
  backendContract(NAME, async () => {
    const opened = await NetlinkIpvs.open();
    if (!opened.ok) throw new Error(`IPVS over netlink: ${opened.reason}`);
    const backend = new NetlinkBackend({ ipvsClient: opened.client, families: ["ipv4", "ipv6"] });
    await cleanUp(backend);
    return {
      backend,
      close: async () => {
        await cleanUp(backend);
        await backend.close();
      },
    };
  }, { ipvs: true, addresses: true, families: ["ipv4", "ipv6"] });
} else {
  // backendContract registers plain Deno tests: outside the VM, one kernelTest stands in for
  // them, so the suite skips visibly (or fails with REQUIRE_KERNEL_TESTS=1).
  kernelTest(`${NAME} backend: the contract suite`, () => Promise.resolve());
}
