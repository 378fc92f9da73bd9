/**
 * fast-check generators for the convergence property: desired states from random small
 * clusters (through the proxier's own `computeDesiredState`, so every desired state is one a
 * node could be asked for), and current kernels made of what a node really holds: our state
 * for another (older) cluster, knocked about, plus legacy and wrong-typed sets of our names
 * and foreign objects (other tools' sets and chains, virtual servers inside excludeCIDRs,
 * addresses on other devices, the other family when this node runs one only).
 *
 * @module
 */

import fc from "fast-check";
import type {
  IpSet,
  IpSetType,
  IptablesFamily,
  IptablesFamilyState,
  IptablesTable,
  KernelState,
  VirtualServer,
} from "../../src/state/types.ts";
import { IPVS_DEVICE } from "../../src/state/types.ts";
import type { Endpoint, EndpointSlice, Protocol, Service } from "../../src/cluster/types.ts";
import { computeDesiredState } from "../../src/proxier/desired_state.ts";
import { endpoint, port, service, slice, snapshot, testConfig } from "../../src/proxier/testing.ts";
import type { ProxyConfig } from "../../src/config/types.ts";
import { emptyKernelState, sortKernelState } from "../../src/state/keys.ts";

/** The node the generated clusters run on. */
export const NODE = "node-a";
/** Virtual servers inside this range are another tool's (`ipvs.excludeCIDRs`). */
export const EXCLUDED_CIDR = "10.200.0.0/16";

const NODE_IPS: Record<"ipv4" | "dual", readonly string[]> = {
  ipv4: ["192.168.0.10"],
  dual: ["192.168.0.10", "fd00:10::10"],
};

/** One generated cluster with the config and node addresses it is computed for. */
export interface GeneratedCluster {
  readonly config: ProxyConfig;
  readonly services: readonly Service[];
  readonly slices: readonly EndpointSlice[];
  readonly nodeIPs: readonly string[];
}

const protocol = fc.constantFrom<Protocol>("tcp", "tcp", "udp", "sctp");

function endpointsArb(v6: boolean): fc.Arbitrary<Endpoint[]> {
  const address = v6
    ? fc.integer({ min: 2, max: 9 }).map((n) => `fd01::${n}`)
    : fc.integer({ min: 2, max: 9 }).map((n) => `10.244.1.${n}`);
  return fc.uniqueArray(
    fc.record({ address, local: fc.boolean(), ready: fc.boolean() }),
    { maxLength: 3, selector: (e) => e.address },
  ).map((eps) =>
    eps.map((e) =>
      endpoint(e.address, e.local ? NODE : "node-b", {
        ready: e.ready,
        terminating: !e.ready,
      })
    )
  );
}

function serviceArb(index: number, v6: boolean) {
  const name = `svc${index}${v6 ? "-v6" : ""}`;
  const vip = v6 ? `fd00::${index + 1}` : `10.96.0.${index + 1}`;
  return fc.record({
    type: fc.constantFrom("ClusterIP", "NodePort", "LoadBalancer") as fc.Arbitrary<
      Service["type"]
    >,
    ports: fc.uniqueArray(
      fc.record({ number: fc.constantFrom(53, 80, 443), protocol }),
      { minLength: 1, maxLength: 2, selector: (p) => `${p.number}/${p.protocol}` },
    ),
    externalIP: fc.option(fc.constant(v6 ? `fd03::${index + 1}` : `203.0.113.${index + 1}`)),
    lbIP: fc.option(fc.constant(v6 ? `fd04::${index + 1}` : `198.51.100.${index + 1}`)),
    affinity: fc.boolean(),
    local: fc.boolean(),
    sourceRange: fc.boolean(),
    endpoints: endpointsArb(v6),
  }).map((s) => {
    const ports = s.ports.map((p, i) =>
      port(`p${i}`, p.number, {
        protocol: p.protocol,
        nodePort: s.type === "ClusterIP" ? 0 : 30000 + index * 10 + i,
      })
    );
    const svc = service(name, vip, ports, {
      type: s.type,
      externalIPs: s.externalIP === null ? [] : [s.externalIP],
      sessionAffinity: s.affinity ? "ClientIP" : "None",
      externalTrafficPolicy: s.local && s.type !== "ClusterIP" ? "Local" : "Cluster",
      healthCheckNodePort: s.local && s.type === "LoadBalancer" ? 32000 + index : 0,
      loadBalancerIngress: s.type === "LoadBalancer" && s.lbIP !== null
        ? [{ ip: s.lbIP, ipMode: "VIP" }]
        : [],
      loadBalancerSourceRanges: s.sourceRange && s.type === "LoadBalancer"
        ? [v6 ? "fd05::/64" : "192.0.2.0/24"]
        : [],
    });
    const portsOfSlice = s.ports.map((p, i) => ({
      name: `p${i}`,
      port: p.number,
      protocol: p.protocol,
    }));
    return { svc, slice: slice(name, s.endpoints, portsOfSlice) };
  });
}

