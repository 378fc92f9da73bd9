/**
 * The pure heart of the proxier: (config, cluster snapshot, node addresses) -> the complete
 * kernel state this node needs. No I/O; the same input always gives the same, sorted output.
 *
 * @module
 */

import type { ProxyConfig } from "../config/types.ts";
import type { ClusterSnapshot, EndpointSlice, Service, ServicePort } from "../cluster/types.ts";
import type {
  IptablesFamily,
  IptablesFamilyState,
  KernelState,
  RealServer,
  VirtualServer,
} from "../state/types.ts";
import { IPVS_DEVICE } from "../state/types.ts";
import { hostPort, sortKernelState, virtualServerKey } from "../state/keys.ts";
import { EndpointSliceIndex, type ServiceEndpoint } from "./endpoints.ts";
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
import { type NodeTopology, nodeTopology, type PortEndpoints, portEndpoints } from "./topology.ts";
import {
  type LocalDetector,
  localDetectorFor,
  localDetectorWarnings,
  nodePodCIDRs,
} from "./local_detector.ts";

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
  /**
   * The families the kernel can program (`Backend.kernelFamilies`): all of them are run, as
   * kube-proxy runs dual-stack whenever the kernel has IPv6. @default [] (a dry run)
   */
  readonly kernelFamilies?: readonly IptablesFamily[];
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

function toRealServers(endpoints: readonly ServiceEndpoint[]): RealServer[] {
  return endpoints.map((ep) => ({
    address: ep.address,
    port: ep.port,
    forward: "masq",
    weight: 1,
  }));
}

/**
 * The endpoints of one virtual server, as kube-proxy's `syncEndpoint` picks them
 * (pkg/proxy/ipvs/proxier.go): with a Local policy the local endpoints, or, when there are
 * none, the Cluster ones (kubernetes#97081: pods on this node keep reaching the service);
 * those are empty for internalTrafficPolicy Local unless the port also takes external
 * traffic (`UsesClusterEndpoints`). Otherwise the Cluster endpoints, topology applied.
 */
function realServersFor(
  endpoints: PortEndpoints,
  onlyNodeLocal: boolean,
): readonly ServiceEndpoint[] {
  if (onlyNodeLocal && endpoints.local.length > 0) return endpoints.local;
  return endpoints.cluster;
}

/** What the per-service computation of one family reads besides the service and its slices. */
export interface FamilyContext {
  /** The family computed. */
  readonly family: IptablesFamily;
  /** The resolved configuration. */
  readonly config: ProxyConfig;
  /** This node's name: endpoints whose `nodeName` equals it are local. */
  readonly nodeName: string;
  /** This node's addresses of the family. */
  readonly node: FamilyNodeAddresses;
  /** This node's name, zone and the node-hints gate, for topology aware routing. */
  readonly topology: NodeTopology;
  /** How pod traffic is told apart in this family (`detectLocalMode`), if it can be. */
  readonly localDetector: LocalDetector | undefined;
}

/** A service's EndpointSlices of one family (an {@linkcode EndpointSliceIndex} is one). */
export interface SliceLookup {
  /** The slices of `service` whose `addressType` is `family`, in snapshot order. */
  slicesFor(service: Service, family: "IPv4" | "IPv6"): readonly EndpointSlice[];
}

/**
 * Where one service's output for one family goes: the whole cluster's accumulator in
 * {@linkcode computeDesiredState}, or one service's record in the incremental proxier. The
 * calls come in a fixed order, so a sink that keeps them in order can replay them.
 */
export interface FamilySink {
  /** An entry of a set, in `ipset save` syntax; a service may add one entry twice. */
  addEntry(set: SetName, entry: string): void;
  /** An address to bind on `kube-ipvs0` (its `KUBE-IPVS-IPS` entry comes separately). */
  bind(ip: string): void;
  /** A virtual server the service wants; the first one of a key wins (see `conflictWarning`). */
  addVirtualServer(vs: VirtualServer): void;
  /** A load balancer VIP this node must not reach. */
  denyNodeAccess(entry: NoNodeAccessEntry): void;
}

/** The warning for a virtual server that another service port (or the same one) already has. */
export function conflictWarning(wanted: VirtualServer, existing: VirtualServer): string {
  return `${wanted.service} wants virtual server ${hostPort(wanted.address, wanted.port)}/` +
    `${wanted.protocol} that ${existing.service} already has; keeping ${existing.service}'s`;
}

