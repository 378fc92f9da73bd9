/**
 * The ipsets of kube-proxy's IPVS mode (REFERENCE.md section 2): names, types, purposes,
 * and an accumulator that collects their entries during one computation.
 *
 * @module
 */

import type { IpSet, IpSetType, IptablesFamily } from "../state/types.ts";

/** One set of the IPVS proxier, named as for IPv4. */
export interface IpSetDefinition {
  readonly name: string;
  readonly type: IpSetType;
  readonly comment: string;
}

/** Base (IPv4) set names, so code refers to sets by constant rather than by string. */
export const SET = {
  loopBack: "KUBE-LOOP-BACK",
  clusterIP: "KUBE-CLUSTER-IP",
  externalIP: "KUBE-EXTERNAL-IP",
  externalIPLocal: "KUBE-EXTERNAL-IP-LOCAL",
  loadBalancer: "KUBE-LOAD-BALANCER",
  loadBalancerFW: "KUBE-LOAD-BALANCER-FW",
  loadBalancerLocal: "KUBE-LOAD-BALANCER-LOCAL",
  loadBalancerSourceIP: "KUBE-LOAD-BALANCER-SOURCE-IP",
  loadBalancerSourceCIDR: "KUBE-LOAD-BALANCER-SOURCE-CIDR",
  nodePortTCP: "KUBE-NODE-PORT-TCP",
  nodePortLocalTCP: "KUBE-NODE-PORT-LOCAL-TCP",
  nodePortUDP: "KUBE-NODE-PORT-UDP",
  nodePortLocalUDP: "KUBE-NODE-PORT-LOCAL-UDP",
  nodePortSCTP: "KUBE-NODE-PORT-SCTP-HASH",
  nodePortLocalSCTP: "KUBE-NODE-PORT-LOCAL-SCTP-HASH",
  healthCheckNodePort: "KUBE-HEALTH-CHECK-NODE-PORT",
  ipvsIPs: "KUBE-IPVS-IPS",
} as const;

/** A base set name. */
export type SetName = typeof SET[keyof typeof SET];

/** Every set, in kube-proxy's order, with its type and kube-proxy's comment. */
export const IPSET_DEFINITIONS: readonly IpSetDefinition[] = [
  {
    name: SET.loopBack,
    type: "hash:ip,port,ip",
    comment: "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose",
  },
  {
    name: SET.clusterIP,
    type: "hash:ip,port",
    comment: "Kubernetes service cluster ip + port for masquerade purpose",
  },
  {
    name: SET.externalIP,
    type: "hash:ip,port",
    comment: "Kubernetes service external ip + port for masquerade and filter purpose",
  },
  {
    name: SET.externalIPLocal,
    type: "hash:ip,port",
    comment: "Kubernetes service external ip + port with externalTrafficPolicy=local",
  },
  { name: SET.loadBalancer, type: "hash:ip,port", comment: "Kubernetes service lb portal" },
  {
    name: SET.loadBalancerFW,
    type: "hash:ip,port",
    comment: "Kubernetes service load balancer ip + port for load balancer with sourceRange",
  },
  {
    name: SET.loadBalancerLocal,
    type: "hash:ip,port",
    comment: "Kubernetes service load balancer ip + port with externalTrafficPolicy=local",
  },
  {
    name: SET.loadBalancerSourceIP,
    type: "hash:ip,port,ip",
    comment: "Kubernetes service load balancer ip + port + source IP for packet filter purpose",
  },
  {
    name: SET.loadBalancerSourceCIDR,
    type: "hash:ip,port,net",
    comment: "Kubernetes service load balancer ip + port + source cidr for packet filter purpose",
  },
  {
    name: SET.nodePortTCP,
    type: "bitmap:port",
    comment: "Kubernetes nodeport TCP port for masquerade purpose",
  },
  {
    name: SET.nodePortLocalTCP,
    type: "bitmap:port",
    comment: "Kubernetes nodeport TCP port with externalTrafficPolicy=local",
  },
  {
    name: SET.nodePortUDP,
    type: "bitmap:port",
    comment: "Kubernetes nodeport UDP port for masquerade purpose",
  },
  {
    name: SET.nodePortLocalUDP,
    type: "bitmap:port",
    comment: "Kubernetes nodeport UDP port with externalTrafficPolicy=local",
  },
  {
    name: SET.nodePortSCTP,
    type: "hash:ip,port",
    comment: "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'",
  },
  {
    name: SET.nodePortLocalSCTP,
    type: "hash:ip,port",
    comment:
      "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'",
  },
  {
    name: SET.healthCheckNodePort,
    type: "bitmap:port",
    comment: "Kubernetes health check node port",
  },
  { name: SET.ipvsIPs, type: "hash:ip", comment: "Addresses on the ipvs interface" },
];

const MAX_SET_NAME_LENGTH = 31;

/**
 * The kernel name of a set for a family: IPv6 sets are `KUBE-6-...`, cut to ipset's
 * 31-character limit as kube-proxy does (`KUBE-6-LOAD-BALANCER-SOURCE-CID`).
 */
export function ipsetName(base: SetName, family: IptablesFamily): string {
  if (family === "ipv4") return base;
  return base.replace(/^KUBE-/, "KUBE-6-").slice(0, MAX_SET_NAME_LENGTH);
}

/** Collects the entries of every set for one family during one computation. */
export class IpSetEntries {
  readonly #entries = new Map<SetName, Set<string>>();

  constructor(readonly family: IptablesFamily) {
    for (const definition of IPSET_DEFINITIONS) {
      this.#entries.set(definition.name as SetName, new Set());
    }
  }

  /** Adds an entry in `ipset save` syntax. */
  add(set: SetName, entry: string): void {
    this.#entries.get(set)!.add(entry);
  }

  /** Whether a set has no entries (kube-proxy leaves out the rules of empty sets). */
  isEmpty(set: SetName): boolean {
    return this.#entries.get(set)!.size === 0;
  }

  /** The sets as kernel state, in kube-proxy's order (sorting happens once, later). */
  toIpSets(): IpSet[] {
    return IPSET_DEFINITIONS.map((definition) => ({
      name: ipsetName(definition.name as SetName, this.family),
      type: definition.type,
      family: this.family === "ipv4" ? "inet" as const : "inet6" as const,
      comment: definition.comment,
      entries: [...this.#entries.get(definition.name as SetName)!],
    }));
  }
}
