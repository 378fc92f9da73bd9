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
  readonly protocol: Protocol;
  readonly port: number;
  /** A number, or the name of a container port (resolved through the EndpointSlice's ports). */
  readonly targetPort: number | string;
  /** 0 when the port has no node port. */
  readonly nodePort: number;
}

/** One `status.loadBalancer.ingress` entry that has an IP. */
export interface LoadBalancerIngress {
  readonly ip: string;
  /** `Proxy` means the load balancer does not send traffic to the VIP: no virtual server. */
  readonly ipMode: "VIP" | "Proxy";
}

/** A `v1` Service, as the proxier sees it. */
export interface Service {
  readonly namespace: string;
  readonly name: string;
  readonly type: ServiceType;
  /** Canonical cluster IPs, primary first; empty for headless and ExternalName services. */
  readonly clusterIPs: readonly string[];
  readonly ports: readonly ServicePort[];
  /** Canonical external IPs. */
  readonly externalIPs: readonly string[];
  readonly sessionAffinity: "None" | "ClientIP";
  /** `sessionAffinityConfig.clientIP.timeoutSeconds`, 10800 when unset. */
  readonly sessionAffinityTimeoutSeconds: number;
  readonly externalTrafficPolicy: "Cluster" | "Local";
  readonly internalTrafficPolicy: "Cluster" | "Local";
  /** Canonical CIDRs. */
  readonly loadBalancerSourceRanges: readonly string[];
  /** 0 when unset. */
  readonly healthCheckNodePort: number;
  readonly loadBalancerIngress: readonly LoadBalancerIngress[];
  /** The file this object was read from (for messages). */
  readonly source: string;
}

/** `endpoints[].conditions` with the API's nil rules applied. */
export interface EndpointConditions {
  /** nil means true. */
  readonly ready: boolean;
  /** nil means the value of ready. */
  readonly serving: boolean;
  /** nil means false. */
  readonly terminating: boolean;
}

/** One `endpoints[]` entry of an EndpointSlice. */
export interface Endpoint {
  /** Canonical addresses (kube-proxy uses the first). */
  readonly addresses: readonly string[];
  readonly conditions: EndpointConditions;
  /** "" when unset. */
  readonly nodeName: string;
}

/** One `ports[]` entry of an EndpointSlice. */
export interface EndpointPort {
  /** "" when unset. */
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
}

/** A `discovery.k8s.io/v1` EndpointSlice. */
export interface EndpointSlice {
  readonly namespace: string;
  readonly name: string;
  /** The `kubernetes.io/service-name` label. */
  readonly serviceName: string;
  readonly addressType: "IPv4" | "IPv6" | "FQDN";
  readonly endpoints: readonly Endpoint[];
  readonly ports: readonly EndpointPort[];
  readonly source: string;
}

/** One `status.addresses[]` entry of a Node. */
export interface NodeAddress {
  /** InternalIP, ExternalIP, Hostname, ... */
  readonly type: string;
  readonly address: string;
}

/** A `v1` Node. */
export interface Node {
  readonly name: string;
  readonly addresses: readonly NodeAddress[];
  readonly source: string;
}

/** An immutable view of the cluster at one moment, sorted by namespace/name. */
export interface ClusterSnapshot {
  readonly services: readonly Service[];
  readonly endpointSlices: readonly EndpointSlice[];
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
  readonly message: string;
}