/**
 * Writes what one service needs in one family into a sink. Pure: the output depends only on
 * the service, its slices and the context, which is what lets a service be recomputed alone.
 *
 * @example
 * ```ts
 * import { testConfig } from "./testing.ts";
 * import { selectNodeAddresses } from "./node_addresses.ts";
 * import { noTopology } from "./topology.ts";
 * const context = {
 *   family: "ipv4" as const,
 *   config: testConfig(),
 *   nodeName: "node-a",
 *   node: selectNodeAddresses(["192.168.0.10"], [], "ipv4"),
 *   topology: noTopology("node-a"),
 *   localDetector: undefined,
 * };
 * const noSlices = { slicesFor: () => [] };
 * const sink = { addEntry() {}, bind() {}, addVirtualServer() {}, denyNodeAccess() {} };
 * new ServiceWriter(context, noSlices, sink);
 * ```
 */
export class ServiceWriter {
  constructor(
    readonly context: FamilyContext,
    readonly slices: SliceLookup,
    readonly sink: FamilySink,
  ) {}

  /** Writes everything `service` needs in this family (nothing for headless or ExternalName). */
  write(service: Service): void {
    // Headless and ExternalName services have no VIP; kube-proxy skips them whole.
    const family = this.context.family;
    const clusterIP = service.clusterIPs.find((ip) => familyOf(ip) === family);
    if (service.type === "ExternalName" || clusterIP === undefined) return;
    const slices = this.slices.slicesFor(service, API_FAMILY[family]);
    for (const port of service.ports) {
      const endpoints = portEndpoints(slices, service, port, family, this.context.topology);
      this.addServicePort(service, port, clusterIP, endpoints);
    }
  }

  addServicePort(
    service: Service,
    port: ServicePort,
    clusterIP: string,
    endpoints: PortEndpoints,
  ): void {
    // Every local endpoint, whatever its conditions: kube-proxy's endpoints map holds them all.
    for (const ep of endpoints.everyLocal) {
      this.sink.addEntry(SET.loopBack, `${ep.address},${port.protocol}:${ep.port},${ep.address}`);
    }
    this.sink.addEntry(SET.clusterIP, ipsetEntry(clusterIP, port.protocol, port.port));
    const { internalLocal, externalLocal } = endpoints.policy;
    this.addVirtualServer(
      clusterIP,
      port.port,
      service,
      port,
      realServersFor(endpoints, internalLocal),
    );
    this.bind(clusterIP);
    const external = realServersFor(endpoints, externalLocal);
    this.addExternalIPs(service, port, external, externalLocal);
    this.addLoadBalancers(service, port, external, externalLocal);
    this.addNodePorts(service, port, external, externalLocal);
    // As in kube-proxy, a healthCheckNodePort counts only where it is served (LoadBalancer with
    // Local policy): anywhere else it would open a port in the filter table with no server.
    if (needsHealthCheck(service)) {
      this.sink.addEntry(SET.healthCheckNodePort, String(service.healthCheckNodePort));
    }
  }

  addExternalIPs(
    service: Service,
    port: ServicePort,
    endpoints: readonly ServiceEndpoint[],
    local: boolean,
  ): void {
    for (const ip of service.externalIPs) {
      if (familyOf(ip) !== this.context.family) continue;
      const set = local ? SET.externalIPLocal : SET.externalIP;
      this.sink.addEntry(set, ipsetEntry(ip, port.protocol, port.port));
      this.addVirtualServer(ip, port.port, service, port, endpoints);
      // An address that is already the node's own must not be bound to kube-ipvs0 too.
      if (!this.context.node.all.has(ip)) this.bind(ip);
    }
  }

  addLoadBalancers(
    service: Service,
    port: ServicePort,
    endpoints: readonly ServiceEndpoint[],
    local: boolean,
  ): void {
    for (const ingress of service.loadBalancerIngress) {
      const ip = ingress.ip;
      if (ingress.ipMode === "Proxy" || familyOf(ip) !== this.context.family) continue;
      const entry = ipsetEntry(ip, port.protocol, port.port);
      this.sink.addEntry(SET.loadBalancer, entry);
      if (local) this.sink.addEntry(SET.loadBalancerLocal, entry);
      this.addSourceRanges(service, port, ip, entry);
      this.addVirtualServer(ip, port.port, service, port, endpoints);
      if (!this.context.node.all.has(ip)) this.bind(ip);
    }
  }

  addSourceRanges(service: Service, port: ServicePort, ip: string, entry: string): void {
    const family = this.context.family;
    const ranges = service.loadBalancerSourceRanges.filter((c) => familyOf(c) === family);
    if (ranges.length === 0) return;
    // A /0 range allows every source; ipset cannot even store it, so no filter at all.
    if (ranges.some((cidr) => cidr.endsWith("/0"))) return;
    this.sink.addEntry(SET.loadBalancerFW, entry);
    for (const cidr of ranges) {
      this.sink.addEntry(SET.loadBalancerSourceCIDR, `${entry},${netEntry(cidr)}`);
    }
    const primary = this.context.node.primary;
    if (primary !== undefined && ranges.some((cidr) => cidrContains(cidr, primary))) {
      // Traffic from this node to the VIP short-cuts the load balancer: allow it explicitly.
      this.sink.addEntry(SET.loadBalancerSourceIP, `${entry},${ip}`);
    } else {
      this.sink.denyNodeAccess({ ip, protocol: port.protocol, port: port.port });
    }
  }

