/**
 * The long-running mode: sync, then keep the kernel in step — every `syncPeriod`, on every
 * manifest change (at most one sync per `minSyncPeriod`), with backoff after a failure — and
 * serve `/healthz`, `/metrics` and each service's health check node port until the signal
 * aborts, after the sync in progress.
 *
 * @module
 */

import type { Backend } from "../../backends/backend.ts";
import type { ProxyConfig } from "../config/types.ts";
import { toKubeProxyConfiguration } from "../config/serialize.ts";
import { healthCheckHostnames } from "../proxier/health_checks.ts";
import { type ModeProxier, proxierForMode } from "../proxier/proxier_for_mode.ts";
import type { ProxierKind } from "../proxier/mode.ts";
import { API_FAMILY, detectFamilies } from "../proxier/node_addresses.ts";
import { planTextChunks } from "../render/plan_text.ts";
import { type Clock, realClock } from "../sync/clock.ts";
import { HealthState, nodeEligible } from "../sync/health_state.ts";
import { startHealthServer, startMetricsServer } from "../sync/http_servers.ts";
import { SyncMetrics } from "../sync/metrics.ts";
import { ServiceHealthServers } from "../sync/service_health_servers.ts";
import { runSyncLoop } from "../sync/sync_loop.ts";
import { syncFailed, type SyncOutcome } from "../sync/sync_outcome.ts";
import { syncOnce, type SyncReport } from "./sync_once.ts";
import type { ClusterSource, EndpointTrigger } from "../cluster/source.ts";
import { NoLocalEndpointsCounter } from "../proxier/no_local_endpoints.ts";
import { SettledPairs } from "../plan/diff.ts";
import { logSyncProblems } from "./report.ts";

/**
 * kube-proxy checks draining real servers (graceful termination) every minute, whatever the
 * sync period; syncing at least that often does the same here (or once per minSyncPeriod, when
 * that is longer).
 */
export const GRACEFUL_TERMINATION_CHECK_MS = 60_000;

/** What the loop needs. */
export interface LoopContext {
  readonly config: ProxyConfig;
  readonly backend: Backend;
  /** The proxier chosen at startup. @default {"ipvs"} */
  readonly proxierKind?: ProxierKind;
  readonly nodeName: string;
  readonly nodeIPFlags: readonly string[];
  /** Where the cluster's objects come from (manifests or the API). */
  readonly source: ClusterSource;
  /** Print each non-empty plan on stdout (the dry-run's live review). */
  readonly printPlans: boolean;
  /** Receives the plans in chunks; a returned promise is awaited before the next chunk. */
  readonly stdout: (text: string) => unknown;
  readonly log: (line: string) => void;
  readonly signal: AbortSignal;
  readonly clock?: Clock;
}

/** Logs the sync's problems; the dry run prints its plan, one tool run at a time. */
async function reportDetails(report: SyncReport, context: LoopContext): Promise<void> {
  logSyncProblems(report, context.log);
  if (!context.printPlans || report.plan.length === 0) return;
  for (const chunk of planTextChunks(report.plan)) await context.stdout(chunk);
}

function startServers(
  config: ProxyConfig,
  proxyMode: ProxierKind,
  health: HealthState,
  metrics: SyncMetrics,
) {
  const servers = [
    startHealthServer(config.healthzBindAddress, health, {
      metrics,
      monotonicOriginMs: performance.timeOrigin,
    }),
    startMetricsServer(config.metricsBindAddress, metrics, {
      // The mode in effect, as kube-proxy's /proxyMode reports it after a fallback.
      proxyMode,
      // kube-proxy's /configz: the configuration in effect, under its group's name.
      configz: () => ({ "kubeproxy.config.k8s.io": toKubeProxyConfiguration(config) }),
    }),
  ];
  return { close: () => Promise.all(servers.map((s) => s?.close())) };
}

/**
 * The healthCheckNodePort servers, started by the first sync: it finds the node's addresses.
 * The checks come from the proxier that computed the sync (it keeps one per service).
 */
function serviceHealthUpdater(
  context: LoopContext,
  health: HealthState,
  proxier: ModeProxier,
) {
  let servers: ServiceHealthServers | undefined;
  return {
    update(nodeIPs: readonly string[]): void {
      const { config, log } = context;
      servers ??= new ServiceHealthServers({
        hostnames: healthCheckHostnames(nodeIPs, config.nodePortAddresses),
        proxyHealthy: () => health.check().healthy,
        log,
      });
      const { checks, warnings } = proxier.healthChecks();
      warnings.forEach((warning) => log(`warning: ${warning}`));
      servers.update(checks);
    },
    close: async () => await servers?.close(),
  };
}

