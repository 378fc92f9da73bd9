/**
 * This node's addresses as the proxier uses them: which ones carry NodePorts
 * (`nodePortAddresses`), which one is primary per family, and families to run.
 *
 * @module
 */

import ipaddr from "ipaddr.js";
import type { IptablesFamily } from "../state/types.ts";

/** The family of a canonical address or CIDR. */
export function familyOf(address: string): IptablesFamily {
  return address.includes(":") ? "ipv6" : "ipv4";
}

/** The Kubernetes API's name of a family (EndpointSlice `addressType`, `ipFamilies`). */
export const API_FAMILY: Readonly<Record<IptablesFamily, "IPv4" | "IPv6">> = {
  ipv4: "IPv4",
  ipv6: "IPv6",
};

/**
 * Addresses that carry no NodePort, as kube-proxy's `isValidForSet` has it: loopback, and IPv6
 * link-local (it needs a zone). IPv4 link-local addresses (NodeLocal DNSCache's 169.254.20.10,
 * say) are ordinary node addresses to kube-proxy, so they get NodePorts here too.
 */
function cannotCarryNodePorts(address: string): boolean {
  const range = ipaddr.parse(address).range();
  return range === "loopback" || (range === "linkLocal" && familyOf(address) === "ipv6");
}

/** Whether `address` lies inside the canonical `cidr`. */
export function cidrContains(cidr: string, address: string): boolean {
  if (familyOf(cidr) !== familyOf(address)) return false;
  const [network, bits] = ipaddr.parseCIDR(cidr);
  return ipaddr.parse(address).match(network, bits);
}

/** This node's addresses for one family, as the proxier needs them. */
export interface FamilyNodeAddresses {
  /** Every address of the node in this family (for "is this a node address" checks). */
  readonly all: ReadonlySet<string>;
  /** The primary address (the first one given), if any. */
  readonly primary: string | undefined;
  /** The addresses that get a virtual server per NodePort. */
  readonly nodePortIPs: readonly string[];
}

/**
 * Selects this family's addresses. `nodePortAddresses` empty means every address but
 * loopback and IPv6 link-local ones; otherwise an address qualifies if a listed CIDR contains it
 * or the list says `primary` and it is the primary address.
 */
export function selectNodeAddresses(
  nodeIPs: readonly string[],
  nodePortAddresses: readonly string[],
  family: IptablesFamily,
): FamilyNodeAddresses {
  const ofFamily = nodeIPs.filter((ip) => familyOf(ip) === family);
  const primary = ofFamily[0];
  const candidates = ofFamily.filter((ip) => !cannotCarryNodePorts(ip));
  const nodePortIPs = nodePortAddresses.length === 0
    ? candidates
    : candidates.filter((ip) =>
      nodePortAddresses.some((selector) =>
        selector === "primary" ? ip === primary : cidrContains(selector, ip)
      )
    );
  return { all: new Set(ofFamily), primary, nodePortIPs: [...new Set(nodePortIPs)] };
}

/**
 * The IP families to run: every family the kernel can program, as kube-proxy runs dual-stack
 * whenever both iptables families are there (`platformCheckSupported` in
 * cmd/kube-proxy/app/server_linux.go), and those of the node's addresses and of the cluster
 * CIDRs (what a dry run, with no kernel, goes by); IPv4 alone when nothing says otherwise.
 */
export function detectFamilies(
  nodeIPs: readonly string[],
  clusterCIDRs: readonly string[],
  kernelFamilies: readonly IptablesFamily[] = [],
): IptablesFamily[] {
  const seen = new Set([...[...nodeIPs, ...clusterCIDRs].map(familyOf), ...kernelFamilies]);
  const families = (["ipv4", "ipv6"] as const).filter((f) => seen.has(f));
  return families.length > 0 ? families : ["ipv4"];
}
