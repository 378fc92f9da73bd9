/**
 * What a sync must leave byte-identical: everything that is not ours, and everything of ours
 * in a family this node does not run.
 *
 * @module
 */

import ipaddr from "ipaddr.js";
import type { IptablesFamily, IptablesTable, KernelState } from "../../src/state/types.ts";
import { IPVS_DEVICE } from "../../src/state/types.ts";
import { isOurSetName } from "../../src/proxier/ownership.ts";
import { FILTER_CHAINS, NAT_CHAINS } from "../../src/proxier/iptables_rules.ts";
import { familyOf } from "../../src/proxier/node_addresses.ts";

const OUR_CHAINS = { nat: new Set<string>(NAT_CHAINS), filter: new Set<string>(FILTER_CHAINS) };

function inside(address: string, cidrs: readonly string[]): boolean {
  const ip = ipaddr.parse(address);
  return cidrs.some((c) => {
    const [range, bits] = ipaddr.parseCIDR(c);
    return range.kind() === ip.kind() && ip.match(range, bits);
  });
}

function foreignPart(
  t: IptablesTable,
  ours: ReadonlySet<string>,
  declared: ReadonlySet<string>,
): IptablesTable {
  return {
    chains: t.chains.filter((c) => !ours.has(c.name)),
    // Jumps we do not declare (into other tools' chains, or legacy ones) are left alone.
    jumps: t.jumps.filter((j) => !declared.has(`${j.chain} ${j.rule}`)),
  };
}

/** The part of `state` a sync towards `desired` must not change. */
export function untouchable(
  state: KernelState,
  desired: KernelState,
  excludeCIDRs: readonly string[],
): unknown {
  const managed = new Set<IptablesFamily>(desired.families);
  const setFamily = (name: string) => name.startsWith("KUBE-6-") ? "ipv6" : "ipv4";
  const iptables = (["ipv4", "ipv6"] as const).map((f) => {
    if (!managed.has(f)) return state.iptables[f];
    const declared = (t: IptablesTable) => new Set(t.jumps.map((j) => `${j.chain} ${j.rule}`));
    return {
      nat: foreignPart(state.iptables[f].nat, OUR_CHAINS.nat, declared(desired.iptables[f].nat)),
      filter: foreignPart(
        state.iptables[f].filter,
        OUR_CHAINS.filter,
        declared(desired.iptables[f].filter),
      ),
    };
  });
  return {
    ipsets: state.ipsets.filter((s) => !isOurSetName(s.name) || !managed.has(setFamily(s.name))),
    virtualServers: state.virtualServers.filter((vs) =>
      inside(vs.address, excludeCIDRs) || !managed.has(familyOf(vs.address))
    ),
    addresses: state.addresses.filter((a) =>
      a.device !== IPVS_DEVICE || !managed.has(familyOf(a.address.split("/")[0]))
    ),
    iptables,
  };
}
