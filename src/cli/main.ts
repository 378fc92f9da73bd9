/**
 * The command line: flags and config in, one sync (or the sync loop) through the chosen
 * backend, the result on stdout. Exit codes: 0 done, 2 bad config or flags, 1 other failure.
 *
 * @module
 */

import { ConfigError, resolveConfig } from "../config/load.ts";
import { readConfigFile } from "../config/read_config_file.ts";
import type { ProxyConfig } from "../config/types.ts";
import { loadManifests, ManifestError } from "../cluster/manifest_source.ts";
import type { ClusterSnapshot } from "../cluster/types.ts";
import { formatObjectWarning } from "../cluster/object_warning.ts";
import { runLoop } from "./run_loop.ts";
import { type CliOptions, parseFlags, USAGE, UsageError } from "./flags.ts";
import { renderPlanText, renderStateJson } from "../render/plan_text.ts";
import { renderIpvsTable } from "../render/ipvs_table.ts";
import { formatSyncLine } from "../sync/sync_loop.ts";
import { type SyncContext, syncOnce, type SyncReport } from "./sync_once.ts";
import { DryRunBackend } from "../../backends/dry_run/dry_run_backend.ts";
import { loadStateFile, saveStateFile } from "../../backends/dry_run/state_file.ts";
import type { Backend } from "../../backends/backend.ts";

/** Where the CLI writes; injectable so tests capture output. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (line: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The host name, used when neither `--hostname-override` nor the config names the node. */
  readonly hostname: () => string;
  /** Aborted on SIGINT/SIGTERM: the loop ends after the sync in progress. */
  readonly signal?: AbortSignal;
}

/** An error the CLI reports with exit code 2 (bad input: nothing was applied). */
class InputError extends Error {}

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

async function loadCluster(options: CliOptions, io: CliIo): Promise<ClusterSnapshot> {
  const { snapshot, warnings } = await loadManifests(options.manifests);
  for (const warning of warnings) io.stderr(`warning: ${formatObjectWarning(warning)}`);
  return snapshot;
}

async function createBackend(options: CliOptions): Promise<Backend> {
  const kind = options.backend || (options.dryRun ? "dry-run" : "exec");
  if (kind !== "dry-run") {
    throw new InputError(
      `the ${kind} backend is not available yet; use --dry-run to review the plan`,
    );
  }
  const initial = options.stateFile ? await loadStateFile(options.stateFile) : undefined;
  return new DryRunBackend({ initial });
}

function printResult(report: SyncReport, backendState: Backend, options: CliOptions, io: CliIo) {
  if (options.output === "json") {
    io.stdout(renderStateJson(report.desired.state, report.plan));
  } else if (options.output === "table") {
    return backendState.read().then((state) => io.stdout(renderIpvsTable(state.virtualServers)));
  } else {
    io.stdout(renderPlanText(report.plan));
  }
}

function nodeNameOf(config: ProxyConfig, io: CliIo): string {
  return config.hostnameOverride || io.hostname().toLowerCase();
}

async function runOnce(
  options: CliOptions,
  config: ProxyConfig,
  backend: Backend,
  io: CliIo,
): Promise<number> {
  const snapshot = await loadCluster(options, io);
  const context: SyncContext = {
    config,
    backend,
    nodeName: nodeNameOf(config, io),
    nodeIPFlags: options.nodeIPs,
  };
  const report = await syncOnce(context, snapshot);
  for (const warning of report.desired.warnings) io.stderr(`warning: ${warning}`);
  for (const failure of report.result.failures) {
    io.stderr(
      `error: ${failure.tool}: ${failure.message} (input: ${JSON.stringify(failure.line)})`,
    );
  }
  io.stderr(formatSyncLine(report.outcome));
  if (options.stateFile && backend instanceof DryRunBackend) {
    await saveStateFile(options.stateFile, backend.state());
  }
  await printResult(report, backend, options, io);
  return report.result.failures.length > 0 ? 1 : 0;
}

async function run(options: CliOptions, config: ProxyConfig, io: CliIo): Promise<number> {
  if (options.manifests.length === 0) {
    throw new InputError("no cluster objects: give --manifests PATH (a file or directory)");
  }
  const backend = await createBackend(options);
  io.stderr("Using ipvs Proxier.");
  if (options.once) return await runOnce(options, config, backend, io);
  return await runLoop({
    config,
    backend,
    nodeName: nodeNameOf(config, io),
    nodeIPFlags: options.nodeIPs,
    manifests: options.manifests,
    printPlans: backend instanceof DryRunBackend,
    stdout: io.stdout,
    log: io.stderr,
    signal: io.signal ?? new AbortController().signal,
  });
}

function isInputError(error: unknown): boolean {
  return error instanceof UsageError || error instanceof ConfigError ||
    error instanceof ManifestError || error instanceof InputError;
}

/** Runs the command line; returns the exit code. */
export async function main(args: readonly string[], io: CliIo): Promise<number> {
  try {
    const options = parseFlags(args);
    if (options.help) {
      io.stdout(USAGE);
      return 0;
    }
    const config = await loadConfig(options, io);
    return await run(options, config, io);
  } catch (error) {
    if (isInputError(error)) {
      io.stderr(`error: ${(error as Error).message}`);
      return 2;
    }
    io.stderr(`error: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    return 1;
  }
}
