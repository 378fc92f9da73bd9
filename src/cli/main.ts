/**
 * The command line: flags and config in, one sync (or the sync loop) through the chosen
 * backend, the result on stdout. Exit codes: 0 done, 2 bad config or flags, 1 other failure.
 *
 * @module
 */

import { ConfigError, resolveConfig } from "../config/load.ts";
import { readConfigFile } from "../config/read_config_file.ts";
import type { ProxyConfig } from "../config/types.ts";
import { ManifestError } from "../cluster/manifest_source.ts";
import type { ClusterSource } from "../cluster/source.ts";
import { ApiClusterSource } from "../cluster/api/api_source.ts";
import { recordStartingEvent } from "../cluster/api/events.ts";
import { KubeconfigError } from "../cluster/api/kubeconfig.ts";
import type { ReflectorTuning } from "../cluster/api/reflector.ts";
import { runLoop } from "./run_loop.ts";
import { type CliOptions, parseFlags, USAGE, UsageError } from "./flags.ts";
import { planTextChunks, stateJsonChunks } from "../render/plan_text.ts";
import { renderIpvsTable } from "../render/ipvs_table.ts";
import { formatSyncLine } from "../sync/sync_loop.ts";
import { type SyncContext, syncOnce } from "./sync_once.ts";
import type { Plan } from "../plan/types.ts";
import type { KernelState } from "../state/types.ts";
import { DryRunBackend } from "../../backends/dry_run/dry_run_backend.ts";
import { saveStateFile } from "../../backends/dry_run/state_file.ts";
import { NodePreparationError } from "../../backends/exec/startup.ts";
import type { Backend } from "../../backends/backend.ts";
import type { CommandRunner } from "../../backends/exec/command.ts";
import { failureLine, logSyncProblems } from "./report.ts";
import { cleanupPlan } from "../plan/diff.ts";
import { InputError, openBackend, openCleanupBackend, PreflightError } from "./backend_factory.ts";
import {
  ListTimeoutError,
  ONCE_LIST_TIMEOUT_MS,
  openClusterSource,
  waitForSource,
} from "./cluster_source.ts";

/** Where the CLI writes; injectable so tests capture output. */
export interface CliIo {
  /**
   * Receives results (the plan, the table, the JSON), as text chunks; a returned promise is
   * awaited before the next chunk is made, so a large result streams instead of piling up.
   */
  readonly stdout: (text: string) => unknown;
  /** Receives log lines, one call per line. */
  readonly stderr: (line: string) => void;
  /** The environment (`KUBE_PROXY_MODE`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The host name, used when neither `--hostname-override` nor the config names the node. */
  readonly hostname: () => string;
  /** Aborted on SIGINT/SIGTERM: the loop ends after the sync in progress. */
  readonly signal?: AbortSignal;
  /**
   * Runs the exec backend's tools: the preflight, node preparation, every sync and
   * `--cleanup`. Tests pass a fake so that nothing reaches the host's kernel.
   * @default {runCommand}
   */
  readonly run?: CommandRunner;
  /**
   * How long `--once` waits for the API's initial lists.
   * @default {ONCE_LIST_TIMEOUT_MS}
   */
  readonly listTimeoutMs?: number;
  /** The API reflectors' timing (tests make retries fast). */
  readonly reflectorTuning?: ReflectorTuning;
}

async function loadConfig(options: CliOptions, io: CliIo): Promise<ProxyConfig> {
  const text = options.configFile === "" ? undefined : await readConfigFile(options.configFile);
  const { config, warnings } = resolveConfig({
    file: options.configFile,
    text,
    flags: options.proxyFlags,
    env: io.env,
  });
  for (const warning of warnings) io.stderr(`warning: ${warning}`);
  return config;
}

/**
 * Prints a run's result in the `--output` format: the plan as review text, the kernel's
 * virtual servers as a table, or one JSON object of `state` (read only when printed) and the plan.
 */
async function printResult(
  plan: Plan,
  state: () => Promise<KernelState>,
  backend: Backend,
  options: CliOptions,
  io: CliIo,
): Promise<void> {
  if (options.output === "json") {
    const chunks = stateJsonChunks(await state(), plan);
    for (const chunk of chunks) await io.stdout(chunk);
  } else if (options.output === "table") {
    await io.stdout(renderIpvsTable((await backend.read()).virtualServers));
  } else {
    for (const chunk of planTextChunks(plan)) await io.stdout(chunk);
  }
}

function nodeNameOf(config: ProxyConfig, io: CliIo): string {
  return config.hostnameOverride || io.hostname().toLowerCase();
}