/** A random small cluster: up to five services (IPv6 ones too on a dual-stack node). */
export const clusterArb: fc.Arbitrary<GeneratedCluster> = fc.record({
  stack: fc.constantFrom<"ipv4" | "dual">("ipv4", "dual"),
  count: fc.integer({ min: 0, max: 5 }),
  masqueradeAll: fc.boolean(),
  clusterCIDR: fc.boolean(),
  scheduler: fc.constantFrom("rr", "rr", "mh"),
}).chain((c) =>
  fc.tuple(
    ...Array.from({ length: c.count }, (_, i) => serviceArb(i, c.stack === "dual" && i % 2 === 1)),
  ).map((services) => ({
    config: testConfig({
      clusterCIDRs: c.clusterCIDR
        ? (c.stack === "dual" ? ["10.244.0.0/16", "fd01::/64"] : ["10.244.0.0/16"])
        : [],
      iptables: { masqueradeAll: c.masqueradeAll },
      ipvs: { scheduler: c.scheduler, excludeCIDRs: [EXCLUDED_CIDR] },
    }),
    services: services.map((s) => s.svc),
    slices: services.map((s) => s.slice),
    nodeIPs: NODE_IPS[c.stack],
  }))
);

/** The desired state of a generated cluster, as the proxier computes it. */
export function desiredOf(cluster: GeneratedCluster): KernelState {
  return computeDesiredState({
    config: cluster.config,
    snapshot: snapshot([...cluster.services], [...cluster.slices]),
    nodeName: NODE,
    nodeIPs: cluster.nodeIPs,
  }).state;
}

const FOREIGN_SETS: readonly IpSet[] = [
  // kube-router's and Calico's sets: a KUBE- name is not enough to be ours.
  set("KUBE-SRC-3XHNKKCP2BRQEL4Q", "hash:ip", "inet", ["10.244.1.9"]),
  set("KUBE-DST-ABCDEF", "hash:ip,port", "inet", ["10.1.1.1,tcp:80"]),
  set("cali40all-hosts", "hash:ip", "inet", ["192.168.0.1"]),
];

function set(name: string, type: IpSetType, family: IpSet["family"], entries: string[]): IpSet {
  return { name, type, family, comment: "", entries };
}

/** A foreign chain, with a jump from a built-in chain into it. */
const FOREIGN_NAT: IptablesTable = {
  chains: [{ name: "CNI-HOSTPORT-DNAT", rules: ["-p tcp -m tcp --dport 8080 -j RETURN"] }],
  jumps: [{ chain: "PREROUTING", rule: "-j CNI-HOSTPORT-DNAT" }],
};
const FOREIGN_FILTER: IptablesTable = {
  chains: [{
    name: "KUBE-ROUTER-FORWARD",
    rules: ["-m set --match-set KUBE-SRC-3XHNKKCP2BRQEL4Q src -j ACCEPT"],
  }],
  jumps: [{ chain: "FORWARD", rule: "-j KUBE-ROUTER-FORWARD" }],
};

const FOREIGN_VS: VirtualServer = {
  protocol: "tcp",
  address: "10.200.0.5",
  port: 80,
  scheduler: "wrr",
  persistenceTimeout: 0,
  flags: [],
  service: "",
  realServers: [{ address: "10.200.1.1", port: 80, forward: "masq", weight: 3 }],
};

/** A legacy or wrong-typed set of one of our names: another type, another family, or both. */
function wrongTyped(name: string, kind: number): IpSet {
  const family = name.startsWith("KUBE-6-") ? "inet6" : "inet";
  const other = family === "inet" ? "inet6" : "inet";
  switch (kind % 3) {
    case 0:
      return set(name, "hash:ip", family, [family === "inet" ? "10.96.0.99" : "fd00::99"]);
    case 1:
      return set(name, "hash:ip,port", other, []);
    default:
      return set(name, "bitmap:port", family, ["31000"]);
  }
}

/** What is done to our part of a kernel synced to another cluster. */
export interface Damage {
  readonly wrongTypedSets: readonly { index: number; kind: number }[];
  readonly temporaries: boolean;
  readonly dropRulesOf: readonly number[];
  readonly strayRule: boolean;
  readonly dropJumps: boolean;
  readonly doubleJump: boolean;
  readonly staleEntry: boolean;
  readonly vsChange: number | null;
  readonly busyStale: boolean;
  readonly noLink: boolean;
  readonly staleAddress: boolean;
  readonly foreign: boolean;
}

/** Random damage (see {@linkcode damage}). */
export const damageArb: fc.Arbitrary<Damage> = fc.record({
  wrongTypedSets: fc.array(
    fc.record({ index: fc.nat(40), kind: fc.nat(2) }),
    { maxLength: 3 },
  ),
  temporaries: fc.boolean(),
  dropRulesOf: fc.array(fc.nat(10), { maxLength: 2 }),
  strayRule: fc.boolean(),
  dropJumps: fc.boolean(),
  doubleJump: fc.boolean(),
  staleEntry: fc.boolean(),
  vsChange: fc.option(fc.nat(20)),
  busyStale: fc.boolean(),
  noLink: fc.boolean(),
  staleAddress: fc.boolean(),
  foreign: fc.boolean(),
});

