import assert from "node:assert/strict";
import { isOurSetName } from "./ownership.ts";

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
