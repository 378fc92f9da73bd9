/**
 * kube-proxy's `sync_proxy_rules_no_local_endpoints_total`: the service ports with a Local
 * traffic policy that have no usable endpoint on this node, by policy (`internal`: the
 * ClusterIP's internalTrafficPolicy; `external`: externalTrafficPolicy of a service reachable
 * from outside), per IP family. Pure.
 *
 * @module
 */

import type { ClusterSnapshot, EndpointSlice, IpFamily, Service } from "../cluster/types.ts";
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

function hasLocalPolicy(service: Service): boolean {
  return service.internalTrafficPolicy === "Local" ||
    (service.externalTrafficPolicy === "Local" && reachableFromOutside(service));
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
  // Most clusters have no Local policy: then no slice needs indexing.
  if (!snapshot.services.some(hasLocalPolicy)) return [];
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

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * {@linkcode countNoLocalEndpoints} for a loop, held across syncs: a snapshot whose Services
 * and EndpointSlices are the same objects as the last one's (both cluster sources hand out the
 * same frozen object for what did not change) gets the last counts, after one pass comparing
 * references, instead of a new count over every service and slice.
 *
 * @example
 * ```ts
 * import { NoLocalEndpointsCounter } from "./no_local_endpoints.ts";
 * const counter = new NoLocalEndpointsCounter("node-a");
 * counter.count({ services: [], endpointSlices: [], nodes: [] }); // []
 * ```
 */
export class NoLocalEndpointsCounter {
  #last:
    | {
      services: readonly Service[];
      slices: readonly EndpointSlice[];
      counts: NoLocalEndpointCounts[];
    }
    | undefined;

  /** A counter for the node `nodeName`. */
  constructor(readonly nodeName: string) {}

  /** The counts for `snapshot`, as {@linkcode countNoLocalEndpoints} gives them. */
  count(snapshot: ClusterSnapshot): NoLocalEndpointCounts[] {
    const last = this.#last;
    if (
      last && sameItems(last.services, snapshot.services) &&
      sameItems(last.slices, snapshot.endpointSlices)
    ) return last.counts;
    const counts = countNoLocalEndpoints(snapshot, this.nodeName);
    this.#last = { services: snapshot.services, slices: snapshot.endpointSlices, counts };
    return counts;
  }
}