function damageTable(t: IptablesTable, d: Damage, salt: number): IptablesTable {
  const chains = t.chains.map((c, i) => {
    if (d.dropRulesOf.includes((i + salt) % 11)) return { ...c, rules: [] };
    if (d.strayRule && i === 0) return { ...c, rules: ["-j RETURN", ...c.rules] };
    return c;
  });
  let jumps = d.dropJumps ? t.jumps.slice(1) : t.jumps;
  if (d.doubleJump && jumps.length > 0) jumps = [jumps[0], ...jumps];
  return { chains, jumps };
}

function damageVirtualServers(vss: readonly VirtualServer[], d: Damage): VirtualServer[] {
  return vss.map((vs, i) => {
    if (d.vsChange === null || i !== d.vsChange % Math.max(vss.length, 1)) return vs;
    return {
      ...vs,
      scheduler: vs.scheduler === "rr" ? "wrr" : "rr",
      realServers: [
        ...vs.realServers.slice(1),
        // A removed endpoint that still has connections: drained, not deleted.
        ...(d.busyStale && vs.protocol === "tcp"
          ? [{
            address: vs.address.includes(":") ? "fd01::77" : "10.244.7.7",
            port: 8080,
            forward: "masq" as const,
            weight: 1,
            activeConnections: 2,
            inactiveConnections: 1,
          }]
          : []),
      ],
    };
  });
}

function damageSets(sets: readonly IpSet[], desired: KernelState, d: Damage): IpSet[] {
  const byName = new Map(sets.map((s) => [s.name, s]));
  const names = desired.ipsets.map((s) => s.name);
  for (const { index, kind } of d.wrongTypedSets) {
    if (names.length > 0) {
      const name = names[index % names.length];
      byName.set(name, wrongTyped(name, kind));
    }
  }
  if (d.staleEntry) {
    const target = [...byName.values()].find((s) => s.type === "hash:ip,port");
    if (target) {
      const entry = target.family === "inet" ? "10.96.9.9,tcp:9" : "fd00::9:9,tcp:9";
      byName.set(target.name, { ...target, entries: [...target.entries, entry] });
    }
  }
  if (d.temporaries) {
    byName.set("KUBE-CLUSTER-IP-TMP", set("KUBE-CLUSTER-IP-TMP", "hash:ip", "inet", []));
  }
  return [...byName.values()];
}

/**
 * A kernel synced to `previous`, then damaged by `d`, with foreign objects when `d.foreign`.
 * Every list is sorted, as a backend's `read()` returns it.
 */
export function damagedKernel(previous: KernelState, desired: KernelState, d: Damage): KernelState {
  const iptables = {} as Record<IptablesFamily, IptablesFamilyState>;
  for (const f of ["ipv4", "ipv6"] as const) {
    const t = previous.iptables[f];
    const foreign = d.foreign && f === "ipv4";
    iptables[f] = {
      nat: withForeign(damageTable(t.nat, d, 0), foreign ? FOREIGN_NAT : undefined),
      filter: withForeign(damageTable(t.filter, d, 5), foreign ? FOREIGN_FILTER : undefined),
    };
  }
  const ipvsAddresses = d.noLink ? [] : previous.addresses.map((a) => ({ ...a }));
  return sortKernelState({
    families: previous.families,
    virtualServers: [
      ...damageVirtualServers(previous.virtualServers, d),
      ...(d.foreign ? [FOREIGN_VS] : []),
    ],
    ipsets: [...damageSets(previous.ipsets, desired, d), ...(d.foreign ? FOREIGN_SETS : [])],
    iptables,
    linkPresent: !d.noLink,
    addresses: [
      ...ipvsAddresses,
      ...(d.staleAddress && !d.noLink ? [{ device: IPVS_DEVICE, address: "10.96.8.8/32" }] : []),
      ...(d.foreign ? [{ device: "eth0", address: "192.168.0.10/24" }] : []),
    ],
  });
}

function withForeign(t: IptablesTable, foreign: IptablesTable | undefined): IptablesTable {
  if (!foreign) return t;
  return { chains: [...t.chains, ...foreign.chains], jumps: [...t.jumps, ...foreign.jumps] };
}

/** One case of the property: the desired cluster, the older one and the damage. */
export interface ConvergenceCase {
  readonly desired: GeneratedCluster;
  readonly previous: GeneratedCluster | null;
  readonly damage: Damage;
}

/** A desired cluster, the older cluster the kernel was synced to (or none), and damage. */
export const caseArb: fc.Arbitrary<ConvergenceCase> = fc.record({
  desired: clusterArb,
  previous: fc.option(clusterArb, { freq: 4 }),
  damage: damageArb,
});

/** The current kernel of a case, and the desired state to converge to. */
export function statesOf(c: ConvergenceCase): { current: KernelState; desired: KernelState } {
  const desired = desiredOf(c.desired);
  const previous = c.previous === null
    ? { ...emptyKernelState(), families: desired.families }
    : desiredOf(c.previous);
  return { current: damagedKernel(previous, desired, c.damage), desired };
}
