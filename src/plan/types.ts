/**
 * A plan: the ordered operations that turn the kernel's current state into the desired one.
 * Produced by the pure diff (`src/plan/diff.ts`), applied by a backend, rendered for review.
 *
 * @module
 */

import type {
  IpSetType,
  IptablesChain,
  IptablesFamily,
  JumpRule,
  RealServer,
  TableName,
  VirtualServer,
} from "../state/types.ts";
import type { Protocol } from "../cluster/types.ts";

/** Identifies a virtual server: protocol, address and port. */
export interface VirtualServerKey {
  /** Transport protocol of the virtual server. */
  readonly protocol: Protocol;
  /** Canonical virtual IP, e.g. `10.96.0.1`. */
  readonly address: string;
  /** Virtual server port, e.g. `443`. */
  readonly port: number;
}

/** A virtual server's own settings, without its real servers. */
export type VirtualServerSpec = Omit<VirtualServer, "realServers">;

/** An ipset's header: what `ipset create` needs. */
export interface IpSetHeader {
  /** Set name, e.g. `KUBE-CLUSTER-IP`. */
  readonly name: string;
  /** ipset type, e.g. `hash:ip,port`. */
  readonly type: IpSetType;
  /** Address family (`family inet|inet6`); not used for `bitmap:port`. */
  readonly family: "inet" | "inet6";
}

/** Create a virtual server (`ipvsadm -A`). */
export interface AddVirtualServer {
  /** The operation kind, which tells the union's members apart. */
  readonly op: "ipvs.addVirtualServer";
  /** The virtual server to create. */
  readonly virtualServer: VirtualServerSpec;
}

/** Change a virtual server's scheduler, persistence or flags (`ipvsadm -E`). */
export interface EditVirtualServer {
  /** The operation kind, which tells the union's members apart. */
  readonly op: "ipvs.editVirtualServer";
  /** The virtual server's new settings; its key names the one to change. */
  readonly virtualServer: VirtualServerSpec;
}

/** Delete a virtual server and its real servers (`ipvsadm -D`). */
export interface DeleteVirtualServer {
  /** The operation kind, which tells the union's members apart. */
  readonly op: "ipvs.deleteVirtualServer";
  /** The virtual server to delete. */
  readonly virtualServer: VirtualServerKey;
}

/** Add a real server (`ipvsadm -a`). */
export interface AddRealServer {
  /** The operation kind, which tells the union's members apart. */
  readonly op: "ipvs.addRealServer";
  /** The virtual server to add it to. */
  readonly virtualServer: VirtualServerKey;
  /** The real server to add (address, port, forwarding, weight). */
  readonly realServer: RealServer;
}

/** Change a real server's weight (`ipvsadm -e`); weight 0 drains it. */
export interface EditRealServer {
  /** The operation kind, which tells the union's members apart. */
  readonly op: "ipvs.editRealServer";
  /** The virtual server it belongs to. */
  readonly virtualServer: VirtualServerKey;
  /** The real server with its new weight; address and port name it. */
  readonly realServer: RealServer;
}

/** Delete a real server (`ipvsadm -d`). */
export interface DeleteRealServer {
  /** The operation kind, which tells the union's members apart. */
  readonly op: "ipvs.deleteRealServer";
  /** The virtual server it belongs to. */
  readonly virtualServer: VirtualServerKey;
  /** Address and port of the real server to delete. */
  readonly realServer: Pick<RealServer, "address" | "port">;
}

/** Create a set if it does not exist (`ipset create -exist`). */
export interface CreateIpSet {
  /** The operation kind, which tells the union's members apart. */
  readonly op: "ipset.create";
  /** The set to create. */
  readonly set: IpSetHeader;
}

/** Add one entry (`ipset add`). */
export interface AddIpSetEntry {
  /** The operation kind, which tells the union's members apart. */
  readonly op: "ipset.add";
  /** Set name, e.g. `KUBE-CLUSTER-IP`. */
  readonly set: string;
  /** Entry in `ipset save` syntax, e.g. `10.0.0.1,tcp:443`. */
  readonly entry: string;
}

/** Delete one entry (`ipset del`). */
export interface DeleteIpSetEntry {
  /** The operation kind, which tells the union's members apart. */
  readonly op: "ipset.del";
  /** Set name, e.g. `KUBE-CLUSTER-IP`. */
  readonly set: string;
  /** Entry in `ipset save` syntax, e.g. `10.0.0.1,tcp:443`. */
  readonly entry: string;
}

