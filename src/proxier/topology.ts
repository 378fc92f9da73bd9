/**
 * kube-proxy's `CategorizeEndpoints` (pkg/proxy/topology.go), shared by the IPVS and the
 * iptables proxier: which endpoints a service port sends Cluster-policy traffic to (ready ones,
 * narrowed by the EndpointSlice's topology hints for this node or its zone), which ones
 * Local-policy traffic goes to, and whether it has any usable endpoint anywhere.
 *
 * kube-proxy reads only the hints here. A Service's `trafficDistribution` (`PreferClose`,
 * `PreferSameZone`, `PreferSameNode`) is read by the EndpointSlice controller, which writes the
 * hints; kube-proxy's `topologyModeFromHints` never looks at it, and neither does this proxy.
 *
 * @module
 */

import type { ClusterSnapshot, EndpointSlice, Service, ServicePort } from "../cluster/types.ts";
import type { ProxyConfig } from "../config/types.ts";
import type { IptablesFamily } from "../state/types.ts";
import { type Candidate, candidatesOf, type ServiceEndpoint } from "./endpoints.ts";
import { familyOf } from "./node_addresses.ts";

/** The feature gate that lets node hints (`hints.forNodes`) count; on by default since 1.33. */
export const PREFER_SAME_NODE_GATE = "PreferSameTrafficDistribution";

/** What of this node topology aware routing reads. */
export interface NodeTopology {
  /** This node's name (node hints are matched against it). */
  readonly nodeName: string;
  /** This node's `topology.kubernetes.io/zone` label, "" when it has none. */
  readonly zone: string;
  /** Whether node hints count (the `PreferSameTrafficDistribution` gate). */
  readonly preferSameNode: boolean;
}

/**
 * This node's topology: its zone from its Node object (none without one: kube-proxy's
 * `nodeLabels` stay empty until it sees its Node) and the gate from the config.
 */
export function nodeTopology(
  config: ProxyConfig,
  snapshot: ClusterSnapshot,
  nodeName: string,
): NodeTopology {
  const node = snapshot.nodes.find((n) => n.name === nodeName);
  return {
    nodeName,
    zone: node?.zone ?? "",
    preferSameNode: config.featureGates[PREFER_SAME_NODE_GATE] ?? true,
  };
}

/** No node, no zone: what topology sees before the Node object is known. */
export function noTopology(nodeName: string): NodeTopology {
  return { nodeName, zone: "", preferSameNode: true };
}

/** How a service port in one family uses its endpoints (kube-proxy's `BaseServicePortInfo`). */
export interface PortPolicy {
  /** internalTrafficPolicy Local (`InternalPolicyLocal`). */
  readonly internalLocal: boolean;
  /** externalTrafficPolicy Local on an externally accessible Service (`ExternalPolicyLocal`). */
  readonly externalLocal: boolean;
  /** A node port, a load balancer VIP or an external IP of the family (`ExternallyAccessible`). */
  readonly accessible: boolean;
  /** `UsesClusterEndpoints`: Cluster internal policy, or any external traffic at all. */
  readonly usesCluster: boolean;
  /** `UsesLocalEndpoints`: Local internal policy, or Local external policy that is reachable. */
  readonly usesLocal: boolean;
}

/**
 * The port's policy in `family`, as kube-proxy's `newBaseServiceInfo` and its methods compute
 * it: `ExternalPolicyLocal` (pkg/api/v1/service/util.go) holds for NodePort and LoadBalancer
 * Services and ClusterIP ones with external IPs; the port level `ExternallyAccessible` counts
 * only the family's addresses and load balancer VIPs that are not `ipMode: Proxy`.
 */
export function portPolicy(
  service: Service,
  port: ServicePort,
  family: IptablesFamily,
): PortPolicy {
  const inFamily = (ip: string) => familyOf(ip) === family;
  const accessible = port.nodePort !== 0 || service.externalIPs.some(inFamily) ||
    service.loadBalancerIngress.some((i) => i.ipMode !== "Proxy" && inFamily(i.ip));
  const serviceAccessible = service.type === "NodePort" || service.type === "LoadBalancer" ||
    (service.type === "ClusterIP" && service.externalIPs.length > 0);
  const internalLocal = service.internalTrafficPolicy === "Local";
  const externalLocal = serviceAccessible && service.externalTrafficPolicy === "Local";
  return {
    internalLocal,
    externalLocal,
    accessible,
    usesCluster: !internalLocal || accessible,
    usesLocal: internalLocal || (externalLocal && accessible),
  };
}

/** What `CategorizeEndpoints` returns (but the union list, which the callers build). */
export interface TopologyEndpoints {
  /** The usable Cluster-policy endpoints, topology applied; empty when the port uses none. */
  readonly cluster: readonly ServiceEndpoint[];
  /** The usable endpoints on this node; empty when the port uses no Local policy. */
  readonly local: readonly ServiceEndpoint[];
  /** Whether any endpoint anywhere in the cluster is usable (`hasAnyEndpoints`). */
  readonly hasAny: boolean;
}