async function runOnce(
  options: CliOptions,
  config: ProxyConfig,
  source: ClusterSource,
  backend: Backend,
  io: CliIo,
): Promise<number> {
  const { snapshot } = await source.read();
  const context: SyncContext = {
    config,
    backend,
    nodeName: nodeNameOf(config, io),
    nodeIPFlags: options.nodeIPs,
  };
  const report = await syncOnce(context, snapshot);
  logSyncProblems(report, io.stderr);
  io.stderr(formatSyncLine(report.outcome));
  if (options.stateFile && backend instanceof DryRunBackend) {
    await saveStateFile(options.stateFile, backend.state());
  }
  await printResult(report.plan, () => Promise.resolve(report.desired.state), backend, options, io);
  return report.result.failures.length > 0 ? 1 : 0;
}

async function run(options: CliOptions, config: ProxyConfig, io: CliIo): Promise<number> {
  const nodeName = nodeNameOf(config, io);
  const source = openClusterSource({
    manifests: options.manifests,
    config,
    master: options.master,
    nodeName,
    env: io.env,
    log: io.stderr,
    tuning: io.reflectorTuning,
  });
  const signal = io.signal ?? new AbortController().signal;
  try {
    // Nothing touches the node before the first complete snapshot: a bad --manifests path or
    // an API server that cannot be listed leaves the node as it was.
    const timeoutMs = options.once ? io.listTimeoutMs ?? ONCE_LIST_TIMEOUT_MS : undefined;
    await waitForSource(source, signal, timeoutMs);
    if (signal.aborted) return 0;
    const backend = await openBackend(options, config, io.stderr, io.run);
    io.stderr("Using ipvs Proxier.");
    if (source instanceof ApiClusterSource) {
      const { client } = source;
      await recordStartingEvent(client, nodeName, io.hostname(), (line) => io.stderr(line));
    }
    if (options.once) return await runOnce(options, config, source, backend, io);
    return await runLoop({
      config,
      backend,
      nodeName,
      nodeIPFlags: options.nodeIPs,
      source,
      printPlans: backend instanceof DryRunBackend,
      stdout: io.stdout,
      log: io.stderr,
      signal,
    });
  } finally {
    await source.close();
  }
}

/**
 * `ipvs.excludeCIDRs` for `--cleanup`, from the config file or flag when given: the virtual
 * servers inside them are not ours. The mode is not checked: cleaning up works whatever it says.
 */
async function cleanupExcludes(options: CliOptions, io: CliIo): Promise<readonly string[]> {
  if (options.configFile === "" && options.proxyFlags.ipvsExcludeCidrs === undefined) return [];
  const proxyFlags = { ...options.proxyFlags, proxyMode: "ipvs" };
  return (await loadConfig({ ...options, proxyFlags }, io)).ipvs.excludeCIDRs;
}

/** `--cleanup`: remove everything of ours and nothing else; harmless to run twice. */
async function runCleanup(options: CliOptions, io: CliIo): Promise<number> {
  const excludeCIDRs = await cleanupExcludes(options, io);
  const backend = await openCleanupBackend(options, io.run);
  const plan = cleanupPlan(await backend.read(), { excludeCIDRs });
  const result = await backend.apply(plan);
  for (const failure of result.failures) io.stderr(failureLine(failure));
  io.stderr(`cleanup: ${plan.length} operations, ${result.failures.length} failures`);
  if (options.stateFile && backend instanceof DryRunBackend) {
    await saveStateFile(options.stateFile, backend.state());
  }
  await printResult(plan, () => backend.read(), backend, options, io);
  return result.failures.length > 0 ? 1 : 0;
}

function isInputError(error: unknown): boolean {
  return error instanceof UsageError || error instanceof ConfigError ||
    error instanceof ManifestError || error instanceof InputError ||
    error instanceof KubeconfigError;
}

/** An unexpected error's message and its causes, without a stack trace. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause === undefined ? error.message : `${error.message} (${describe(error.cause)})`;
}

function oneLine(text: string): string {
  return text.trim().replaceAll(/\s*\n\s*/g, " | ");
}

/** Runs the command line; returns the exit code. */
export async function main(args: readonly string[], io: CliIo): Promise<number> {
  try {
    const options = parseFlags(args);
    if (options.help) {
      io.stdout(USAGE);
      return 0;
    }
    // Cleaning up needs no config (like kube-proxy); it only takes excludeCIDRs from one.
    if (options.cleanup) return await runCleanup(options, io);
    const config = await loadConfig(options, io);
    return await run(options, config, io);
  } catch (error) {
    if (isInputError(error)) {
      io.stderr(`error: ${(error as Error).message}`);
      return 2;
    }
    if (
      error instanceof PreflightError || error instanceof NodePreparationError ||
      error instanceof ListTimeoutError
    ) {
      io.stderr(`error: ${error.message}`);
      return 1;
    }
    io.stderr(`error: ${oneLine(describe(error))}`);
    return 1;
  }
}
