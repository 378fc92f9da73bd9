/**
 * The generated cluster as the API server serves it (and as `kubectl get -o json` prints it):
 * raw `v1` Services, `discovery.k8s.io/v1` EndpointSlices and Nodes, the inverse of what
 * `src/cluster` parses.
 *
 * @module
 */

import type { ClusterSnapshot, EndpointSlice, Service } from "../src/cluster/types.ts";

/** A raw API object. */
export type ApiObject = Record<string, unknown>;

/** A normalised Service back in API form. */
export function serviceObject(s: Service): ApiObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { namespace: s.namespace, name: s.name },
    spec: {
      type: s.type,
      clusterIP: s.clusterIPs[0],
      clusterIPs: s.clusterIPs,
      ports: s.ports.map((p) => ({
        name: p.name,
        protocol: p.protocol.toUpperCase(),
        port: p.port,
        targetPort: p.targetPort,
        ...(p.nodePort > 0 ? { nodePort: p.nodePort } : {}),
      })),
      sessionAffinity: s.sessionAffinity,
      externalTrafficPolicy: s.externalTrafficPolicy,
      internalTrafficPolicy: s.internalTrafficPolicy,
      ...(s.externalIPs.length > 0 ? { externalIPs: s.externalIPs } : {}),
      ...(s.healthCheckNodePort > 0 ? { healthCheckNodePort: s.healthCheckNodePort } : {}),
    },
    status: { loadBalancer: { ingress: s.loadBalancerIngress.map((i) => ({ ip: i.ip })) } },
  };
}

/** A normalised EndpointSlice back in API form. */
export function endpointSliceObject(e: EndpointSlice): ApiObject {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      namespace: e.namespace,
      name: e.name,
      labels: { "kubernetes.io/service-name": e.serviceName },
    },
    addressType: e.addressType,
    endpoints: e.endpoints.map((p) => ({
      addresses: p.addresses,
      conditions: p.conditions,
      ...(p.nodeName ? { nodeName: p.nodeName } : {}),
    })),
    ports: e.ports.map((p) => ({ name: p.name, protocol: p.protocol.toUpperCase(), port: p.port })),
  };
}

/** A Node with one InternalIP, as the proxy's own node. */
export function nodeObject(name: string, internalIP: string): ApiObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name },
    status: { addresses: [{ type: "InternalIP", address: internalIP }] },
  };
}

/** Every object of `cluster`, Services first. */
export function clusterObjects(cluster: ClusterSnapshot): ApiObject[] {
  return [
    ...cluster.services.map(serviceObject),
    ...cluster.endpointSlices.map(endpointSliceObject),
  ];
}
