/**
 * Small Service, EndpointSlice and Node objects as the API server stores them, and a plain
 * client of the fake API server, for the API source's tests and benchmarks.
 *
 * @module
 */

import { ApiClient } from "../../src/cluster/api/api_client.ts";
import type { KubeObject } from "../fake_apiserver/fake_apiserver.ts";

/** A ClusterIP Service with one TCP port. */
export function service(
  name: string,
  clusterIP: string,
  port: number,
  labels: Record<string, string> = {},
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "default", labels },
    spec: { clusterIP, clusterIPs: [clusterIP], ports: [{ name: "p", port, protocol: "TCP" }] },
  };
}

/** An EndpointSlice of `serviceName` with ready endpoints at `addresses`:`port`. */
export function endpointSlice(
  name: string,
  serviceName: string,
  addresses: readonly string[],
  port: number,
): KubeObject {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name, namespace: "default", labels: { "kubernetes.io/service-name": serviceName } },
    addressType: "IPv4",
    endpoints: addresses.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
    ports: [{ name: "p", port, protocol: "TCP" }],
  };
}

/** A Node with one InternalIP. */
export function node(name: string, internalIP: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name },
    status: { addresses: [{ type: "InternalIP", address: internalIP }] },
  };
}

/** Polls `check` every 10 ms until it is true; fails after `timeoutMs`. */
export async function eventually(
  check: () => boolean,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A client of `url` with no credentials and no rate limit, as the tests talk to the fake. */
export function plainClient(url: string): ApiClient {
  return new ApiClient({
    server: new URL(url),
    tls: { caCerts: [], insecureSkipTlsVerify: false },
    credentials: { kind: "none" },
    origin: "test",
  }, { qps: -1 });
}
