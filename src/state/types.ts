/**
 * The kernel state this project owns, in one shape for both sides of a diff:
 * the desired state computed by `src/proxier/` and the current state a backend reads.
 * All lists are kept sorted (see `src/state/order.ts`) so output is deterministic.
 *
 * @module
 */

import type { Protocol } from "../cluster/types.ts";

/** The dummy link that holds service addresses. */
export const IPVS_DEVICE = "kube-ipvs0";

/** An IPVS real server (destination). */
export interface RealServer {
  readonly address: string;
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
  readonly protocol: Protocol;
  readonly address: string;
  readonly port: number;
  readonly scheduler: string;
  /** Seconds; 0 without session affinity. */
  readonly persistenceTimeout: number;
  /** Scheduler flags by ipvsadm name, e.g. `mh-port`. */
  readonly flags: readonly string[];
  /** `namespace/name:port` of the Service that wants it; "" when read from the kernel. */
  readonly service: string;
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
  readonly name: string;
  readonly type: IpSetType;
  readonly family: "inet" | "inet6";
  /** What the set is for (kube-proxy's wording); not stored in the kernel. */
  readonly comment: string;
  readonly entries: readonly string[];
}

/** One of our iptables chains with its rules in `iptables-save` form (without the `-A CHAIN`). */
export interface IptablesChain {
  readonly name: string;
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
  readonly chains: readonly IptablesChain[];
  readonly jumps: readonly JumpRule[];
}

/** The two tables we use, for one family. */
export interface IptablesFamilyState {
  readonly nat: IptablesTable;
  readonly filter: IptablesTable;
}

/** iptables table name. */
export type TableName = "nat" | "filter";

/** `ipv4` is iptables, `ipv6` is ip6tables. */
export type IptablesFamily = "ipv4" | "ipv6";

/** An address bound to a device, with its prefix length (`10.0.0.1/32`, `fd00::1/128`). */
export interface BoundAddress {
  readonly device: string;
  readonly address: string;
}

/** Everything this project owns in the kernel. */
export interface KernelState {
  /**
   * The IP families this state covers. A diff manages sets, chains and jumps only of the
   * desired state's families, so a family this node does not run is left as it is.
   */
  readonly families: readonly IptablesFamily[];
  readonly virtualServers: readonly VirtualServer[];
  readonly ipsets: readonly IpSet[];
  readonly iptables: Readonly<Record<IptablesFamily, IptablesFamilyState>>;
  /** Whether the `kube-ipvs0` dummy link exists (always true in a desired state). */
  readonly linkPresent: boolean;
  readonly addresses: readonly BoundAddress[];
}
