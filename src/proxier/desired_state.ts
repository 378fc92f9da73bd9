/**
 * The pure heart of the proxier: (config, cluster snapshot, node addresses) -> the complete
 * kernel state this node needs. No I/O; the same input always gives the same, sorted output.
 *
 * @module
 */

import type { ProxyConfig } from "../config/types.ts";
import type { ClusterSnapshot, Service, ServicePort } from "../cluster/types.ts";
import type {
  IptablesFamily,
  IptablesFamilyState,
  KernelState,
  RealServer,
  VirtualServer,
} from "../state/types.ts";
import { IPVS_DEVICE } from "../state/types.ts";
import { hostPort, sortKernelState, virtualServerKey } from "../state/keys.ts";
import { type CategorizedEndpoints, categorizeEndpoints, EndpointSliceIndex } from "./endpoints.ts";
import { needsHealthCheck } from "./health_checks.ts";
import { IpSetEntries, SET, type SetName } from "./ipsets.ts";
import { buildIptablesRules, type NoNodeAccessEntry } from "./iptables_rules.ts";
import {
  API_FAMILY,
  cidrContains,
  detectFamilies,
  type FamilyNodeAddresses,
  familyOf,
  selectNodeAddresses,
} from "./node_addresses.ts";

/** What the proxier computes from. */
export interface ProxierInput {
  /** The resolved configuration. */
  readonly config: ProxyConfig;
  /** The cluster's Services, EndpointSlices and Nodes. */
  readonly snapshot: ClusterSnapshot;
  /** This node's name: endpoints whose `nodeName` equals it are local. */
  readonly nodeName: string;
  /** This node's addresses, the primary one of each family first. */
  readonly nodeIPs: readonly string[];
}

/** The desired kernel state and what was noticed while computing it. */
export interface DesiredState {
  /** The complete kernel state this node needs, in canonical order. */
  readonly state: KernelState;
  /** Things skipped or ignored, one sentence each, naming the service. */
  readonly warnings: readonly string[];
}

/** `namespace/name:port` as kube-proxy names a service port (no `:` for an unnamed port). */
export function servicePortName(service: Service, port: ServicePort): string {
  const base = `${service.namespace}/${service.name}`;
  return port.name === "" ? base : `${base}:${port.name}`;
}

function ipsetEntry(ip: string, protocol: string, port: number): string {
  return `${ip},${protocol}:${port}`;
}

/** `ipset save` prints a host-sized net without its prefix length; write it the same way. */
function netEntry(cidr: string): string {
  const hostBits = cidr.includes(":") ? "/128" : "/32";
  return cidr.endsWith(hostBits) ? cidr.slice(0, -hostBits.length) : cidr;
}

function toRealServers(endpoints: CategorizedEndpoints["all"]): RealServer[] {
  return endpoints.map((ep) => ({
    address: ep.address,
    port: ep.port,
    forward: "masq",
    weight: 1,
  }));
}

/** Builds the state of one IP family. */
class FamilyBuilder {
  readonly sets: IpSetEntries;
  readonly virtualServers = new Map<string, VirtualServer>();
  readonly bound = new Set<string>();
  readonly noNodeAccess: NoNodeAccessEntry[] = [];

  constructor(
    readonly family: IptablesFamily,
    readonly input: ProxierInput,
    readonly node: FamilyNodeAddresses,
    readonly slices: EndpointSliceIndex,
    readonly warnings: string[],
  ) {
    this.sets = new IpSetEntries(family);
  }

  addService(service: Service): void {
    // Headless and ExternalName services have no VIP; kube-proxy skips them whole.
    const clusterIP = service.clusterIPs.find((ip) => familyOf(ip) === this.family);
    if (service.type === "ExternalName" || clusterIP === undefined) return;
    for (const port of service.ports) {
      const endpoints = categorizeEndpoints(
        this.slices.slicesFor(service, API_FAMILY[this.family]),
        port,
        this.input.nodeName,
      );
      this.addServicePort(service, port, clusterIP, endpoints);
    }
  }

