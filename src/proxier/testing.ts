/**
 * Builders for proxier tests: normalised cluster objects and a defaulted config, so a test
 * states only what it is about.
 *
 * @module
 */

import type { ProxyConfig } from "../config/types.ts";
import {
  DEFAULT_CLIENT_CONNECTION,
  DEFAULT_CONFIG_SYNC_PERIOD_MS,
  DEFAULT_CONNTRACK,
  DEFAULT_DETECT_LOCAL,
  DEFAULT_LOGGING,
  DEFAULT_OOM_SCORE_ADJ,
} from "../config/defaults.ts";
import type {
  ClusterSnapshot,
  Endpoint,
  EndpointSlice,
  Node,
  Service,
  ServicePort,
} from "../cluster/types.ts";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A config with kube-proxy's defaults, changed by `overrides`. */
export function testConfig(
  overrides: Partial<Omit<ProxyConfig, "ipvs" | "iptables">> & {
    ipvs?: Partial<ProxyConfig["ipvs"]>;
    iptables?: Partial<ProxyConfig["iptables"]>;
  } = {},
): ProxyConfig {
  const { ipvs, iptables, ...rest } = overrides;
  return {
    mode: "ipvs",
    clusterCIDRs: [],
    detectLocalMode: "ClusterCIDR",
    nodePortAddresses: [],
    hostnameOverride: "",
    healthzBindAddress: "0.0.0.0:10256",
    metricsBindAddress: "127.0.0.1:10249",
    clientConnection: DEFAULT_CLIENT_CONNECTION,
    bindAddress: "0.0.0.0",
    bindAddressHardFail: false,
    enableProfiling: false,
    showHiddenMetricsForVersion: "",
    oomScoreAdj: DEFAULT_OOM_SCORE_ADJ,
    portRange: "",
    configSyncPeriodMs: DEFAULT_CONFIG_SYNC_PERIOD_MS,
    conntrack: DEFAULT_CONNTRACK,
    detectLocal: DEFAULT_DETECT_LOCAL,
    logging: DEFAULT_LOGGING,
    featureGates: {},
    source: "test.yaml",
    ...rest,
    ipvs: {
      scheduler: "rr",
      syncPeriodMs: 30000,
      minSyncPeriodMs: 0,
      excludeCIDRs: [],
      strictARP: false,
      tcpTimeoutMs: 0,
      tcpFinTimeoutMs: 0,
      udpTimeoutMs: 0,
      ...ipvs,
    },
    iptables: {
      masqueradeAll: false,
      masqueradeBit: 14,
      syncPeriodMs: 30000,
      minSyncPeriodMs: 1000,
      localhostNodePorts: true,
      ...iptables,
    },
  };
}

/** A service port: TCP, targetPort = port, no node port, unless overridden. */
export function port(
  name: string,
  portNumber: number,
  overrides: Partial<ServicePort> = {},
): ServicePort {
  return {
    name,
    protocol: "tcp",
    port: portNumber,
    targetPort: portNumber,
    nodePort: 0,
    ...overrides,
  };
}

/** A ClusterIP service in `default` with the given VIP and ports, unless overridden. */
export function service(
  name: string,
  clusterIP: string | string[],
  ports: ServicePort[],
  overrides: Partial<Mutable<Service>> = {},
): Service {
  return {
    namespace: "default",
    name,
    type: "ClusterIP",
    clusterIPs: Array.isArray(clusterIP) ? clusterIP : [clusterIP],
    ports,
    externalIPs: [],
    sessionAffinity: "None",
    sessionAffinityTimeoutSeconds: 10800,
    externalTrafficPolicy: "Cluster",
    internalTrafficPolicy: "Cluster",
    loadBalancerSourceRanges: [],
    healthCheckNodePort: 0,
    loadBalancerIngress: [],
    source: "test.yaml",
    ...overrides,
  };
}

/** A ready endpoint on `nodeName` (conditions overridable). */
export function endpoint(
  address: string,
  nodeName = "",
  conditions: Partial<Endpoint["conditions"]> = {},
): Endpoint {
  return {
    addresses: [address],
    nodeName,
    conditions: { ready: true, serving: true, terminating: false, ...conditions },
  };
}

/** An EndpointSlice of service `serviceName` in the service's namespace. */
export function slice(
  serviceName: string,
  endpoints: Endpoint[],
  ports: { name: string; port: number; protocol?: "tcp" | "udp" | "sctp" }[],
  overrides: Partial<Mutable<EndpointSlice>> = {},
): EndpointSlice {
  return {
    namespace: "default",
    name: `${serviceName}-${endpoints.length}${ports.map((p) => p.port).join("")}`,
    serviceName,
    addressType: endpoints[0]?.addresses[0]?.includes(":") ? "IPv6" : "IPv4",
    endpoints,
    ports: ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol ?? "tcp" })),
    source: "test.yaml",
    ...overrides,
  };
}

/** A snapshot of the given objects. */
export function snapshot(
  services: Service[],
  endpointSlices: EndpointSlice[] = [],
  nodes: Node[] = [],
): ClusterSnapshot {
  return { services, endpointSlices, nodes };
}
