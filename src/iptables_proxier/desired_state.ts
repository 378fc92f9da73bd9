/**
 * kube-proxy's iptables mode as a pure function: (config, snapshot, node name, node
 * addresses) -> the `nat` and `filter` tables of each family, in a `KernelState` with no
 * virtual servers, no sets, no addresses and no `kube-ipvs0`. The same diff and backends
 * apply it as they apply IPVS mode's state.
 *
 * @module
 */

import type { ProxyConfig } from "../config/types.ts";
import type { Service, ServicePort } from "../cluster/types.ts";
import type {
  IptablesChain,
  IptablesFamily,
  IptablesFamilyState,
  KernelState,
} from "../state/types.ts";
import { sortKernelState } from "../state/keys.ts";
import { EndpointSliceIndex } from "../proxier/endpoints.ts";
import { type NodeTopology, nodeTopology, portEndpoints } from "../proxier/topology.ts";
import {
  type LocalDetector,
  localDetectorFor,
  localDetectorWarnings,
  nodePodCIDRs,
} from "../proxier/local_detector.ts";
import type { DesiredState, ProxierInput } from "../proxier/desired_state.ts";
import { servicePortName } from "../proxier/desired_state.ts";
import { needsHealthCheck } from "../proxier/health_checks.ts";
import {
  API_FAMILY,
  cidrContains,
  detectFamilies,
  familyOf,
  selectNodeAddresses,
} from "../proxier/node_addresses.ts";
import { type ChainRules, type PortInput, type Tables, writeServicePort } from "./service_rules.ts";
import { comment, hostNet, joinHostPort, masqueradeMark } from "./rule_text.ts";
import {
  IPTABLES_MODE_FILTER_CHAINS,
  IPTABLES_MODE_FILTER_JUMPS,
  IPTABLES_MODE_NAT_CHAINS,
  IPTABLES_MODE_NAT_JUMPS,
} from "./jumps.ts";

/** kube-proxy's `largeClusterEndpointsThreshold`: above it, endpoint rules carry no comment. */
export const LARGE_CLUSTER_ENDPOINTS = 1000;

const NODEPORTS_COMMENT =
  "kubernetes service nodeports; NOTE: this must be the last rule in this chain";

