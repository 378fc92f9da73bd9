/**
 * The per-service health checks kube-proxy serves for LoadBalancer services with
 * `externalTrafficPolicy: Local`: which `healthCheckNodePort` answers for which service, and how
 * many ready endpoints the service has on this node. Pure; the servers live in
 * `src/sync/service_health_servers.ts`.
 *
 * @module
 */

import type { EndpointSlice, Service } from "../cluster/types.ts";
import type { IptablesFamily } from "../state/types.ts";
import type { ProxierInput, SliceLookup } from "./desired_state.ts";
import { categorizeEndpoints, EndpointSliceIndex } from "./endpoints.ts";
import { API_FAMILY, detectFamilies, familyOf, selectNodeAddresses } from "./node_addresses.ts";

/** One health check port and what it reports. */
export interface ServiceHealthCheck {
  /** The service's `spec.healthCheckNodePort`, e.g. `32000`. */
  readonly port: number;
  /** `metadata.namespace` of the service. */
  readonly namespace: string;
  /** `metadata.name` of the service. */
  readonly name: string;
  /** Ready endpoints of the service on this node, each address counted once. */
  readonly localEndpoints: number;
}

/** The health checks of one sync and what was noticed while computing them. */
export interface ServiceHealthChecks {
  /** One per port, sorted by port. */
  readonly checks: readonly ServiceHealthCheck[];
  /** Services left without a health check, one sentence each, naming the service. */
  readonly warnings: readonly string[];
}

/** kube-proxy's `NeedsHealthCheck`: only LoadBalancer services with a Local policy get one. */
export function needsHealthCheck(service: Service): boolean {
  return service.type === "LoadBalancer" && service.externalTrafficPolicy === "Local" &&
    service.healthCheckNodePort !== 0;
}

/** The slices with their not-ready endpoints left out: terminating ones never count. */
function readyOnly(slices: readonly EndpointSlice[]): EndpointSlice[] {
  return slices.map((s) => ({ ...s, endpoints: s.endpoints.filter((e) => e.conditions.ready) }));
}

/**
 * The service's ready local endpoint addresses over its ports and the families it has a
 * cluster IP in; `undefined` for a service the proxier skips (headless, ExternalName, or no
 * cluster IP in a family this node runs).
 *
 * @example
 * ```ts
 * import { service, port } from "./testing.ts";
 * const web = service("web", "10.96.0.10", [port("http", 80)]);
 * localReadyAddresses(web, ["ipv4"], { slicesFor: () => [] }, "node-a"); // Set {}
 * ```
 */
export function localReadyAddresses(
  service: Service,
  families: readonly IptablesFamily[],
  slices: SliceLookup,
  nodeName: string,
): Set<string> | undefined {
  const served = families.filter((f) => service.clusterIPs.some((ip) => familyOf(ip) === f));
  if (service.type === "ExternalName" || served.length === 0) return undefined;
  // kube-proxy counts addresses, so one pod behind ports 80 and 443 is one endpoint.
  const addresses = new Set<string>();
  for (const family of served) {
    const ready = readyOnly(slices.slicesFor(service, API_FAMILY[family]));
    for (const port of service.ports) {
      for (const ep of categorizeEndpoints(ready, port, nodeName).local) addresses.add(ep.address);
    }
  }
  return addresses;
}

/**
 * One service's health check before port conflicts are settled: `undefined` when it needs
 * none or the proxier skips the service.
 */
export function healthCheckOf(
  service: Service,
  families: readonly IptablesFamily[],
  slices: SliceLookup,
  nodeName: string,
): ServiceHealthCheck | undefined {
  if (!needsHealthCheck(service)) return undefined;
  const addresses = localReadyAddresses(service, families, slices, nodeName);
  if (addresses === undefined) return undefined;
  const { namespace, name, healthCheckNodePort: port } = service;
  return { port, namespace, name, localEndpoints: addresses.size };
}

/** Settles port conflicts among services' checks given in service order: the first keeps it. */
export function resolveHealthChecks(candidates: Iterable<ServiceHealthCheck>): ServiceHealthChecks {
  const byPort = new Map<number, ServiceHealthCheck>();
  const warnings: string[] = [];
  for (const check of candidates) {
    const { namespace, name, port } = check;
    const existing = byPort.get(port);
    if (existing) {
      warnings.push(
        `${namespace}/${name} wants health check node port ${port} that ` +
          `${existing.namespace}/${existing.name} already has; keeping ` +
          `${existing.namespace}/${existing.name}'s`,
      );
      continue;
    }
    byPort.set(port, check);
  }
  const checks = [...byPort.values()].sort((a, b) => a.port - b.port);
  return { checks, warnings };
}

/**
 * Computes the health check of every LoadBalancer service with `externalTrafficPolicy: Local`
 * and a `healthCheckNodePort`. When two services claim one port, the first (by namespace/name)
 * keeps it and the other is named in a warning.
 *
 * @example
 * ```ts ignore
 * const { checks, warnings } = computeServiceHealthChecks(input);
 * // checks: [{ port: 32000, namespace: "default", name: "web", localEndpoints: 2 }]
 * ```
 */
export function computeServiceHealthChecks(input: ProxierInput): ServiceHealthChecks {
  const families = detectFamilies(
    input.nodeIPs,
    input.config.clusterCIDRs,
    input.kernelFamilies,
  );
  const slices = new EndpointSliceIndex(input.snapshot);
  const candidates = input.snapshot.services.flatMap((service) =>
    healthCheckOf(service, families, slices, input.nodeName) ?? []
  );
  return resolveHealthChecks(candidates);
}

/**
 * Where the health check servers listen, as kube-proxy chooses: every address when
 * `nodePortAddresses` is empty, else the node addresses it selects (possibly none).
 * Every address is one `::` socket on a node with IPv6 (Linux accepts IPv4 on it too, as Go's
 * `0.0.0.0` listener does), `0.0.0.0` on an IPv4-only node.
 */
export function healthCheckHostnames(
  nodeIPs: readonly string[],
  nodePortAddresses: readonly string[],
): string[] {
  if (nodePortAddresses.length === 0) {
    return nodeIPs.some((ip) => familyOf(ip) === "ipv6") ? ["::"] : ["0.0.0.0"];
  }
  return (["ipv4", "ipv6"] as const).flatMap((family) =>
    selectNodeAddresses(nodeIPs, nodePortAddresses, family).nodePortIPs
  );
}
