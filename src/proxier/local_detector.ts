/**
 * kube-proxy's local traffic detector (pkg/proxy/util/localdetector.go), chosen as
 * `getLocalDetectors` in cmd/kube-proxy/app/server_linux.go chooses it: how a rule tells
 * traffic from this node's pods from other traffic, per IP family.
 *
 * - `ClusterCIDR`: the family's first `clusterCIDR` (`-s CIDR`);
 * - `NodeCIDR`: the family's first pod CIDR of this node's Node object (`-s CIDR`);
 * - `BridgeInterface`: packets in from `detectLocal.bridgeInterface` (`-i br0`);
 * - `InterfaceNamePrefix`: packets in from any `detectLocal.interfaceNamePrefix` interface
 *   (`-i veth+`).
 *
 * Without a CIDR for the family there is no detector (kube-proxy's no-op one) and the rules
 * that need it are left out or take their other form.
 *
 * @module
 */

import type { ClusterSnapshot } from "../cluster/types.ts";
import type { ProxyConfig } from "../config/types.ts";
import type { IptablesFamily } from "../state/types.ts";
import { familyOf } from "./node_addresses.ts";

/** A way to match local traffic: a source CIDR or an input interface (pattern). */
export type LocalDetector =
  | { readonly source: string; readonly inInterface?: undefined }
  | { readonly inInterface: string; readonly source?: undefined };

/** A local-traffic match split where iptables-save prints its parts. */
export interface LocalMatch {
  /** `-s CIDR ` or `! -s CIDR `: printed first, before `-d`. */
  readonly source: string;
  /** `-i br0 ` or `! -i br0 `: printed after `-d`, before `-p`. */
  readonly inInterface: string;
}

/** The pod CIDRs of this node's Node object, none without one. */
export function nodePodCIDRs(snapshot: ClusterSnapshot, nodeName: string): readonly string[] {
  return snapshot.nodes.find((n) => n.name === nodeName)?.podCIDRs ?? [];
}

/** The detector of `family`, or undefined for kube-proxy's no-op detector. */
export function localDetectorFor(
  config: ProxyConfig,
  family: IptablesFamily,
  podCIDRs: readonly string[],
): LocalDetector | undefined {
  const firstOfFamily = (cidrs: readonly string[]) => cidrs.find((c) => familyOf(c) === family);
  switch (config.detectLocalMode) {
    case "ClusterCIDR": {
      const cidr = firstOfFamily(config.clusterCIDRs);
      return cidr === undefined ? undefined : { source: cidr };
    }
    case "NodeCIDR": {
      const cidr = firstOfFamily(podCIDRs);
      return cidr === undefined ? undefined : { source: cidr };
    }
    case "BridgeInterface":
      return { inInterface: config.detectLocal.bridgeInterface };
    case "InterfaceNamePrefix":
      // NewDetectLocalByInterfaceNamePrefix: `-i prefix+`, iptables' interface wildcard.
      return { inInterface: `${config.detectLocal.interfaceNamePrefix}+` };
    default:
      return undefined;
  }
}

/**
 * `IfLocal()` (`local`) or `IfNotLocal()` of a detector, in iptables-save form; a `/0` CIDR,
 * which iptables-save leaves out, gives no source match.
 *
 * @example
 * ```ts
 * localMatch({ source: "10.244.0.0/16" }, false); // { source: "! -s 10.244.0.0/16 ", inInterface: "" }
 * localMatch({ inInterface: "veth+" }, true); // { source: "", inInterface: "-i veth+ " }
 * ```
 */
export function localMatch(detector: LocalDetector, local: boolean): LocalMatch {
  const not = local ? "" : "! ";
  if (detector.source !== undefined) {
    const source = detector.source.endsWith("/0") ? "" : `${not}-s ${detector.source} `;
    return { source, inInterface: "" };
  }
  return { source: "", inInterface: `${not}-i ${detector.inInterface} ` };
}

/** The match as a prefix of a rule that has no `-d`/`-p` (both parts lead the rule then). */
export function localMatchPrefix(detector: LocalDetector, local: boolean): string {
  const match = localMatch(detector, local);
  return match.source + match.inInterface;
}

/**
 * The warning for `NodeCIDR` without a pod CIDR of a family this node runs: kube-proxy waits
 * for the Node's `spec.podCIDRs` at startup and ends after 5 minutes without them; here the
 * rules go without the detector, as kube-proxy's no-op detector leaves them.
 */
export function localDetectorWarnings(
  config: ProxyConfig,
  families: readonly IptablesFamily[],
  snapshot: ClusterSnapshot,
  nodeName: string,
): string[] {
  if (config.detectLocalMode !== "NodeCIDR") return [];
  const podCIDRs = nodePodCIDRs(snapshot, nodeName);
  const missing = families.filter((family) => !podCIDRs.some((c) => familyOf(c) === family));
  if (missing.length === 0) return [];
  const where = snapshot.nodes.some((n) => n.name === nodeName)
    ? `Node ${nodeName} has no ${missing.map(familyName).join(" or ")} pod CIDR (spec.podCIDRs)`
    : `there is no Node object named ${nodeName}`;
  return [
    `detectLocalMode NodeCIDR: ${where}, so ${missing.map(familyName).join(" and ")} rules ` +
    "cannot tell pod traffic from other traffic and are written as without a detector " +
    "(kube-proxy waits for the Node's podCIDRs at startup)",
  ];
}

function familyName(family: IptablesFamily): string {
  return family === "ipv4" ? "IPv4" : "IPv6";
}