/** The fixed rules: masquerade, the NodePort tail-call and the forwarding filter. */
function writeFixedRules(
  config: ProxyConfig,
  family: IptablesFamily,
  nodePortIPs: readonly string[],
  t: Tables,
): void {
  const mark = masqueradeMark(config.iptables.masqueradeBit);
  t.nat.get("KUBE-POSTROUTING")!.push(
    `-m mark ! --mark ${mark}/${mark} -j RETURN`,
    `-j MARK --set-xmark ${mark}/0x0`,
    `${comment("kubernetes service traffic requiring SNAT")} -j MASQUERADE --random-fully`,
  );
  t.nat.get("KUBE-MARK-MASQ")!.push(`-j MARK --set-xmark ${mark}/${mark}`);
  const services = t.nat.get("KUBE-SERVICES")!;
  if (config.nodePortAddresses.length === 0) {
    // NodePorts on localhost need route_localnet, which this proxy does not set.
    const loopback = family === "ipv6" ? "::1/128" : "127.0.0.0/8";
    services.push(
      `! -d ${loopback} ${
        comment(NODEPORTS_COMMENT)
      } -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS`,
    );
  } else {
    for (const ip of nodePortIPs) {
      services.push(`-d ${hostNet(ip)} ${comment(NODEPORTS_COMMENT)} -j KUBE-NODEPORTS`);
    }
  }
  t.filter.get("KUBE-FORWARD")!.push(
    "-m conntrack --ctstate INVALID -j DROP",
    `${comment("kubernetes forwarding rules")} -m mark --mark ${mark}/${mark} -j ACCEPT`,
    `${
      comment("kubernetes forwarding conntrack rule")
    } -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
  );
}

interface FamilyContext {
  readonly family: IptablesFamily;
  readonly input: ProxierInput;
  readonly slices: EndpointSliceIndex;
  readonly nodeIP: string | undefined;
  readonly largeCluster: boolean;
  readonly topology: NodeTopology;
  readonly localDetector: LocalDetector | undefined;
}

function portInput(
  ctx: FamilyContext,
  service: Service,
  port: ServicePort,
  clusterIP: string,
): PortInput {
  const { family, input } = ctx;
  // kube-proxy's CategorizeEndpoints: its cluster list is empty unless the port
  // UsesClusterEndpoints, its local one unless it UsesLocalEndpoints.
  const slices = ctx.slices.slicesFor(service, API_FAMILY[family]);
  const endpoints = portEndpoints(slices, service, port, family, ctx.topology);
  const inFamily = (ip: string) => familyOf(ip) === family;
  const externalIPs = service.externalIPs.filter(inFamily);
  const loadBalancerIPs = service.loadBalancerIngress
    .filter((i) => i.ipMode !== "Proxy" && inFamily(i.ip)).map((i) => i.ip);
  // kube-proxy sorts a port's endpoints by their `ip:port` text (`byEndpoint`).
  const key = (ep: { address: string; port: number }) => joinHostPort(ep.address, ep.port);
  const byName = (a: { address: string; port: number }, b: { address: string; port: number }) =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
  return {
    family,
    service,
    port,
    name: servicePortName(service, port),
    clusterIP,
    cluster: [...endpoints.cluster].sort(byName),
    local: [...endpoints.local].sort(byName),
    hasEndpoints: endpoints.hasAny,
    externalIPs,
    loadBalancerIPs,
    sourceRanges: service.loadBalancerSourceRanges.filter(inFamily),
    nodeIP: ctx.nodeIP,
    localDetector: ctx.localDetector,
    masqueradeAll: input.config.iptables.masqueradeAll,
    healthCheckNodePort: needsHealthCheck(service) ? service.healthCheckNodePort : 0,
    largeCluster: ctx.largeCluster,
    contains: cidrContains,
  };
}

function toChains(chains: ChainRules): IptablesChain[] {
  return [...chains].map(([name, rules]) => ({ name, rules }));
}

function buildFamily(ctx: FamilyContext): IptablesFamilyState {
  const tables: Tables = {
    nat: new Map(IPTABLES_MODE_NAT_CHAINS.map((c) => [c, []])),
    filter: new Map(IPTABLES_MODE_FILTER_CHAINS.map((c) => [c, []])),
  };
  const config = ctx.input.config;
  const node = selectNodeAddresses(ctx.input.nodeIPs, config.nodePortAddresses, ctx.family);
  // KUBE-POSTROUTING and KUBE-MARK-MASQ come first in kube-proxy's output; the service
  // rules are appended to KUBE-SERVICES before its NodePort tail-call.
  for (const service of ctx.input.snapshot.services) {
    const clusterIP = service.clusterIPs.find((ip) => familyOf(ip) === ctx.family);
    if (service.type === "ExternalName" || clusterIP === undefined) continue;
    for (const port of service.ports) {
      writeServicePort(portInput(ctx, service, port, clusterIP), tables);
    }
  }
  writeFixedRules(config, ctx.family, node.nodePortIPs, tables);
  return {
    nat: { chains: toChains(tables.nat), jumps: IPTABLES_MODE_NAT_JUMPS },
    filter: { chains: toChains(tables.filter), jumps: IPTABLES_MODE_FILTER_JUMPS },
  };
}

function countEndpoints(input: ProxierInput): number {
  let total = 0;
  for (const slice of input.snapshot.endpointSlices) total += slice.endpoints.length;
  return total;
}

/**
 * The whole desired state of iptables mode for this node.
 *
 * @example
 * ```ts
 * import { snapshot, testConfig } from "../proxier/testing.ts";
 * const { state } = computeIptablesDesiredState({
 *   config: testConfig(),
 *   snapshot: snapshot([], []),
 *   nodeName: "node-a",
 *   nodeIPs: ["192.168.0.2"],
 * });
 * state.iptables.ipv4.nat.chains[0].name; // "KUBE-SERVICES"
 * ```
 */
export function computeIptablesDesiredState(input: ProxierInput): DesiredState {
  const families = detectFamilies(
    input.nodeIPs,
    input.config.clusterCIDRs,
    input.kernelFamilies,
  );
  const slices = new EndpointSliceIndex(input.snapshot);
  const largeCluster = countEndpoints(input) > LARGE_CLUSTER_ENDPOINTS;
  const topology = nodeTopology(input.config, input.snapshot, input.nodeName);
  const podCIDRs = nodePodCIDRs(input.snapshot, input.nodeName);
  const empty = { nat: { chains: [], jumps: [] }, filter: { chains: [], jumps: [] } };
  const iptables: Record<IptablesFamily, IptablesFamilyState> = { ipv4: empty, ipv6: empty };
  for (const family of families) {
    const nodeIP = input.nodeIPs.find((ip) => familyOf(ip) === family);
    const localDetector = localDetectorFor(input.config, family, podCIDRs);
    iptables[family] = buildFamily({
      family,
      input,
      slices,
      nodeIP,
      largeCluster,
      topology,
      localDetector,
    });
  }
  const state: KernelState = {
    families,
    virtualServers: [],
    ipsets: [],
    iptables,
    linkPresent: false,
    addresses: [],
  };
  const warnings = localDetectorWarnings(input.config, families, input.snapshot, input.nodeName);
  return { state: sortKernelState(state), warnings };
}
