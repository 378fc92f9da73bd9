/**
 * Which UDP conntrack flows are stale, as kube-proxy's `CleanStaleEntries`
 * (`pkg/proxy/conntrack/cleanup.go`) decides after each sync: a UDP flow to a service address
 * (cluster IP, external IP, load balancer IP) or to a service's NodePort whose reply comes from
 * an address that is not a serving endpoint of that service. UDP has no connection to end, so
 * without this a client that keeps its source port (a DNS resolver, a syslog sender) would keep
 * following the flow the kernel remembers: to an endpoint that is gone, or to the service
 * address itself after it had no endpoints.
 *
 * Narrower than kube-proxy, never wider: kube-proxy keys service addresses by IP alone (a later
 * UDP port of the same address overwrites an earlier one's endpoints) and matches NodePort
 * flows by port whatever their destination; here service addresses are keyed by address and
 * port, a NodePort flow must have been sent to one of this node's addresses, and each stale
 * flow is removed by its own destination, port and reply source. So a flow of another port, or
 * a flow this node sent to a remote host's port that happens to be a NodePort, is never
 * removed. Pure: the backend lists and deletes.
 *
 * @module
 */

import type { ClusterSnapshot, Service, ServicePort } from "../cluster/types.ts";
import type { IptablesFamily, UdpFlow } from "../state/types.ts";

export type { UdpFlow };
import { EndpointSliceIndex } from "./endpoints.ts";
import { API_FAMILY, familyOf } from "./node_addresses.ts";

/** Serving endpoint addresses per UDP service address and port, and per UDP NodePort. */
export interface UdpServiceTargets {
  /** `address|port` of a cluster, external or load balancer IP -> serving endpoint addresses. */
  readonly byAddress: ReadonlyMap<string, ReadonlySet<string>>;
  /** NodePort -> serving endpoint addresses. */
  readonly byNodePort: ReadonlyMap<number, ReadonlySet<string>>;
  /** This node's addresses: only flows sent to one of them reached a NodePort. */
  readonly nodeAddresses: ReadonlySet<string>;
}

function addressKey(address: string, port: number): string {
  return `${address}|${port}`;
}

/** The addresses of the port's serving endpoints in `family` (terminating ones included). */
function servingAddresses(
  service: Service,
  port: ServicePort,
  family: IptablesFamily,
  slices: EndpointSliceIndex,
): Set<string> {
  const addresses = new Set<string>();
  for (const slice of slices.slicesFor(service, API_FAMILY[family])) {
    const served = slice.ports.some((p) => p.name === port.name && p.protocol === port.protocol);
    if (!served) continue;
    for (const endpoint of slice.endpoints) {
      // kube-proxy: IsServing(), whatever the traffic policies, topology or termination say.
      if (endpoint.conditions.serving) endpoint.addresses.forEach((a) => addresses.add(a));
    }
  }
  return addresses;
}

/** The service's addresses in `family` that take UDP: cluster, external and VIP-mode LB IPs. */
function serviceAddresses(service: Service, family: IptablesFamily): string[] {
  const lbs = service.loadBalancerIngress.filter((i) => i.ipMode === "VIP").map((i) => i.ip);
  return [...service.clusterIPs, ...service.externalIPs, ...lbs]
    .filter((ip) => familyOf(ip) === family);
}

/**
 * The serving endpoints of every UDP service port of `snapshot` in `family`, on a node with
 * `nodeAddresses`.
 *
 * @example
 * ```ts
 * import { snapshot } from "./testing.ts";
 * udpServiceTargets(snapshot([]), "ipv4", ["192.168.1.10"]).byAddress.size; // 0
 * ```
 */
export function udpServiceTargets(
  snapshot: ClusterSnapshot,
  family: IptablesFamily,
  nodeAddresses: readonly string[],
): UdpServiceTargets {
  const slices = new EndpointSliceIndex(snapshot);
  const byAddress = new Map<string, Set<string>>();
  const byNodePort = new Map<number, Set<string>>();
  for (const service of snapshot.services) {
    for (const port of service.ports) {
      if (port.protocol !== "udp") continue;
      const serving = servingAddresses(service, port, family, slices);
      for (const ip of serviceAddresses(service, family)) {
        byAddress.set(addressKey(ip, port.port), serving);
      }
      if (port.nodePort !== 0) byNodePort.set(port.nodePort, serving);
    }
  }
  return { byAddress, byNodePort, nodeAddresses: new Set(nodeAddresses) };
}

/**
 * The flows among `flows` whose reply does not come from a serving endpoint of the service
 * address or NodePort they were sent to; each once, in the order given.
 *
 * @example
 * ```ts
 * import { snapshot } from "./testing.ts";
 * const targets = udpServiceTargets(snapshot([]), "ipv4", []);
 * staleUdpFlows([{ family: "ipv4", origDst: "10.0.0.1", origDstPort: 53, replySrc: "10.0.0.1" }], targets);
 * // []: 10.0.0.1:53 is no service's, so its flow is not ours to judge
 * ```
 */
export function staleUdpFlows(
  flows: readonly UdpFlow[],
  targets: UdpServiceTargets,
): UdpFlow[] {
  const seen = new Set<string>();
  return flows.filter((flow) => {
    const toAddress = targets.byAddress.get(addressKey(flow.origDst, flow.origDstPort));
    const toNodePort = targets.nodeAddresses.has(flow.origDst)
      ? targets.byNodePort.get(flow.origDstPort)
      : undefined;
    const stale = (toAddress !== undefined && !toAddress.has(flow.replySrc)) ||
      (toNodePort !== undefined && !toNodePort.has(flow.replySrc));
    const key = `${flow.origDst}|${flow.origDstPort}|${flow.replySrc}`;
    if (!stale || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
