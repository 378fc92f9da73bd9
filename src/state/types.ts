/**
 * The kernel state this project owns, in one shape for both sides of a diff:
 * the desired state computed by `src/proxier/` and the current state a backend reads.
 * All lists are kept sorted (see `src/state/keys.ts`) so output is deterministic.
 *
 * @module
 */

import type { Protocol } from "../cluster/types.ts";

/** The dummy link that holds service addresses. */
export const IPVS_DEVICE = "kube-ipvs0";

/** An IPVS real server (destination). */
export interface RealServer {
  /** Canonical endpoint IP, e.g. `10.244.1.5`. */
  readonly address: string;
  /** Endpoint port, e.g. `8080`. */
  readonly port: number;
  /** Only NAT ("masq") is used by this proxier. */
  readonly forward: "masq";
  /** 1 normally, 0 while a removed endpoint drains (graceful termination). */
  readonly weight: number;
  /** ActiveConn as the kernel reports it; absent in the desired state. */
  readonly activeConnections?: number;
  /** InActConn as the kernel reports it; absent in the desired state. */
  readonly inactiveConnections?: number;
}

/** An IPVS virtual server (service) with its real servers. */
export interface VirtualServer {
  /** Transport protocol of the virtual server. */
  readonly protocol: Protocol;
  /** Canonical virtual IP (cluster, node, external or load balancer IP), e.g. `10.96.0.1`. */
  readonly address: string;
  /** Service port on that address (the node port for NodePort virtual servers), e.g. `443`. */
  readonly port: number;
  /** IPVS scheduler name, e.g. `rr` or `mh`. */
  readonly scheduler: string;
  /** Seconds; 0 without session affinity. */
  readonly persistenceTimeout: number;
  /** Scheduler flags by ipvsadm name, e.g. `mh-port`. */
  readonly flags: readonly string[];
  /** `namespace/name:port` of the Service that wants it; "" when read from the kernel. */
  readonly service: string;
  /** Real servers, one per endpoint address x target port, sorted. */
  readonly realServers: readonly RealServer[];
}

/** ipset types this proxier creates. */
export type IpSetType =
  | "hash:ip"
  | "hash:ip,port"
  | "hash:ip,port,ip"
  | "hash:ip,port,net"
  | "bitmap:port";

/** One ipset with its entries in `ipset save` syntax (`10.0.0.1,tcp:443`, `30080`). */
export interface IpSet {
  /** Set name, e.g. `KUBE-CLUSTER-IP`; IPv6 sets are `KUBE-6-...`, at most 31 characters. */
  readonly name: string;
  /** ipset type, e.g. `hash:ip,port`. */
  readonly type: IpSetType;
  /** Address family; ignored for `bitmap:port` sets, which have none in the kernel. */
  readonly family: "inet" | "inet6";
  /** What the set is for (kube-proxy's wording); not stored in the kernel. */
  readonly comment: string;
  /** Entries in `ipset save` syntax, sorted. */
  readonly entries: readonly string[];
}

/** One of our iptables chains with its rules in `iptables-save` form (without the `-A CHAIN`). */
export interface IptablesChain {
  /** Chain name, e.g. `KUBE-SERVICES`. */
  readonly name: string;
  /** Rules in order, each without `-A CHAIN`, e.g. `-j MARK --or-mark 0x4000`. */
  readonly rules: readonly string[];
}

/** A rule in a built-in chain that jumps into one of ours, in `iptables-save` form. */
export interface JumpRule {
  /** The built-in chain, e.g. `PREROUTING`. */
  readonly chain: string;
  /** The rule without `-A CHAIN`, e.g. `-m comment --comment "kubernetes service portals" -j KUBE-SERVICES`. */
  readonly rule: string;
}

/** Our part of one iptables table. */
export interface IptablesTable {
  /** Our chains in this table, with their rules. */
  readonly chains: readonly IptablesChain[];
  /** Jump rules from built-in chains into ours, in their final order at the top of each chain. */
  readonly jumps: readonly JumpRule[];
}

/** The two tables we use, for one family. */
export interface IptablesFamilyState {
  /** Our part of the `nat` table. */
  readonly nat: IptablesTable;
  /** Our part of the `filter` table. */
  readonly filter: IptablesTable;
}

/** iptables table name. */
export type TableName = "nat" | "filter";

/** `ipv4` is iptables, `ipv6` is ip6tables. */
export type IptablesFamily = "ipv4" | "ipv6";

/** An address bound to a device, with its prefix length (`10.0.0.1/32`, `fd00::1/128`). */
export interface BoundAddress {
  /** The device name, e.g. `kube-ipvs0`. */
  readonly device: string;
  /** Address with prefix length, e.g. `10.0.0.1/32`. */
  readonly address: string;
}

/** Everything this project owns in the kernel. */
export interface KernelState {
  /**
   * The IP families this state covers. A diff manages sets, chains and jumps only of the
   * desired state's families, so a family this node does not run is left as it is.
   */
  readonly families: readonly IptablesFamily[];
  /** IPVS virtual servers with their real servers, sorted. */
  readonly virtualServers: readonly VirtualServer[];
  /** The ipsets, sorted by name; ours are named `KUBE-...`. */
  readonly ipsets: readonly IpSet[];
  /** Our chains and jumps, per family. */
  readonly iptables: Readonly<Record<IptablesFamily, IptablesFamilyState>>;
  /** Whether the `kube-ipvs0` dummy link exists (always true in a desired state). */
  readonly linkPresent: boolean;
  /** Bound addresses, sorted; a desired state has only those on `kube-ipvs0`. */
  readonly addresses: readonly BoundAddress[];
}

/**
 * One UDP conntrack flow as far as the stale-flow cleanup needs it (`conntrack -L -p udp`).
 * Not part of {@linkcode KernelState}: flows are the kernel's, only ever deleted when stale.
 */
export interface UdpFlow {
  /** The flow's family. */
  readonly family: IptablesFamily;
  /** The original direction's destination (`dst=` of the first tuple). */
  readonly origDst: string;
  /** The original direction's destination port (`dport=` of the first tuple). */
  readonly origDstPort: number;
  /** The reply direction's source (`src=` of the second tuple): the endpoint after DNAT. */
  readonly replySrc: string;
}