  addServicePort(
    service: Service,
    port: ServicePort,
    clusterIP: string,
    endpoints: CategorizedEndpoints,
  ): void {
    for (const ep of endpoints.local) {
      this.sets.add(SET.loopBack, `${ep.address},${port.protocol}:${ep.port},${ep.address}`);
    }
    this.sets.add(SET.clusterIP, ipsetEntry(clusterIP, port.protocol, port.port));
    // internalTrafficPolicy Local: only this node's endpoints, possibly none.
    const internal = service.internalTrafficPolicy === "Local" ? endpoints.local : endpoints.all;
    this.addVirtualServer(clusterIP, port.port, service, port, internal);
    this.bind(clusterIP);
    // externalTrafficPolicy Local: this node's endpoints, or all of them when none is local.
    const externalLocal = service.externalTrafficPolicy === "Local";
    const external = externalLocal && endpoints.local.length > 0 ? endpoints.local : endpoints.all;
    this.addExternalIPs(service, port, external, externalLocal);
    this.addLoadBalancers(service, port, external, externalLocal);
    this.addNodePorts(service, port, external, externalLocal);
    // As in kube-proxy, a healthCheckNodePort counts only where it is served (LoadBalancer with
    // Local policy): anywhere else it would open a port in the filter table with no server.
    if (needsHealthCheck(service)) {
      this.sets.add(SET.healthCheckNodePort, String(service.healthCheckNodePort));
    }
  }

  addExternalIPs(
    service: Service,
    port: ServicePort,
    endpoints: CategorizedEndpoints["all"],
    local: boolean,
  ): void {
    for (const ip of service.externalIPs) {
      if (familyOf(ip) !== this.family) continue;
      const set = local ? SET.externalIPLocal : SET.externalIP;
      this.sets.add(set, ipsetEntry(ip, port.protocol, port.port));
      this.addVirtualServer(ip, port.port, service, port, endpoints);
      // An address that is already the node's own must not be bound to kube-ipvs0 too.
      if (!this.node.all.has(ip)) this.bind(ip);
    }
  }

  addLoadBalancers(
    service: Service,
    port: ServicePort,
    endpoints: CategorizedEndpoints["all"],
    local: boolean,
  ): void {
    for (const ingress of service.loadBalancerIngress) {
      const ip = ingress.ip;
      if (ingress.ipMode === "Proxy" || familyOf(ip) !== this.family) continue;
      const entry = ipsetEntry(ip, port.protocol, port.port);
      this.sets.add(SET.loadBalancer, entry);
      if (local) this.sets.add(SET.loadBalancerLocal, entry);
      this.addSourceRanges(service, port, ip, entry);
      this.addVirtualServer(ip, port.port, service, port, endpoints);
      if (!this.node.all.has(ip)) this.bind(ip);
    }
  }

  addSourceRanges(service: Service, port: ServicePort, ip: string, entry: string): void {
    const ranges = service.loadBalancerSourceRanges.filter((c) => familyOf(c) === this.family);
    if (ranges.length === 0) return;
    // A /0 range allows every source; ipset cannot even store it, so no filter at all.
    if (ranges.some((cidr) => cidr.endsWith("/0"))) return;
    this.sets.add(SET.loadBalancerFW, entry);
    for (const cidr of ranges) {
      this.sets.add(SET.loadBalancerSourceCIDR, `${entry},${netEntry(cidr)}`);
    }
    const primary = this.node.primary;
    if (primary !== undefined && ranges.some((cidr) => cidrContains(cidr, primary))) {
      // Traffic from this node to the VIP short-cuts the load balancer: allow it explicitly.
      this.sets.add(SET.loadBalancerSourceIP, `${entry},${ip}`);
    } else {
      this.noNodeAccess.push({ ip, protocol: port.protocol, port: port.port });
    }
  }

