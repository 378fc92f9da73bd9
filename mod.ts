/**
 * ipvs-proxy: kube-proxy's IPVS mode, re-implemented in TypeScript for Deno.
 *
 * Three steps, in three places: {@linkcode computeDesiredState} turns a config and a cluster
 * snapshot into the kernel state a node needs (pure), {@linkcode diffStates} turns the
 * kernel's current state and that desired state into a minimal plan (pure), and a
 * {@linkcode Backend} applies the plan (the only code that touches the kernel).
 *
 * Run as a program it is the command line:
 *
 * ```sh
 * deno run -A mod.ts --config examples/kubeadm.yaml --manifests examples/cluster --dry-run --once
 * ```
 *
 * @example Compute a plan without touching anything
 * ```ts
 * import { computeDesiredState, diffStates, DryRunBackend, loadManifests, renderPlanText, resolveConfig } from "./mod.ts";
 *
 * const { config } = resolveConfig({ file: "", text: undefined, flags: { proxyMode: "ipvs" }, env: {} });
 * const { snapshot } = await loadManifests(["examples/cluster"]);
 * const { state } = computeDesiredState({ config, snapshot, nodeName: "node-a", nodeIPs: ["192.168.0.10"] });
 * const backend = new DryRunBackend();
 * const plan = diffStates(await backend.read(), state, { excludeCIDRs: config.ipvs.excludeCIDRs });
 * console.log(renderPlanText(plan));
 * ```
 *
 * @module
 */

export type * from "./src/config/types.ts";
export type * from "./src/cluster/types.ts";
export type * from "./src/state/types.ts";
export type * from "./src/plan/types.ts";
export type * from "./backends/backend.ts";
export type { CommandResult, CommandRunner, RunOptions } from "./backends/exec/command.ts";
export type { ApplyNodePreparationOptions, NodeFiles } from "./backends/exec/node_preparation.ts";

export { ConfigError, resolveConfig } from "./src/config/load.ts";
export type { ProxyFlagOverrides, ResolveConfigInput, ResolvedConfig } from "./src/config/load.ts";
export { KUBE_PROXY_FLAG_ROWS, KUBE_PROXY_FLAGS } from "./src/config/flag_table.ts";
export type {
  FlagEffect,
  FlagRole,
  FlagType,
  KubeProxyFlag,
  KubeProxyFlagRow,
  ProxyFlagKey,
} from "./src/config/flag_table.ts";
export type { LogClock } from "./src/log/entry.ts";
export { loadManifests, ManifestError, watchManifests } from "./src/cluster/manifest_source.ts";
export type {
  LoadedManifests,
  ManifestWatcher,
  WatchOptions,
} from "./src/cluster/manifest_source.ts";
export type { ClusterSource, EndpointTrigger, SnapshotRead } from "./src/cluster/source.ts";
export { ApiClusterSource, PROXY_LABEL_SELECTOR } from "./src/cluster/api/api_source.ts";
export type { ApiSourceOptions, Resource } from "./src/cluster/api/api_source.ts";
export { ApiClient, ApiStatusError } from "./src/cluster/api/api_client.ts";
export type { ApiClientOptions, WatchEvent } from "./src/cluster/api/api_client.ts";
export { resolveConnection } from "./src/cluster/api/connection.ts";
export type { ConnectionInput } from "./src/cluster/api/connection.ts";
export { KubeconfigError, loadKubeconfig } from "./src/cluster/api/kubeconfig.ts";
export type { ApiConnection, KubeconfigOptions, ReadText } from "./src/cluster/api/kubeconfig.ts";
export { CredentialProvider } from "./src/cluster/api/credentials.ts";
export type {
  CredentialIo,
  Credentials,
  ExecCredential,
  ExecPlugin,
} from "./src/cluster/api/credentials.ts";
export type { TlsSettings } from "./src/cluster/api/transport.ts";
export type {
  ChangeListener,
  RawObject,
  ReflectorTuning,
  ResourceSpec,
} from "./src/cluster/api/reflector.ts";
export { Reflector } from "./src/cluster/api/reflector.ts";
export { IncrementalProxier } from "./src/proxier/incremental.ts";
export type { DesiredStateComputer, UpdateSummary } from "./src/proxier/incremental.ts";
export type { ServiceHealthCheck, ServiceHealthChecks } from "./src/proxier/health_checks.ts";
export { computeDesiredState } from "./src/proxier/desired_state.ts";
export type { DesiredState, ProxierInput } from "./src/proxier/desired_state.ts";
export { cleanupPlan, diffStates, SettledPairs } from "./src/plan/diff.ts";
export type { DiffOptions } from "./src/plan/diff.ts";
export {
  planTextChunks,
  renderPlanText,
  renderStateJson,
  stateJsonChunks,
} from "./src/render/plan_text.ts";
export type { PlanTextOptions } from "./src/render/plan_text.ts";
export { renderIpvsTable } from "./src/render/ipvs_table.ts";
export type { IpvsTableOptions } from "./src/render/ipvs_table.ts";
export { DryRunBackend } from "./backends/dry_run/dry_run_backend.ts";
export { main } from "./src/cli/main.ts";
export type { CliIo } from "./src/cli/main.ts";
export type { KernelBackendKind } from "./src/cli/backend_factory.ts";

import { main } from "./src/cli/main.ts";

async function writeAll(stream: { write(p: Uint8Array): Promise<number> }, text: string) {
  let bytes = new TextEncoder().encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(await stream.write(bytes));
}

/** SIGINT and SIGTERM end the sync loop after the sync in progress. */
function stopSignal(): AbortSignal {
  const controller = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => controller.abort());
  }
  return controller.signal;
}

if (import.meta.main) {
  let output = Promise.resolve();
  const code = await main(Deno.args, {
    signal: stopSignal(),
    // Each chunk is written before the next is made: a large result streams.
    stdout: (text) => output = output.then(() => writeAll(Deno.stdout, text)),
    stderr: (line) => console.error(line),
    // klog's header: the wall clock with microseconds, and this process's id.
    logClock: { now: () => performance.timeOrigin + performance.now(), pid: Deno.pid },
    env: Deno.env.toObject(),
    hostname: () => Deno.hostname(),
  });
  await output;
  Deno.exit(code);
}
