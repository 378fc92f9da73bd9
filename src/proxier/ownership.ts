/**
 * What in the kernel is ours: exactly the sets this proxier creates (both families, and the
 * temporaries a wholesale replace fills), not every name that starts with `KUBE-` — other
 * tools (kube-router's network policies, an iptables-mode kube-proxy) use that prefix too.
 *
 * @module
 */

import { temporarySetName } from "../render/ipset.ts";
import { IPSET_DEFINITIONS, ipsetName, type SetName } from "./ipsets.ts";

const OUR_SET_NAMES: ReadonlySet<string> = new Set(
  IPSET_DEFINITIONS.flatMap((definition) => {
    const names = [
      ipsetName(definition.name as SetName, "ipv4"),
      ipsetName(definition.name as SetName, "ipv6"),
    ];
    return [...names, ...names.map(temporarySetName)];
  }),
);

/** Whether a set of this name is one this proxier creates (so a sync or cleanup may touch it). */
export function isOurSetName(name: string): boolean {
  return OUR_SET_NAMES.has(name);
}
