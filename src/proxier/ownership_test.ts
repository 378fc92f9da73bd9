import assert from "node:assert/strict";
import { isOurChain, isOurJump, isOurSetName } from "./ownership.ts";

Deno.test({
  name: "our sets are the proxier's names in both families and their temporaries",
  permissions: "none",
  fn() {
    for (
      const name of [
        "KUBE-CLUSTER-IP",
        "KUBE-6-CLUSTER-IP",
        "KUBE-6-LOAD-BALANCER-SOURCE-CID",
        "KUBE-CLUSTER-IP-TMP",
      ]
    ) assert.ok(isOurSetName(name), name);
  },
});

Deno.test({
  name: "other KUBE- sets (kube-router's, old ones, anything else) are not ours",
  permissions: "none",
  fn() {
    for (const name of ["KUBE-SRC-ABCDEF", "KUBE-DST-ABCDEF", "KUBE-OLD", "cni-pods", ""]) {
      assert.ok(!isOurSetName(name), name);
    }
  },
});

Deno.test({
  name: "our chains are both modes' fixed chains and iptables mode's per-service chains",
  permissions: "none",
  fn() {
    for (const name of ["KUBE-SERVICES", "KUBE-NODE-PORT", "KUBE-NODEPORTS", "KUBE-SVC-ABC"]) {
      assert.ok(isOurChain("nat", name), name);
    }
    for (const name of ["KUBE-IPVS-FILTER", "KUBE-EXTERNAL-SERVICES", "KUBE-PROXY-FIREWALL"]) {
      assert.ok(isOurChain("filter", name), name);
    }
    for (const name of ["KUBE-FIREWALL", "KUBE-KUBELET-CANARY", "KUBE-ROUTER-INPUT", "CNI-X"]) {
      assert.ok(!isOurChain("filter", name) && !isOurChain("nat", name), name);
    }
    assert.ok(!isOurChain("filter", "KUBE-SVC-ABC"), "per-service chains live in nat only");
  },
});

Deno.test({
  name: "our jumps are the ones either mode writes, word for word",
  permissions: "none",
  fn() {
    const firewall = '-m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL';
    assert.ok(isOurJump("filter", { chain: "INPUT", rule: firewall }));
    assert.ok(isOurJump("filter", {
      chain: "FORWARD",
      rule:
        '-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    }));
    assert.ok(!isOurJump("filter", { chain: "INPUT", rule: "-j KUBE-PROXY-FIREWALL" }));
  },
});
