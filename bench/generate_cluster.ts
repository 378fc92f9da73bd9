/**
 * Scale generator for benchmarks: a cluster of N services with M endpoints each, as the
 * normalised objects the proxier reads. Deterministic, so runs are comparable.
 *
 * @module
 */

import type { ClusterSnapshot, EndpointSlice, Service } from "../src/cluster/types.ts";

/** The shape of the generated cluster. */
export interface ClusterShape {
  readonly services: number;
  readonly endpointsPerService: number;
  /** Share of services that are also NodePorts (0..1). */
  readonly nodePortShare: number;
  /** Share of services that are LoadBalancers (0..1), counted inside the NodePort share. */
  readonly loadBalancerShare: number;
  /** Nodes the endpoints are spread over; endpoints on `node-0` are local. */
  readonly nodes?: number;
}

/** The benchmark: 10,000 services x 10 endpoints, 20% NodePort, 5% LoadBalancer. */
export const LARGE_CLUSTER: ClusterShape = {
  services: 10_000,
  endpointsPerService: 10,
  nodePortShare: 0.2,
  loadBalancerShare: 0.05,
};

function ipFromIndex(base: number, index: number): string {
  const n = base + index;
  return `${n >>> 24 & 255}.${n >>> 16 & 255}.${n >>> 8 & 255}.${n & 255}`;
}

const SERVICE_BASE = 10 << 24 | 96 << 16; // 10.96.0.0/12
const POD_BASE = 10 << 24 | 128 << 16; // 10.128.0.0/9
const LB_BASE = 100 << 24 | 64 << 16; // 100.64.0.0/10

function serviceType(index: number, shape: ClusterShape): Service["type"] {
  const position = index / shape.services;
  if (position < shape.loadBalancerShare) return "LoadBalancer";
  if (position < shape.nodePortShare) return "NodePort";
  return "ClusterIP";
}

function makeService(index: number, shape: ClusterShape): Service {
  const type = serviceType(index, shape);
  return {
    namespace: `ns-${index % 50}`,
    name: `svc-${index}`,
    type,
    clusterIPs: [ipFromIndex(SERVICE_BASE, index + 1)],
    ports: [{
      name: "http",
      protocol: "tcp",
      port: 80,
      targetPort: 8080,
      nodePort: type === "ClusterIP" ? 0 : 30000 + index % 2768,
    }],
    externalIPs: [],
    sessionAffinity: "None",
    sessionAffinityTimeoutSeconds: 10800,
    externalTrafficPolicy: "Cluster",
    internalTrafficPolicy: "Cluster",
    loadBalancerSourceRanges: [],
    healthCheckNodePort: 0,
    loadBalancerIngress: type === "LoadBalancer"
      ? [{ ip: ipFromIndex(LB_BASE, index + 1), ipMode: "VIP" }]
      : [],
    source: "generated",
  };
}

function makeSlice(service: Service, index: number, shape: ClusterShape): EndpointSlice {
  const nodes = shape.nodes ?? 20;
  const endpoints = Array.from({ length: shape.endpointsPerService }, (_, e) => ({
    addresses: [ipFromIndex(POD_BASE, index * shape.endpointsPerService + e + 1)],
    conditions: { ready: true, serving: true, terminating: false },
    nodeName: `node-${(index + e) % nodes}`,
  }));
  return {
    namespace: service.namespace,
    name: `${service.name}-abcde`,
    serviceName: service.name,
    addressType: "IPv4",
    endpoints,
    ports: [{ name: "http", protocol: "tcp", port: 8080 }],
    source: "generated",
  };
}

/** Generates the cluster, sorted by namespace/name like a real snapshot. */
export function generateCluster(shape: ClusterShape): ClusterSnapshot {
  const services = Array.from({ length: shape.services }, (_, i) => makeService(i, shape));
  const endpointSlices = services.map((s, i) => makeSlice(s, i, shape));
  const byName = (a: { namespace: string; name: string }, b: typeof a) =>
    a.namespace === b.namespace ? (a.name < b.name ? -1 : 1) : (a.namespace < b.namespace ? -1 : 1);
  return {
    services: services.sort(byName),
    endpointSlices: endpointSlices.sort(byName),
    nodes: [],
  };
}

/** The same cluster with the first endpoint of the first slice replaced by another address. */
export function withOneEndpointChanged(cluster: ClusterSnapshot): ClusterSnapshot {
  const [first, ...rest] = cluster.endpointSlices;
  const changed: EndpointSlice = {
    ...first,
    endpoints: [
      { ...first.endpoints[0], addresses: ["10.255.255.254"] },
      ...first.endpoints.slice(1),
    ],
  };
  return { ...cluster, endpointSlices: [changed, ...rest] };
}
