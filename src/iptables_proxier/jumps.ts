/**
 * The rules in built-in chains that lead into iptables mode's chains (kube-proxy's
 * `iptablesJumpChains`), in their final order at the top of each built-in chain: kube-proxy
 * prepends them one by one, so this is its list reversed per chain. Text in `iptables-save`
 * form (`-m conntrack` before `-m comment`, as written).
 *
 * @module
 */

import type { JumpRule } from "../state/types.ts";

function jump(chain: string, comment: string, target: string, newOnly: boolean): JumpRule {
  const state = newOnly ? "-m conntrack --ctstate NEW " : "";
  return { chain, rule: `${state}-m comment --comment "${comment}" -j ${target}` };
}

/** The nat chains every sync writes, in kube-proxy's order. */
export const IPTABLES_MODE_NAT_CHAINS: readonly string[] = [
  "KUBE-SERVICES",
  "KUBE-NODEPORTS",
  "KUBE-POSTROUTING",
  "KUBE-MARK-MASQ",
];

/** The filter chains every sync writes, in kube-proxy's order. */
export const IPTABLES_MODE_FILTER_CHAINS: readonly string[] = [
  "KUBE-SERVICES",
  "KUBE-EXTERNAL-SERVICES",
  "KUBE-FORWARD",
  "KUBE-NODEPORTS",
  "KUBE-PROXY-FIREWALL",
];

const FIREWALL = "kubernetes load balancer firewall";
const PORTALS = "kubernetes service portals";
const EXTERNAL = "kubernetes externally-visible service portals";

/** nat: PREROUTING and OUTPUT -> KUBE-SERVICES, POSTROUTING -> KUBE-POSTROUTING. */
export const IPTABLES_MODE_NAT_JUMPS: readonly JumpRule[] = [
  jump("PREROUTING", PORTALS, "KUBE-SERVICES", false),
  jump("OUTPUT", PORTALS, "KUBE-SERVICES", false),
  jump("POSTROUTING", "kubernetes postrouting rules", "KUBE-POSTROUTING", false),
];

/** filter: INPUT, FORWARD and OUTPUT into the firewall, services and forwarding chains. */
export const IPTABLES_MODE_FILTER_JUMPS: readonly JumpRule[] = [
  jump("INPUT", FIREWALL, "KUBE-PROXY-FIREWALL", true),
  jump("INPUT", "kubernetes health check service ports", "KUBE-NODEPORTS", false),
  jump("INPUT", EXTERNAL, "KUBE-EXTERNAL-SERVICES", true),
  jump("FORWARD", FIREWALL, "KUBE-PROXY-FIREWALL", true),
  jump("FORWARD", "kubernetes forwarding rules", "KUBE-FORWARD", false),
  jump("FORWARD", PORTALS, "KUBE-SERVICES", true),
  jump("FORWARD", EXTERNAL, "KUBE-EXTERNAL-SERVICES", true),
  jump("OUTPUT", FIREWALL, "KUBE-PROXY-FIREWALL", true),
  jump("OUTPUT", PORTALS, "KUBE-SERVICES", true),
];
