/**
 * The proxier a sync loop holds across syncs, for the mode chosen at startup: IPVS mode's
 * incremental proxier (each sync recomputes only what changed), or iptables mode's full
 * computation (kube-proxy's iptables proxier also rewrites every chain each full sync).
 * Both also answer for the healthCheckNodePort servers of their last update.
 *
 * @module
 */

import type { ProxyConfig } from "../config/types.ts";
import type { ClusterSnapshot } from "../cluster/types.ts";
import type { IptablesFamily } from "../state/types.ts";
import type { DesiredState, ProxierInput } from "./desired_state.ts";
import { computeServiceHealthChecks, type ServiceHealthChecks } from "./health_checks.ts";
import { type DesiredStateComputer, IncrementalProxier } from "./incremental.ts";
import { computeDesiredStateFor, type ProxierKind } from "./mode.ts";

/** What a sync loop asks of its proxier. */
export interface ModeProxier extends DesiredStateComputer {
  /** The proxier kind, as chosen at startup. */
  readonly kind: ProxierKind;
  /** The health checks of the last update (none before the first). */
  healthChecks(): ServiceHealthChecks;
}

/** Computes the whole desired state on every update; remembers the input for health checks. */
export class FullProxier implements ModeProxier {
  #last: ProxierInput | undefined;

  /** A proxier of `kind` for one node's config and name. */
  constructor(
    readonly kind: ProxierKind,
    readonly config: ProxyConfig,
    readonly nodeName: string,
  ) {}

  /** The complete desired state of `snapshot`. */
  update(
    snapshot: ClusterSnapshot,
    nodeIPs: readonly string[],
    kernelFamilies: readonly IptablesFamily[] = [],
  ): DesiredState {
    this.#last = {
      config: this.config,
      snapshot,
      nodeName: this.nodeName,
      nodeIPs,
      kernelFamilies,
    };
    return computeDesiredStateFor(this.kind, this.#last);
  }

  /** The health checks of the last update's snapshot. */
  healthChecks(): ServiceHealthChecks {
    if (this.#last === undefined) return { checks: [], warnings: [] };
    return computeServiceHealthChecks(this.#last);
  }
}

/** IPVS mode's incremental proxier, tagged with its kind. */
class IncrementalIpvsProxier extends IncrementalProxier implements ModeProxier {
  readonly kind = "ipvs";
}

/**
 * The proxier for `kind`: incremental in IPVS mode, a full computation in iptables mode.
 *
 * @example
 * ```ts
 * import { testConfig } from "./testing.ts";
 * const proxier = proxierForMode("iptables", testConfig(), "node-a");
 * proxier.healthChecks(); // { checks: [], warnings: [] } before the first update
 * ```
 */
export function proxierForMode(
  kind: ProxierKind,
  config: ProxyConfig,
  nodeName: string,
): ModeProxier {
  return kind === "ipvs"
    ? new IncrementalIpvsProxier(config, nodeName)
    : new FullProxier(kind, config, nodeName);
}
