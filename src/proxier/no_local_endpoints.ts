/**
 * kube-proxy's `sync_proxy_rules_no_local_endpoints_total`: the service ports with a Local
 * traffic policy that have no usable endpoint on this node, by policy (`internal`: the
 * ClusterIP's internalTrafficPolicy; `external`: externalTrafficPolicy of a service reachable
 * from outside), per IP family. Pure.
 *
 * @module
 */

import type { ClusterSnapshot, IpFamily, Service } from "../cluster/types.ts";
import { categorizeEndpoints, EndpointSliceIndex } from "./endpoints.ts";
import { API_FAMILY, familyOf } from "./node_addresses.ts";

/** The counts of one family. */
export interface NoLocalEndpointCounts {
  readonly family: IpFamily;
  /** Service ports with internalTrafficPolicy Local and no local endpoint. */
  readonly internal: number;
  /** Externally reachable service ports with externalTrafficPolicy Local and no local endpoint. */
  readonly external: number;
}

/** NodePorts, load balancer IPs or external IPs: what externalTrafficPolicy governs. */
function reachableFromOutside(service: Service): boolean {
  return service.type === "NodePort" || service.type === "LoadBalancer" ||
    service.externalIPs.length > 0;
}

/**
 * The counts for every family the cluster's services use.
 *
 * @example
 * ```ts
 * import { countNoLocalEndpoints } from "./no_local_endpoints.ts";
 * countNoLocalEndpoints({ services: [], endpointSlices: [], nodes: [] }, "node-a"); // []
 * ```
 */
export function countNoLocalEndpoints(
  snapshot: ClusterSnapshot,
  nodeName: string,
): NoLocalEndpointCounts[] {
  const index = new EndpointSliceIndex(snapshot);
  const counts = new Map<IpFamily, { internal: number; external: number }>();
  for (const service of snapshot.services) {
    const internalLocal = service.internalTrafficPolicy === "Local";
    const externalLocal = service.externalTrafficPolicy === "Local" &&
      reachableFromOutside(service);
    if (!internalLocal && !externalLocal) continue;
    for (const family of new Set(service.clusterIPs.map((ip) => API_FAMILY[familyOf(ip)]))) {
      const slices = index.slicesFor(service, family);
      const count = counts.get(family) ?? { internal: 0, external: 0 };
      for (const port of service.ports) {
        if (categorizeEndpoints(slices, port, nodeName).local.length > 0) continue;
        if (internalLocal) count.internal++;
        if (externalLocal) count.external++;
      }
      counts.set(family, count);
    }
  }
  return [...counts].map(([family, c]) => ({ family, ...c }));
}
