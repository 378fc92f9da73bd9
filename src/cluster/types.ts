/**
 * What the proxier reads of the cluster's objects, normalised once at the edge:
 * protocols lowercase, IPs and CIDRs in canonical text form (ipaddr.js), defaults applied.
 * Objects of these types are already validated; the proxier trusts them.
 *
 * @module
 */

/** A transport protocol, lowercase everywhere inside the project. */
export type Protocol = "tcp" | "udp" | "sctp";

/** An IP family. */
export type IpFamily = "IPv4" | "IPv6";

/** `v1` Service `spec.type`. */
export type ServiceType = "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName";

/** One entry of `spec.ports`. */
export interface ServicePort {
  /** Port name, "" when the service has a single unnamed port. */
  readonly name: string;
  /** Transport protocol of the port; `tcp` when unset. */
  readonly protocol: Protocol;
  /** The service port, 1-65535, e.g. `443`. */
  readonly port: number;
  /** A number, or the name of a container port (resolved through the EndpointSlice's ports). */
  readonly targetPort: number | string;
  /** 0 when the port has no node port. */
  readonly nodePort: number;
}

/** One `status.loadBalancer.ingress` entry that has an IP. */
export interface LoadBalancerIngress {
  /** Canonical load balancer IP, e.g. `203.0.113.10`. */
  readonly ip: string;
  /** `Proxy` means the load balancer does not send traffic to the VIP: no virtual server. */
  readonly ipMode: "VIP" | "Proxy";
}

/** A `v1` Service, as the proxier sees it. */
export interface Service {
  /** `metadata.namespace`, e.g. `default`. */
  readonly namespace: string;
  /** `metadata.name`, e.g. `kubernetes`. */
  readonly name: string;
  /** `spec.type`, `ClusterIP` when unset. */
  readonly type: ServiceType;
  /** Canonical cluster IPs, primary first; empty for headless and ExternalName services. */
  readonly clusterIPs: readonly string[];
  /** `spec.ports`, in the order written. */
  readonly ports: readonly ServicePort[];
  /** Canonical external IPs. */
  readonly externalIPs: readonly string[];
  /** `spec.sessionAffinity`, `None` when unset; `ClientIP` makes its virtual servers persistent. */
  readonly sessionAffinity: "None" | "ClientIP";
  /** `sessionAffinityConfig.clientIP.timeoutSeconds`, 10800 when unset. */
  readonly sessionAffinityTimeoutSeconds: number;
  /** `spec.externalTrafficPolicy`, `Cluster` when unset (`Local`: local endpoints only). */
  readonly externalTrafficPolicy: "Cluster" | "Local";
  /** `spec.internalTrafficPolicy`, `Cluster` when unset (`Local`: local endpoints only). */
  readonly internalTrafficPolicy: "Cluster" | "Local";
  /** Canonical CIDRs. */
  readonly loadBalancerSourceRanges: readonly string[];
  /** 0 when unset. */
  readonly healthCheckNodePort: number;
  /** Ingress entries with an IP; entries with only a hostname are dropped. */
  readonly loadBalancerIngress: readonly LoadBalancerIngress[];
  /** The file this object was read from (for messages). */
  readonly source: string;
}

/** `endpoints[].conditions` with kube-proxy's nil rules applied. */
export interface EndpointConditions {
  /** nil means true. */
  readonly ready: boolean;
  /** nil means true (as kube-proxy reads it). */
  readonly serving: boolean;
  /** nil means false. */
  readonly terminating: boolean;
}

/** One `endpoints[]` entry of an EndpointSlice. */
export interface Endpoint {
  /** Canonical addresses (kube-proxy uses the first). */
  readonly addresses: readonly string[];
  /** Readiness, serving and terminating state of the endpoint. */
  readonly conditions: EndpointConditions;
  /** "" when unset. */
  readonly nodeName: string;
  /** `hints.forZones[].name`, set only when the slice gives some (topology aware routing). */
  readonly zoneHints?: readonly string[];
  /** `hints.forNodes[].name`, set only when the slice gives some (`PreferSameNode`). */
  readonly nodeHints?: readonly string[];
}

/** One `ports[]` entry of an EndpointSlice. */
export interface EndpointPort {
  /** "" when unset. */
  readonly name: string;
  /** Transport protocol of the port; `tcp` when unset. */
  readonly protocol: Protocol;
  /** The endpoint port number, e.g. `8080`. */
  readonly port: number;
}

/** A `discovery.k8s.io/v1` EndpointSlice. */
export interface EndpointSlice {
  /** `metadata.namespace`, e.g. `default`. */
  readonly namespace: string;
  /** `metadata.name`, e.g. `kubernetes-abc12`. */
  readonly name: string;
  /** The `kubernetes.io/service-name` label. */
  readonly serviceName: string;
  /** `addressType`, `IPv4` when unset: what every address is (`FQDN`: DNS names). */
  readonly addressType: "IPv4" | "IPv6" | "FQDN";
  /** `endpoints[]`, in the order written. */
  readonly endpoints: readonly Endpoint[];
  /** `ports[]`; entries without a port number are left out. */
  readonly ports: readonly EndpointPort[];
  /** The file this object was read from (for messages). */
  readonly source: string;
  /**
   * Epoch ms of the `endpoints.kubernetes.io/last-change-trigger-time` annotation, when set:
   * when the change this version carries began (for the network programming latency).
   */
  readonly triggerTimeMs?: number;
}

/** One `status.addresses[]` entry of a Node. */
export interface NodeAddress {
  /** InternalIP, ExternalIP, Hostname, ... */
  readonly type: string;
  /** Canonical IP for InternalIP/ExternalIP, the text as written for other types. */
  readonly address: string;
}

/** A `v1` Node. */
export interface Node {
  /** `metadata.name`, e.g. `worker-1`. */
  readonly name: string;
  /** `status.addresses[]`; invalid entries are skipped one by one. */
  readonly addresses: readonly NodeAddress[];
  /** Set when `metadata.deletionTimestamp` is: the node is being deleted. */
  readonly deleting?: true;
  /** The keys of `spec.taints`, when it has any. */
  readonly taintKeys?: readonly string[];
  /** The `topology.kubernetes.io/zone` label, when set (topology aware routing). */
  readonly zone?: string;
  /** Canonical `spec.podCIDRs` (or the older `spec.podCIDR`), when set (`detectLocalMode: NodeCIDR`). */
  readonly podCIDRs?: readonly string[];
  /** The file this object was read from (for messages). */
  readonly source: string;
}

/** An immutable view of the cluster at one moment, sorted by namespace/name. */
export interface ClusterSnapshot {
  /** The valid Services, sorted by namespace/name. */
  readonly services: readonly Service[];
  /** The valid EndpointSlices, sorted by namespace/name. */
  readonly endpointSlices: readonly EndpointSlice[];
  /** The valid Nodes, sorted by name. */
  readonly nodes: readonly Node[];
}

/** Why an object (or one of its parts) was skipped. */
export interface ObjectWarning {
  /** The file the object came from. */
  readonly source: string;
  /** `Kind namespace/name`, or `Kind name` for cluster-scoped objects, or the document index. */
  readonly object: string;
  /** The field path, e.g. `spec.ports[0].port`. */
  readonly field: string;
  /** Why it was skipped, e.g. `must be a port number from 1 to 65535, got 70000`. */
  readonly message: string;
}
