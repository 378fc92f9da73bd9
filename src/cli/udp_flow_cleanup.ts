/**
 * The last step of a sync, as in kube-proxy's: the UDP conntrack flows that no serving endpoint
 * answers any more are deleted (`staleUdpFlows`), so a client that keeps its source port is
 * scheduled afresh by its next packet. Only backends with a kernel do it (the dry run has no
 * flows), for the families the sync managed.
 *
 * @module
 */

import type { Backend, FlowDeletion } from "../../backends/backend.ts";
import type { ClusterSnapshot } from "../cluster/types.ts";
import type { IptablesFamily } from "../state/types.ts";
import { staleUdpFlows, udpServiceTargets } from "../proxier/udp_flows.ts";

/** Nothing to delete, nothing wrong. */
export const NO_FLOW_DELETION: FlowDeletion = { deleted: 0, problems: [], writes: 0 };

/**
 * Lists each family's UDP flows and deletes the stale ones; a family whose flows cannot be
 * listed is a problem reported, never a failed sync (the rules are already in place).
 */
export async function cleanStaleUdpFlows(
  backend: Backend,
  snapshot: ClusterSnapshot,
  nodeIPs: readonly string[],
  families: readonly IptablesFamily[],
): Promise<FlowDeletion> {
  const table = backend.udpFlows;
  if (table === undefined) return NO_FLOW_DELETION;
  let deleted = 0;
  let writes = 0;
  const problems: string[] = [];
  for (const family of families) {
    const targets = udpServiceTargets(snapshot, family, nodeIPs);
    if (targets.byAddress.size === 0 && targets.byNodePort.size === 0) continue;
    try {
      const stale = staleUdpFlows(await table.list(family), targets);
      if (stale.length === 0) continue;
      const result = await table.delete(stale);
      deleted += result.deleted;
      writes += result.writes;
      problems.push(...result.problems);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  return { deleted, problems, writes };
}
