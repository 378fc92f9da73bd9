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
  readonly protocol: Protocol;
  readonly address: string;
  readonly port: number;
}

/** A virtual server's own settings, without its real servers. */
export type VirtualServerSpec = Omit<VirtualServer, "realServers">;

/** An ipset's header: what `ipset create` needs. */
export interface IpSetHeader {
  readonly name: string;
  readonly type: IpSetType;
  readonly family: "inet" | "inet6";
}

/** Create a virtual server (`ipvsadm -A`). */
export interface AddVirtualServer {
  readonly op: "ipvs.addVirtualServer";
  readonly virtualServer: VirtualServerSpec;
}

/** Change a virtual server's scheduler, persistence or flags (`ipvsadm -E`). */
export interface EditVirtualServer {
  readonly op: "ipvs.editVirtualServer";
  readonly virtualServer: VirtualServerSpec;
}

/** Delete a virtual server and its real servers (`ipvsadm -D`). */
export interface DeleteVirtualServer {
  readonly op: "ipvs.deleteVirtualServer";
  readonly virtualServer: VirtualServerKey;
}

/** Add a real server (`ipvsadm -a`). */
export interface AddRealServer {
  readonly op: "ipvs.addRealServer";
  readonly virtualServer: VirtualServerKey;
  readonly realServer: RealServer;
}

/** Change a real server's weight (`ipvsadm -e`); weight 0 drains it. */
export interface EditRealServer {
  readonly op: "ipvs.editRealServer";
  readonly virtualServer: VirtualServerKey;
  readonly realServer: RealServer;
}

/** Delete a real server (`ipvsadm -d`). */
export interface DeleteRealServer {
  readonly op: "ipvs.deleteRealServer";
  readonly virtualServer: VirtualServerKey;
  readonly realServer: Pick<RealServer, "address" | "port">;
}

/** Create a set if it does not exist (`ipset create -exist`). */
export interface CreateIpSet {
  readonly op: "ipset.create";
  readonly set: IpSetHeader;
}

/** Add one entry (`ipset add`). */
export interface AddIpSetEntry {
  readonly op: "ipset.add";
  readonly set: string;
  readonly entry: string;
}

/** Delete one entry (`ipset del`). */
export interface DeleteIpSetEntry {
  readonly op: "ipset.del";
  readonly set: string;
  readonly entry: string;
}

/**
 * Replace a set's whole content and header: filled under a temporary name and swapped in,
 * so the set is never empty in between.
 */
export interface ReplaceIpSet {
  readonly op: "ipset.replace";
  readonly set: IpSetHeader;
  readonly entries: readonly string[];
}

/** Destroy one of our sets that the desired state no longer has (`ipset destroy`). */
export interface DestroyIpSet {
  readonly op: "ipset.destroy";
  readonly set: string;
}

/**
 * Rewrite our chains of one table (`iptables-restore --noflush`): every chain listed is
 * declared (and so flushed) and refilled; the listed jump rules are missing and get inserted;
 * `deleteChains` are ours but no longer wanted.
 */
export interface RestoreIptablesTable {
  readonly op: "iptables.restore";
  readonly family: IptablesFamily;
  readonly table: TableName;
  readonly chains: readonly IptablesChain[];
  readonly addJumps: readonly JumpRule[];
  readonly deleteJumps: readonly JumpRule[];
  readonly deleteChains: readonly string[];
}

/** Create the dummy link (`ip link add kube-ipvs0 type dummy`). */
export interface AddLink {
  readonly op: "link.add";
  readonly device: string;
}

/** Delete the dummy link (`ip link del kube-ipvs0`), only for cleanup. */
export interface DeleteLink {
  readonly op: "link.delete";
  readonly device: string;
}

/** Bind an address (`ip address add 10.0.0.1/32 dev kube-ipvs0`). */
export interface AddAddress {
  readonly op: "address.add";
  readonly device: string;
  readonly address: string;
}

/** Unbind an address (`ip address del ...`). */
export interface DeleteAddress {
  readonly op: "address.delete";
  readonly device: string;
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
 * and set destruction last (after no rule references the set any more).
 */
export type Plan = readonly Operation[];