const NOTHING: TopologyEndpoints = Object.freeze({ cluster: [], local: [], hasAny: false });

/** kube-proxy's `topologyModeFromHints`: "", "PreferSameZone" or "PreferSameNode". */
export function topologyModeFromHints(
  endpoints: readonly Candidate[],
  topology: NodeTopology,
): "" | "PreferSameZone" | "PreferSameNode" {
  let hasReady = false;
  let forNode = false;
  let allNodeHints = true;
  let forZone = false;
  let allZoneHints = true;
  for (const ep of endpoints) {
    if (!ep.ready) continue;
    hasReady = true;
    if (ep.nodeHints === undefined) allNodeHints = false;
    else if (ep.nodeHints.includes(topology.nodeName)) forNode = true;
    if (ep.zoneHints === undefined) allZoneHints = false;
    else if (ep.zoneHints.includes(topology.zone)) forZone = true;
  }
  if (!hasReady) return "";
  if (topology.preferSameNode && allNodeHints && forNode) return "PreferSameNode";
  // A node without a zone label matches no zone hint: "" is never a zone's name.
  if (allZoneHints && forZone && topology.zone !== "") return "PreferSameZone";
  return "";
}

/** kube-proxy's `availableForTopology`: no fallback here, the mode already chose. */
function availableForTopology(
  ep: Candidate,
  mode: ReturnType<typeof topologyModeFromHints>,
  topology: NodeTopology,
): boolean {
  if (mode === "PreferSameNode") return ep.nodeHints?.includes(topology.nodeName) ?? false;
  if (mode === "PreferSameZone") return ep.zoneHints?.includes(topology.zone) ?? false;
  return true;
}

/** The Cluster-policy endpoints: ready and in the topology, else serving-and-terminating. */
function clusterEndpoints(endpoints: readonly Candidate[], topology: NodeTopology): Candidate[] {
  const mode = topologyModeFromHints(endpoints, topology);
  if (mode === "") {
    const ready = endpoints.filter((ep) => ep.ready);
    return ready.length > 0 ? ready : endpoints.filter((ep) => ep.servingTerminating);
  }
  const ready = endpoints.filter((ep) => ep.ready && availableForTopology(ep, mode, topology));
  // No ready endpoint in the topology means none is ready anywhere (the mode falls back to ""
  // otherwise), so the terminating fallback ignores topology, as kube-proxy's does.
  return ready.length > 0 ? ready : endpoints.filter((ep) => ep.servingTerminating);
}

/** The Local-policy endpoints: local ready ones, else local serving-and-terminating ones. */
function localEndpoints(local: readonly Candidate[]): Candidate[] {
  const ready = local.filter((ep) => ep.ready);
  return ready.length > 0 ? ready : local.filter((ep) => ep.servingTerminating);
}

/**
 * `CategorizeEndpoints` of one service port's endpoints map (`candidatesOf`).
 *
 * @example
 * ```ts
 * import { noTopology } from "./topology.ts";
 * const policy = {
 *   internalLocal: false,
 *   externalLocal: false,
 *   accessible: false,
 *   usesCluster: true,
 *   usesLocal: false,
 * };
 * categorizeWithTopology([], policy, noTopology("node-a")); // { cluster: [], local: [], hasAny: false }
 * ```
 */
export function categorizeWithTopology(
  endpoints: readonly Candidate[],
  policy: PortPolicy,
  topology: NodeTopology,
  everyLocal: readonly Candidate[] = endpoints.filter((ep) => ep.local),
): TopologyEndpoints {
  if (endpoints.length === 0) return NOTHING;
  const cluster = policy.usesCluster ? clusterEndpoints(endpoints, topology) : [];
  if (!policy.usesLocal) return { cluster, local: [], hasAny: cluster.length > 0 };
  // Any ready or serving-terminating endpoint anywhere counts, whatever the topology.
  const hasAny = cluster.length > 0 || endpoints.some((ep) => ep.ready || ep.servingTerminating);
  return { cluster, local: localEndpoints(everyLocal), hasAny };
}

/** Everything a proxier needs of one service port's endpoints in one family. */
export interface PortEndpoints extends TopologyEndpoints {
  /** The port's traffic policy in the family. */
  readonly policy: PortPolicy;
  /** Every endpoint on this node whatever its conditions (the IPVS `KUBE-LOOP-BACK` set). */
  readonly everyLocal: readonly ServiceEndpoint[];
}

/** The endpoints of `port` of `service` in `family`, from its slices of that family. */
export function portEndpoints(
  slices: readonly EndpointSlice[],
  service: Service,
  port: ServicePort,
  family: IptablesFamily,
  topology: NodeTopology,
): PortEndpoints {
  const candidates = candidatesOf(slices, port, topology.nodeName);
  const policy = portPolicy(service, port, family);
  const everyLocal = candidates.filter((c) => c.local);
  const { cluster, local, hasAny } = categorizeWithTopology(
    candidates,
    policy,
    topology,
    everyLocal,
  );
  return { cluster, local, hasAny, policy, everyLocal };
}