/**
 * kube-proxy's network programming latency: from each changed EndpointSlice's trigger time to
 * the end of the first sync that succeeds after taking it in (a failed sync keeps them).
 */
function networkProgramming(metrics: SyncMetrics, clock: Clock) {
  let waiting: EndpointTrigger[] = [];
  return {
    taken(triggers: readonly EndpointTrigger[]): void {
      waiting.push(...triggers);
    },
    programmed(): void {
      const now = clock.now();
      for (const t of waiting) metrics.observeNetworkProgramming((now - t.timeMs) / 1000, t.family);
      waiting = [];
    },
  };
}

/**
 * The loop's periods: the chosen mode's `syncPeriod` and `minSyncPeriod` (`ipvs.*` or
 * `iptables.*`, as kube-proxy reads them). In IPVS mode the period is at most the draining
 * check's minute; never below minSyncPeriod, which may itself be longer.
 */
export function syncPeriods(
  config: ProxyConfig,
  kind: ProxierKind,
): { syncPeriodMs: number; minSyncPeriodMs: number } {
  if (kind === "iptables") {
    const { syncPeriodMs, minSyncPeriodMs } = config.iptables;
    return { syncPeriodMs: Math.max(minSyncPeriodMs, syncPeriodMs), minSyncPeriodMs };
  }
  const { minSyncPeriodMs } = config.ipvs;
  return {
    syncPeriodMs: Math.max(
      minSyncPeriodMs,
      Math.min(config.ipvs.syncPeriodMs, GRACEFUL_TERMINATION_CHECK_MS),
    ),
    minSyncPeriodMs,
  };
}

/** Runs until `context.signal` aborts; returns the exit code. */
export async function runLoop(context: LoopContext): Promise<number> {
  const clock = context.clock ?? realClock;
  const kind = context.proxierKind ?? "ipvs";
  const { syncPeriodMs, minSyncPeriodMs } = syncPeriods(context.config, kind);
  const health = new HealthState({ clock, syncPeriodMs });
  // kube-proxy labels its sync metrics with the families it programs, the primary first.
  const families = detectFamilies(
    context.nodeIPFlags,
    context.config.clusterCIDRs,
    context.backend.kernelFamilies?.(),
  );
  const metrics = new SyncMetrics({ ipFamilies: families.map((f) => API_FAMILY[f]) });
  const servers = startServers(context.config, kind, health, metrics);
  // One proxier across syncs: in IPVS mode each sync recomputes only the services that changed.
  const proxier = proxierForMode(kind, context.config, context.nodeName);
  const syncContext = { ...context, proxierKind: kind, proxier, settled: new SettledPairs() };
  const noLocalEndpoints = new NoLocalEndpointsCounter(context.nodeName);
  const serviceHealth = serviceHealthUpdater(context, health, proxier);
  const latency = networkProgramming(metrics, clock);
  try {
    await runSyncLoop({
      syncOnce: async (): Promise<SyncOutcome> => {
        const read = await context.source.read();
        const { snapshot, serviceChanges, endpointChanges } = read;
        latency.taken(read.endpointTriggers ?? []);
        const node = snapshot.nodes.find((n) => n.name === context.nodeName);
        // kube-proxy's /healthz answers 503 for a node being deleted or drained by the
        // cluster autoscaler, so load balancers stop sending it traffic.
        health.setNodeEligible(
          nodeEligible({ deleting: node?.deleting ?? false, taintKeys: node?.taintKeys ?? [] }),
        );
        const report = await syncOnce(syncContext, snapshot);
        await reportDetails(report, context);
        serviceHealth.update(report.nodeIPs);
        if (!syncFailed(report.outcome)) latency.programmed();
        for (const counts of noLocalEndpoints.count(snapshot)) {
          metrics.setNoLocalEndpoints(counts);
        }
        return { ...report.outcome, serviceChanges, endpointChanges };
      },
      waitForFirstSnapshot: () => context.source.ready(context.signal),
      subscribe: (onChange) =>
        context.source.subscribe(() => {
          const pending = context.source.pendingChanges?.();
          if (pending) metrics.setPendingChanges(pending);
          onChange();
        }),
      clock,
      syncPeriodMs,
      minSyncPeriodMs,
      signal: context.signal,
      log: context.log,
      metrics,
      health,
    });
  } finally {
    await Promise.all([servers.close(), serviceHealth.close()]);
  }
  return 0;
}
