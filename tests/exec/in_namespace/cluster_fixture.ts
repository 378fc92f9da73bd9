/**
 * A cluster with every service shape the kernel here can hold (no IPVS, so virtual servers
 * are stripped), and a node device with its addresses, for the real exec backend tests.
 *
 * @module
 */

import { computeDesiredState } from "../../../src/proxier/desired_state.ts";
import {
  endpoint,
  port,
  service,
  slice,
  snapshot,
  testConfig,
} from "../../../src/proxier/testing.ts";
import type { KernelState } from "../../../src/state/types.ts";
import type { ClusterSnapshot } from "../../../src/cluster/types.ts";
import { tool } from "./namespace_helpers.ts";

/** This node's name: endpoints on it are local. */
export const NODE_NAME = "node-a";

/** The node device and its addresses (a primary and a secondary IPv4, one IPv6). */
export const NODE_DEVICE = "node0";

/** Creates {@linkcode NODE_DEVICE} (a veth, both ends up) with the node's addresses. */
export async function createNodeDevice(): Promise<void> {
  await tool(
    ["ip", "-batch", "-"],
    [
      `link add ${NODE_DEVICE} type veth peer name ${NODE_DEVICE}-peer`,
      `address add 192.168.0.10/24 dev ${NODE_DEVICE}`,
      `address add 192.168.0.11/24 dev ${NODE_DEVICE}`,
      `address add fd00:10::10/64 dev ${NODE_DEVICE} nodad`,
      `link set ${NODE_DEVICE} up`,
      `link set ${NODE_DEVICE}-peer up`,
    ].join("\n") + "\n",
  );
}

/** Deletes {@linkcode NODE_DEVICE} (and its peer). */
export async function deleteNodeDevice(): Promise<void> {
  await tool(["ip", "link", "delete", NODE_DEVICE]);
}

/** The cluster; `dnsEndpoint` is kube-dns's local endpoint (change it to move one entry). */
export function cluster(dnsEndpoint = "10.244.1.2"): ClusterSnapshot {
  const local = NODE_NAME;
  return snapshot(
    [
      service("kubernetes", "10.96.0.1", [port("https", 443, { targetPort: 6443 })], {
        sessionAffinity: "ClientIP",
      }),
      service("kube-dns", "10.96.0.10", [
        port("dns", 53, { protocol: "udp" }),
        port("dns-tcp", 53),
      ], { namespace: "kube-system" }),
      service("web", ["10.96.0.20", "fd00::20"], [port("http", 80, { nodePort: 30080 })], {
        type: "NodePort",
        externalTrafficPolicy: "Local",
        externalIPs: ["203.0.113.5"],
      }),
      service("lb", "10.96.0.30", [port("https", 443, { nodePort: 30443 })], {
        type: "LoadBalancer",
        externalTrafficPolicy: "Local",
        healthCheckNodePort: 32000,
        loadBalancerIngress: [{ ip: "198.51.100.20", ipMode: "VIP" }],
        loadBalancerSourceRanges: ["203.0.113.0/24", "192.168.0.0/24"],
      }),
      service("udp-np", "10.96.0.40", [port("syslog", 514, { protocol: "udp", nodePort: 30514 })], {
        type: "NodePort",
      }),
    ],
    [
      slice("kubernetes", [endpoint("192.168.0.1")], [{ name: "https", port: 6443 }]),
      slice("kube-dns", [endpoint(dnsEndpoint, local)], [
        { name: "dns", port: 53, protocol: "udp" },
        { name: "dns-tcp", port: 53 },
      ], { namespace: "kube-system" }),
      slice("web", [endpoint("10.244.1.3", local), endpoint("10.244.2.3", "node-b")], [
        { name: "http", port: 8080 },
      ]),
      slice("web", [endpoint("fd01::3", local)], [{ name: "http", port: 8080 }], {
        name: "web-v6",
        addressType: "IPv6",
      }),
      slice("lb", [endpoint("10.244.1.5", local)], [{ name: "https", port: 8443 }]),
      slice("udp-np", [endpoint("10.244.2.6", "node-b")], [
        { name: "syslog", port: 514, protocol: "udp" },
      ]),
    ],
  );
}

/**
 * What the proxier wants for {@linkcode cluster} on a node with `nodeIPs`, without virtual
 * servers (this kernel has no IPVS).
 */
export function desiredState(nodeIPs: readonly string[], dnsEndpoint?: string): KernelState {
  const { state } = computeDesiredState({
    config: testConfig({ clusterCIDRs: ["10.244.0.0/16", "fd01::/64"] }),
    snapshot: cluster(dnsEndpoint),
    nodeName: NODE_NAME,
    nodeIPs,
  });
  return { ...state, virtualServers: [] };
}
