/**
 * What in the kernel is ours: exactly the sets this proxier creates (both families, and the
 * temporaries a wholesale replace fills), not every name that starts with `KUBE-` — other
 * tools (kube-router's network policies, an iptables-mode kube-proxy) use that prefix too —
 * and the chains and jump rules of both modes, IPVS and iptables, so that a sync in one mode
 * and `--cleanup` remove what the other mode left behind.
 *
 * @module
 */

import { temporarySetName } from "../render/ipset.ts";
import type { JumpRule, TableName } from "../state/types.ts";
import { IPSET_DEFINITIONS, ipsetName, type SetName } from "./ipsets.ts";
import { FILTER_CHAINS, FILTER_JUMPS, NAT_CHAINS, NAT_JUMPS } from "./iptables_rules.ts";
import {
  IPTABLES_MODE_FILTER_CHAINS,
  IPTABLES_MODE_FILTER_JUMPS,
  IPTABLES_MODE_NAT_CHAINS,
  IPTABLES_MODE_NAT_JUMPS,
} from "../iptables_proxier/jumps.ts";
import { isServiceChainName } from "../iptables_proxier/chain_names.ts";

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

const FIXED_CHAINS: Record<TableName, ReadonlySet<string>> = {
  nat: new Set([...NAT_CHAINS, ...IPTABLES_MODE_NAT_CHAINS]),
  filter: new Set([...FILTER_CHAINS, ...IPTABLES_MODE_FILTER_CHAINS]),
};

/**
 * Whether a chain of this table is ours: a fixed chain of either mode, or (nat) one of iptables
 * mode's per-service chains (`KUBE-SVC-`, `KUBE-SVL-`, `KUBE-SEP-`, `KUBE-FW-`, `KUBE-EXT-`).
 * kubelet's `KUBE-FIREWALL` and the canary chains are not.
 *
 * @example
 * ```ts
 * isOurChain("nat", "KUBE-SVC-XPGD46QRK7WJZT7O"); // true
 * isOurChain("filter", "KUBE-FIREWALL"); // false
 * ```
 */
export function isOurChain(table: TableName, name: string): boolean {
  return FIXED_CHAINS[table].has(name) || (table === "nat" && isServiceChainName(name));
}

function jumpKey(jump: JumpRule): string {
  return `${jump.chain} ${jump.rule}`;
}

const KNOWN_JUMPS: Record<TableName, ReadonlySet<string>> = {
  nat: new Set([...NAT_JUMPS, ...IPTABLES_MODE_NAT_JUMPS].map(jumpKey)),
  filter: new Set([...FILTER_JUMPS, ...IPTABLES_MODE_FILTER_JUMPS].map(jumpKey)),
};

/** Whether a rule in a built-in chain is one of the jumps either mode writes. */
export function isOurJump(table: TableName, jump: JumpRule): boolean {
  return KNOWN_JUMPS[table].has(jumpKey(jump));
}