/**
 * Replace a set's whole content: filled under a temporary name and swapped in, so the set is
 * never empty in between. The kernel swaps only sets of the same type and family, so this is
 * no way to change a header: the diff recreates such a set instead (`recreate_sets.ts`).
 */
export interface ReplaceIpSet {
  /** The operation kind, which tells the union's members apart. */
  readonly op: "ipset.replace";
  /** The set's new header. */
  readonly set: IpSetHeader;
  /** The set's whole new content, in `ipset save` syntax. */
  readonly entries: readonly string[];
}

/** Destroy one of our sets that the desired state no longer has (`ipset destroy`). */
export interface DestroyIpSet {
  /** The operation kind, which tells the union's members apart. */
  readonly op: "ipset.destroy";
  /** Set name, e.g. `KUBE-NODE-PORT-TCP`. */
  readonly set: string;
}

/**
 * Rewrite our chains of one table (`iptables-restore --noflush`): every chain listed is
 * declared (and so flushed) and refilled; the listed jump rules are missing and get inserted;
 * `deleteChains` are ours but no longer wanted.
 */
export interface RestoreIptablesTable {
  /** The operation kind, which tells the union's members apart. */
  readonly op: "iptables.restore";
  /** `ipv4` runs `iptables-restore`, `ipv6` runs `ip6tables-restore`. */
  readonly family: IptablesFamily;
  /** The table to restore, `nat` or `filter`. */
  readonly table: TableName;
  /** Our chains to declare (flush) and refill, with their rules. */
  readonly chains: readonly IptablesChain[];
  /** Missing jump rules, inserted at the top of their built-in chain. */
  readonly addJumps: readonly JumpRule[];
  /** Surplus copies of our jump rules, deleted one copy each. */
  readonly deleteJumps: readonly JumpRule[];
  /** Names of our chains to flush and remove (`-X`). */
  readonly deleteChains: readonly string[];
}

/** Create the dummy link (`ip link add kube-ipvs0 type dummy`). */
export interface AddLink {
  /** The operation kind, which tells the union's members apart. */
  readonly op: "link.add";
  /** The link name, `kube-ipvs0`. */
  readonly device: string;
}

/** Delete the dummy link (`ip link del kube-ipvs0`), only for cleanup. */
export interface DeleteLink {
  /** The operation kind, which tells the union's members apart. */
  readonly op: "link.delete";
  /** The link name, `kube-ipvs0`. */
  readonly device: string;
}

/** Bind an address (`ip address add 10.0.0.1/32 dev kube-ipvs0`). */
export interface AddAddress {
  /** The operation kind, which tells the union's members apart. */
  readonly op: "address.add";
  /** The device, `kube-ipvs0`. */
  readonly device: string;
  /** Address with prefix length, e.g. `10.0.0.1/32`. */
  readonly address: string;
}

/** Unbind an address (`ip address del ...`). */
export interface DeleteAddress {
  /** The operation kind, which tells the union's members apart. */
  readonly op: "address.delete";
  /** The device, `kube-ipvs0`. */
  readonly device: string;
  /** Address with prefix length, e.g. `10.0.0.1/32`. */
  readonly address: string;
}

/** One operation of a plan. */
export type Operation =
  | AddVirtualServer
  | EditVirtualServer
  | DeleteVirtualServer
  | AddRealServer
  | EditRealServer
  | DeleteRealServer
  | CreateIpSet
  | AddIpSetEntry
  | DeleteIpSetEntry
  | ReplaceIpSet
  | DestroyIpSet
  | RestoreIptablesTable
  | AddLink
  | DeleteLink
  | AddAddress
  | DeleteAddress;

/** The operation kinds, e.g. `ipvs.addRealServer`. */
export type OperationKind = Operation["op"];

/**
 * The operations of one sync, in the order they must be applied:
 * link and sets first (rules reference sets), then iptables, then IPVS, then addresses,
 * and set destruction last (after no rule references the set any more). A set of ours with
 * the wrong type or family is the exception: restores that stop our rules using it and its
 * destruction come right after the link, before it is created again like a missing set.
 */
export type Plan = readonly Operation[];