  addNodePorts(
    service: Service,
    port: ServicePort,
    endpoints: readonly ServiceEndpoint[],
    local: boolean,
  ): void {
    const nodePortIPs = this.context.node.nodePortIPs;
    if (port.nodePort === 0 || nodePortIPs.length === 0) return;
    const [set, localSet]: [SetName, SetName] = port.protocol === "tcp"
      ? [SET.nodePortTCP, SET.nodePortLocalTCP]
      : port.protocol === "udp"
      ? [SET.nodePortUDP, SET.nodePortLocalUDP]
      : [SET.nodePortSCTP, SET.nodePortLocalSCTP];
    // bitmap:port sets hold the port alone; SCTP uses hash:ip,port with every node IP.
    const entries = port.protocol === "sctp"
      ? nodePortIPs.map((ip) => ipsetEntry(ip, "sctp", port.nodePort))
      : [String(port.nodePort)];
    for (const entry of entries) {
      this.sink.addEntry(set, entry);
      if (local) this.sink.addEntry(localSet, entry);
    }
    for (const ip of nodePortIPs) {
      this.addVirtualServer(ip, port.nodePort, service, port, endpoints);
    }
  }

  addVirtualServer(
    address: string,
    vsPort: number,
    service: Service,
    port: ServicePort,
    endpoints: readonly ServiceEndpoint[],
  ): void {
    const scheduler = this.context.config.ipvs.scheduler;
    this.sink.addVirtualServer({
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
    });
  }

  bind(ip: string): void {
    this.sink.bind(ip);
    this.sink.addEntry(SET.ipvsIPs, ip);
  }
}

/** Collects the whole cluster's output for one family. */
class FamilyAccumulator implements FamilySink {
  readonly sets: IpSetEntries;
  readonly virtualServers = new Map<string, VirtualServer>();
  readonly bound = new Set<string>();
  readonly noNodeAccess: NoNodeAccessEntry[] = [];

  constructor(
    readonly family: IptablesFamily,
    readonly warnings: string[],
    readonly localDetector: LocalDetector | undefined,
  ) {
    this.sets = new IpSetEntries(family);
  }

  addEntry(set: SetName, entry: string): void {
    this.sets.add(set, entry);
  }

  bind(ip: string): void {
    this.bound.add(ip);
  }

  addVirtualServer(vs: VirtualServer): void {
    const key = virtualServerKey(vs);
    const existing = this.virtualServers.get(key);
    if (existing) this.warnings.push(conflictWarning(vs, existing));
    else this.virtualServers.set(key, vs);
  }

  denyNodeAccess(entry: NoNodeAccessEntry): void {
    this.noNodeAccess.push(entry);
  }
}

function buildFamily(
  family: IptablesFamily,
  input: ProxierInput,
  slices: EndpointSliceIndex,
  warnings: string[],
): FamilyAccumulator {
  const node = selectNodeAddresses(input.nodeIPs, input.config.nodePortAddresses, family);
  const topology = nodeTopology(input.config, input.snapshot, input.nodeName);
  const podCIDRs = nodePodCIDRs(input.snapshot, input.nodeName);
  const localDetector = localDetectorFor(input.config, family, podCIDRs);
  const accumulator = new FamilyAccumulator(family, warnings, localDetector);
  const context = {
    family,
    config: input.config,
    nodeName: input.nodeName,
    node,
    topology,
    localDetector,
  };
  const writer = new ServiceWriter(context, slices, accumulator);
  for (const service of input.snapshot.services) writer.write(service);
  return accumulator;
}

/** The iptables content of a family this node does not run: nothing. */
export function emptyFamilyTables(): IptablesFamilyState {
  const empty = { chains: [], jumps: [] };
  return { nat: empty, filter: empty };
}

/** Computes the whole desired kernel state for this node. */
export function computeDesiredState(input: ProxierInput): DesiredState {
  const families = detectFamilies(
    input.nodeIPs,
    input.config.clusterCIDRs,
    input.kernelFamilies,
  );
  const slices = new EndpointSliceIndex(input.snapshot);
  const warnings = localDetectorWarnings(
    input.config,
    families,
    input.snapshot,
    input.nodeName,
  );
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
      localDetector: b.localDetector,
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