  addNodePorts(
    service: Service,
    port: ServicePort,
    endpoints: CategorizedEndpoints["all"],
    local: boolean,
  ): void {
    if (port.nodePort === 0 || this.node.nodePortIPs.length === 0) return;
    const [set, localSet]: [SetName, SetName] = port.protocol === "tcp"
      ? [SET.nodePortTCP, SET.nodePortLocalTCP]
      : port.protocol === "udp"
      ? [SET.nodePortUDP, SET.nodePortLocalUDP]
      : [SET.nodePortSCTP, SET.nodePortLocalSCTP];
    // bitmap:port sets hold the port alone; SCTP uses hash:ip,port with every node IP.
    const entries = port.protocol === "sctp"
      ? this.node.nodePortIPs.map((ip) => ipsetEntry(ip, "sctp", port.nodePort))
      : [String(port.nodePort)];
    for (const entry of entries) {
      this.sets.add(set, entry);
      if (local) this.sets.add(localSet, entry);
    }
    for (const ip of this.node.nodePortIPs) {
      this.addVirtualServer(ip, port.nodePort, service, port, endpoints);
    }
  }

  addVirtualServer(
    address: string,
    vsPort: number,
    service: Service,
    port: ServicePort,
    endpoints: CategorizedEndpoints["all"],
  ): void {
    const scheduler = this.input.config.ipvs.scheduler;
    const vs: VirtualServer = {
      protocol: port.protocol,
      address,
      port: vsPort,
      scheduler,
      persistenceTimeout: service.sessionAffinity === "ClientIP"
        ? service.sessionAffinityTimeoutSeconds
        : 0,
      // mh hashes on the source port too, so one client spreads over real servers.
      flags: scheduler === "mh" ? ["mh-port"] : [],
      service: servicePortName(service, port),
      realServers: toRealServers(endpoints),
    };
    const key = virtualServerKey(vs);
    const existing = this.virtualServers.get(key);
    if (existing) {
      this.warnings.push(
        `${vs.service} wants virtual server ${hostPort(address, vsPort)}/${port.protocol} ` +
          `that ${existing.service} already has; keeping ${existing.service}'s`,
      );
      return;
    }
    this.virtualServers.set(key, vs);
  }

  bind(ip: string): void {
    this.bound.add(ip);
    this.sets.add(SET.ipvsIPs, ip);
  }
}

function buildFamily(
  family: IptablesFamily,
  input: ProxierInput,
  slices: EndpointSliceIndex,
  warnings: string[],
): FamilyBuilder {
  const node = selectNodeAddresses(input.nodeIPs, input.config.nodePortAddresses, family);
  const builder = new FamilyBuilder(family, input, node, slices, warnings);
  for (const service of input.snapshot.services) builder.addService(service);
  return builder;
}

function emptyFamilyTables(): IptablesFamilyState {
  const empty = { chains: [], jumps: [] };
  return { nat: empty, filter: empty };
}

/** Computes the whole desired kernel state for this node. */
export function computeDesiredState(input: ProxierInput): DesiredState {
  const families = detectFamilies(input.nodeIPs, input.config.clusterCIDRs);
  const slices = new EndpointSliceIndex(input.snapshot);
  const warnings: string[] = [];
  const builders = families.map((family) => buildFamily(family, input, slices, warnings));
  const iptables: Record<IptablesFamily, IptablesFamilyState> = {
    ipv4: emptyFamilyTables(),
    ipv6: emptyFamilyTables(),
  };
  for (const b of builders) {
    iptables[b.family] = buildIptablesRules({
      family: b.family,
      config: input.config,
      sets: b.sets,
      noNodeAccess: b.noNodeAccess,
    });
  }
  const state: KernelState = {
    families,
    virtualServers: builders.flatMap((b) => [...b.virtualServers.values()]),
    ipsets: builders.flatMap((b) => b.sets.toIpSets()),
    iptables,
    linkPresent: true,
    addresses: builders.flatMap((b) =>
      [...b.bound].map((ip) => ({
        device: IPVS_DEVICE,
        address: `${ip}/${b.family === "ipv4" ? 32 : 128}`,
      }))
    ),
  };
  return { state: sortKernelState(state), warnings };
}
