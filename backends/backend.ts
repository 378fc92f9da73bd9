/**
 * The one interface every backend implements: read what the kernel has, apply a plan.
 * Only code under `backends/` touches the kernel; everything it is given was computed purely.
 *
 * @module
 */

import type { Operation, Plan } from "../src/plan/types.ts";
import type { IptablesFamily, KernelState, UdpFlow } from "../src/state/types.ts";

/** Why one operation of a plan failed. */
export interface OperationFailure {
  /** The operation that failed. */
  readonly operation: Operation;
  /** The tool or subsystem that rejected it, e.g. `ipset restore` or `netlink ipvs`. */
  readonly tool: string;
  /** The input line the tool rejected, when there is one. */
  readonly line: string;
  /** The tool's own message (stderr, errno text). */
  readonly message: string;
}

/** What applying a plan did. */
export interface ApplyResult {
  /** Operations that took effect. */
  readonly applied: number;
  /** Operations that did not; empty when the whole plan was applied. */
  readonly failures: readonly OperationFailure[];
  /** Processes started or netlink batches sent to do it (0 for an empty plan). */
  readonly writes: number;
}

/** What the kernel says about its IPVS, as the first line of `ipvsadm -Ln` shows it. */
export interface IpvsInfo {
  /** The IPVS version, e.g. `1.2.1`. */
  readonly version: string;
  /** The connection hash table's size, e.g. `4096`. */
  readonly tableSize: number;
}

/** What deleting stale UDP flows did. */
export interface FlowDeletion {
  /** Flows the kernel deleted. */
  readonly deleted: number;
  /** What went wrong, one sentence each (a missing tool, a refused delete). */
  readonly problems: readonly string[];
  /** Processes started or netlink batches sent to delete them. */
  readonly writes: number;
}

/** The kernel's UDP conntrack flows, for the stale-flow cleanup after each sync. */
export interface UdpFlowTable {
  /** Every UDP flow of `family`; throws when they cannot be listed. */
  list(family: IptablesFamily): Promise<UdpFlow[]>;
  /** Deletes each flow (by destination, port and reply source); never throws for a refusal. */
  delete(flows: readonly UdpFlow[]): Promise<FlowDeletion>;
}

/** A kernel, real or simulated, that the proxier reconciles. */
export interface Backend {
  /** Short name for logs: `exec`, `dry-run`, `netlink`. */
  readonly name: string;
  /** Reads the state of everything this project owns (and nothing else). */
  read(): Promise<KernelState>;
  /** Applies the operations in order; never throws for a rejected operation, reports it. */
  apply(plan: Plan): Promise<ApplyResult>;
  /**
   * This node's addresses as the kernel knows them (all devices but `kube-ipvs0`, without
   * loopback), used for NodePorts when neither `--node-ip` nor a Node object names them.
   */
  nodeAddresses(): Promise<readonly string[]>;
  /**
   * The kernel's IPVS version and table size, for `--output table`; `undefined` where the
   * kernel has no IPVS. Absent where there is no kernel to ask (the dry run).
   */
  ipvsInfo?(): Promise<IpvsInfo | undefined>;
  /** The conntrack flows, where the backend has a kernel whose flows it can clean (not the dry run). */
  readonly udpFlows?: UdpFlowTable;
  /**
   * The IP families the kernel can program (ip6tables usable, IPv6 enabled), when the backend
   * has a kernel to ask; kube-proxy runs both families whenever it can. Absent (the dry run):
   * the families follow the node's addresses and the cluster CIDRs.
   */
  kernelFamilies?(): readonly IptablesFamily[];
}
