/**
 * One sync, the three steps in order: compute the desired state (pure), diff it with what
 * the backend reads (pure), apply the plan through the backend (the only kernel access).
 *
 * @module
 */

import type { ApplyResult, Backend } from "../../backends/backend.ts";
import type { ClusterSnapshot, Node } from "../cluster/types.ts";
import type { ProxyConfig } from "../config/types.ts";
import { diffStates, type SettledPairs } from "../plan/diff.ts";
import type { Plan } from "../plan/types.ts";
import type { DesiredState } from "../proxier/desired_state.ts";
import type { DesiredStateComputer } from "../proxier/incremental.ts";
import { cleanStaleUdpFlows } from "./udp_flow_cleanup.ts";
import type { FlowDeletion } from "../../backends/backend.ts";
import { computeDesiredStateFor, type ProxierKind } from "../proxier/mode.ts";
import type { SyncOutcome } from "../sync/sync_loop.ts";

/** What a sync needs besides the snapshot. */
export interface SyncContext {
  readonly config: ProxyConfig;
  readonly backend: Backend;
  readonly nodeName: string;
  /** Addresses from `--node-ip`; empty to take them from the Node object or the kernel. */
  readonly nodeIPFlags: readonly string[];
  /** Monotonic milliseconds, injectable for tests. */
  readonly now?: () => number;
  /** The proxier chosen at startup (`chooseProxier`). @default {"ipvs"} */
  readonly proxierKind?: ProxierKind;
  /**
   * Held across syncs, the proxier of `proxierKind` for `config` and `nodeName`
   * (`proxierForMode`: in IPVS mode it recomputes only what changed since the last sync);
   * without it, every sync computes the whole state of `proxierKind`.
   */
  readonly proxier?: DesiredStateComputer;
  /**
   * Held across syncs with the proxier: what earlier diffs found equal, so that the frozen
   * objects the proxier and a dry-run read share with the sync before are not compared again.
   */
  readonly settled?: SettledPairs;
}

/** Everything one sync computed and did. */
export interface SyncReport {
  readonly desired: DesiredState;
  readonly plan: Plan;
  readonly result: ApplyResult;
  readonly outcome: SyncOutcome;
  readonly nodeIPs: readonly string[];
  /** What the stale UDP flow cleanup after the apply did. */
  readonly udpFlows: FlowDeletion;
}

/** The IP addresses of a Node object, InternalIP ones first (the primary comes first). */
export function nodeObjectIPs(node: Node): string[] {
  const ofType = (type: string) =>
    node.addresses.filter((a) => a.type === type).map((a) => a.address);
  return [...ofType("InternalIP"), ...ofType("ExternalIP")];
}

/**
 * This node's addresses: `--node-ip` when given; else the kernel's (every local address but
 * kube-ipvs0's, loopback and link-local), with the Node object's addresses first so its
 * InternalIP is the primary; else, where the backend knows no addresses (the dry run), the
 * Node object's.
 */
export async function resolveNodeIPs(
  context: SyncContext,
  snapshot: ClusterSnapshot,
): Promise<readonly string[]> {
  if (context.nodeIPFlags.length > 0) return context.nodeIPFlags;
  const node = snapshot.nodes.find((n) => n.name === context.nodeName);
  const fromNode = node ? nodeObjectIPs(node) : [];
  const fromKernel = await context.backend.nodeAddresses();
  if (fromKernel.length === 0) return fromNode;
  const primaries = fromNode.filter((ip) => fromKernel.includes(ip));
  return [...new Set([...primaries, ...fromKernel])];
}

/** The sync contexts that have warned about their missing Node already: the warning is once. */
const warnedMissingNode = new WeakSet<SyncContext>();

/**
 * The warning, once per context, for a node name that has no Node object when no `--node-ip`
 * is given: the Node's InternalIP is what NodePorts (and the primary address) come from in the
 * dry run, and what comes first otherwise.
 */
export function missingNodeWarning(
  context: SyncContext,
  snapshot: ClusterSnapshot,
  nodeIPs: readonly string[],
): string | undefined {
  if (context.nodeIPFlags.length > 0 || warnedMissingNode.has(context)) return undefined;
  if (snapshot.nodes.some((n) => n.name === context.nodeName)) return undefined;
  warnedMissingNode.add(context);
  const effect = nodeIPs.length === 0
    ? "so NodePorts get no virtual servers (no node address is known)"
    : "so NodePorts use the kernel's addresses, with no InternalIP to make primary";
  return `no Node object named ${JSON.stringify(context.nodeName)} and no --node-ip, ${effect}; ` +
    "pass --node-ip or --hostname-override with the Node's name";
}

function countByKind(plan: Plan): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const operation of plan) counts[operation.op] = (counts[operation.op] ?? 0) + 1;
  return counts;
}

/** Runs one full sync of `snapshot` into the backend. */
export async function syncOnce(
  context: SyncContext,
  snapshot: ClusterSnapshot,
): Promise<SyncReport> {
  const now = context.now ?? (() => performance.now());
  const started = now();
  const nodeIPs = await resolveNodeIPs(context, snapshot);
  const kind = context.proxierKind ?? "ipvs";
  const kernelFamilies = context.backend.kernelFamilies?.() ?? [];
  const computed = context.proxier?.update(snapshot, nodeIPs, kernelFamilies) ??
    computeDesiredStateFor(kind, {
      config: context.config,
      snapshot,
      nodeName: context.nodeName,
      nodeIPs,
      kernelFamilies,
    });
  const nodeWarning = missingNodeWarning(context, snapshot, nodeIPs);
  const desired = nodeWarning === undefined
    ? computed
    : { ...computed, warnings: [nodeWarning, ...computed.warnings] };
  const current = await context.backend.read();
  const plan = diffStates(current, desired.state, {
    excludeCIDRs: context.config.ipvs.excludeCIDRs,
    settled: context.settled,
  });
  const result = await context.backend.apply(plan);
  const udpFlows = await cleanStaleUdpFlows(
    context.backend,
    snapshot,
    nodeIPs,
    desired.state.families,
  );
  const outcome: SyncOutcome = {
    durationMs: now() - started,
    operationsByKind: countByKind(plan),
    failures: result.failures.length,
    writes: result.writes + udpFlows.writes,
    iptablesRestoreFailed: result.failures.some((f) => /^ip6?tables-restore/.test(f.tool)),
  };
  return { desired, plan, result, outcome, nodeIPs, udpFlows };
}
