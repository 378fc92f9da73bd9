/**
 * The command line: flags and config in, one sync (or the sync loop) through the chosen
 * backend, the result on stdout. Exit codes: 0 done, 2 bad config or flags, 1 other failure.
 *
 * @module
 */

import { ConfigError, resolveConfig, type ResolvedConfig } from "../config/load.ts";
import { readConfigFile } from "../config/read_config_file.ts";
import type { ProxyConfig } from "../config/types.ts";
import { ManifestError } from "../cluster/manifest_source.ts";
import type { ClusterSource } from "../cluster/source.ts";
import { ApiClusterSource } from "../cluster/api/api_source.ts";
import { recordStartingEvent } from "../cluster/api/events.ts";
import { KubeconfigError } from "../cluster/api/kubeconfig.ts";
import type { ReflectorTuning } from "../cluster/api/reflector.ts";
import { runLoop } from "./run_loop.ts";
import {
  type CliLogging,
  type CliOptions,
  parseFlags,
  USAGE,
  UsageError,
  VERSION,
} from "./flags.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import type { LogClock } from "../log/entry.ts";
import { renderKubeProxyConfiguration } from "../config/serialize.ts";
import { KUBE_PROXY_FLAGS } from "../config/flag_table.ts";
import { planTextChunks, stateJsonChunks } from "../render/plan_text.ts";
import { renderNodePreparationText } from "../render/node_preparation_text.ts";
import { renderIpvsTable } from "../render/ipvs_table.ts";
import { formatSyncLine } from "../sync/sync_loop.ts";
import { type SyncContext, syncOnce, type SyncReport } from "./sync_once.ts";
import { toolInvocations } from "../render/tool_inputs.ts";
import type { Plan } from "../plan/types.ts";
import type { KernelState } from "../state/types.ts";
import { DryRunBackend } from "../../backends/dry_run/dry_run_backend.ts";
import { saveStateFile } from "../../backends/dry_run/state_file.ts";
import { NodePreparationError } from "../../backends/exec/startup.ts";
import type { Backend } from "../../backends/backend.ts";
import type { CommandRunner } from "../../backends/exec/command.ts";
import { failureLine, logSyncProblems } from "./report.ts";
import { cleanupPlan } from "../plan/diff.ts";
import {
  type BackendIo,
  InputError,
  type KernelBackendKind,
  openBackend,
  openCleanupBackend,
} from "./backend_factory.ts";
import type { NodeFiles } from "../../backends/exec/node_preparation.ts";
import type { ProxierKind } from "../proxier/mode.ts";
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
   * How node preparation reads and writes sysctls and files (with `run`, everything a start
   * touches); tests pass a fake so that no test writes the host's `/proc/sys`.
   * @default the node's own
   */
  readonly nodeFiles?: NodeFiles;
  /**
   * The backend without `--backend` and `--dry-run`; tests that fake `run` pass `exec`, since
   * the netlink backend would reach the kernel without it.
   * @default netlink, or exec where this process cannot open a netlink socket
   */
  readonly defaultBackend?: KernelBackendKind;
  /**
   * How long `--once` waits for the API's initial lists.
   * @default {ONCE_LIST_TIMEOUT_MS}
   */
  readonly listTimeoutMs?: number;
  /** The API reflectors' timing (tests make retries fast). */
  readonly reflectorTuning?: ReflectorTuning;
  /**
   * The CPUs the dry run assumes for the conntrack settings it reviews (goldens fix it).
   * @default {navigator.hardwareConcurrency}
   */
  readonly cpus?: number;
  /**
   * The clock and pid of klog's header. With it, log lines are written in klog's text format
   * (or JSON with `--logging-format=json`); without it (tests, harnesses) they stay bare lines,
   * `warning: ` and `error: ` prefixes included, as before.
   */
  readonly logClock?: LogClock;
}

/** The logger for these settings, writing to `io.stderr`. */
function makeLogger(io: CliIo, logging: CliLogging): Logger {
  const format = logging.format === "json" ? "json" : io.logClock === undefined ? "bare" : "text";
  return createLogger({
    format,
    verbosity: logging.verbosity,
    vmodule: logging.vmodule,
    write: io.stderr,
    clock: io.logClock,
  });
}

/** A CliIo whose lines go through a logger, which detail (V(n)) lines can reach. */
type LoggedIo = CliIo & { readonly logger: Logger };

/** `io` with its log lines going through `logger` (severity from the `warning: ` prefix). */
function withLogger(io: CliIo, logger: Logger): LoggedIo {
  return { ...io, stderr: logger.line, logger };
}

/** The detail lines of one sync: the resulting state at V(2), each tool's input at V(4). */
function logSyncDetails(report: SyncReport, io: CliIo): void {
  const logger = (io as Partial<LoggedIo>).logger;
  if (logger === undefined || !logger.v(2).enabled) return;
  const { state } = report.desired;
  logger.v(2).info("Synced", {
    virtualServers: state.virtualServers.length,
    ipsets: state.ipsets.length,
    addresses: state.addresses.length,
    nodeIPs: report.nodeIPs.join(","),
    operations: report.plan.length,
  });
  if (!logger.v(4).enabled) return;
  // kube-proxy's "Finished reconciling conntrack entries" (V(4)), with what was deleted.
  if (report.udpFlows.deleted > 0) {
    logger.v(4).info("Deleted stale UDP conntrack flows", { deleted: report.udpFlows.deleted });
  }
  for (const run of toolInvocations(report.plan)) {
    logger.v(4).info("Tool input", { command: run.argv.join(" "), lines: run.lines.length });
  }
}

/** The value of each action flag (and --master), which CliOptions holds apart. */
function actionFlagValues(options: CliOptions): Record<string, string | boolean> {
  return {
    config: options.configFile,
    writeConfigTo: options.writeConfigTo,
    cleanup: options.cleanup,
    initOnly: options.initOnly,
    version: options.versionRaw ? "raw" : options.version,
    help: options.help,
    master: options.master,
  };
}

/** kube-proxy's `FLAG: --name="value"` lines at V(1): every flag, given or default. */
function logFlags(options: CliOptions, logger: Logger): void {
  const verbose = logger.v(1);
  if (!verbose.enabled) return;
  const given: Record<string, string | boolean | undefined> = {
    ...options.proxyFlags,
    ...actionFlagValues(options),
  };
  for (const flag of KUBE_PROXY_FLAGS) {
    const value = given[flag.key] ?? flag.defaultText;
    verbose.line(`FLAG: --${flag.name}=${JSON.stringify(String(value))}`);
  }
}

/** `--version`: `ipvs-proxy v0.1.0`, or with `--version=raw` a JSON object. */
function printVersion(options: CliOptions, io: CliIo): number {
  io.stdout(
    options.versionRaw
      ? `${
        JSON.stringify({ gitVersion: VERSION, program: "ipvs-proxy", deno: Deno.version.deno })
      }\n`
      : `ipvs-proxy ${VERSION}\n`,
  );
  return 0;
}

/** `--write-config-to FILE`: the resolved config as a KubeProxyConfiguration, then exit 0. */
async function writeConfig(options: CliOptions, config: ProxyConfig, logger: Logger) {
  if (config.healthzBindAddress === "" || config.metricsBindAddress === "") {
    logger.warning(
      'A disabled healthz or metrics server cannot be written: a config file reads "" as ' +
        "the default address, as kube-proxy does",
    );
  }
  try {
    await Deno.writeTextFile(options.writeConfigTo, renderKubeProxyConfiguration(config));
  } catch (error) {
    throw new InputError(
      `${options.writeConfigTo}: cannot write the configuration: ${(error as Error).message}`,
    );
  }
  logger.info("Wrote configuration", { file: options.writeConfigTo });
  return 0;
}

/** `--init-only`: the preflight and node preparation (opening the backend), then exit 0. */
async function initOnly(options: CliOptions, config: ProxyConfig, io: CliIo, logger: Logger) {
  const { choice } = await openBackend(options, config, backendIo(io));
  for (const line of choice.logLines) io.stderr(line);
  logger.info(`Node prepared for ${choice.proxier} mode (--init-only); exiting`);
  return 0;
}

async function resolveFromOptions(
  options: CliOptions,
  io: CliIo,
  requireMode = true,
): Promise<ResolvedConfig> {
  const text = options.configFile === "" ? undefined : await readConfigFile(options.configFile);
  return resolveConfig({
    file: options.configFile,
    text,
    flags: options.proxyFlags,
    env: io.env,
    requireMode,
  });
}

/** Resolves the config, then makes the logger from its `logging` and logs the warnings. */
async function loadConfig(
  options: CliOptions,
  io: CliIo,
  requireMode = true,
): Promise<{ config: ProxyConfig; logger: Logger }> {
  const { config, warnings, details } = await resolveFromOptions(options, io, requireMode);
  const logger = makeLogger(io, config.logging);
  for (const warning of warnings) logger.line(`warning: ${warning}`);
  for (const detail of details) logger.v(2).info(detail);
  return { config, logger };
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
    // The kernel's own version and size where there is one; the dry run prints ipvsadm's usual.
    const info = await backend.ipvsInfo?.();
    const header = info === undefined ? {} : { version: info.version, size: info.tableSize };
    await io.stdout(renderIpvsTable((await backend.read()).virtualServers, header));
  } else {
    for (const chunk of planTextChunks(plan)) await io.stdout(chunk);
  }
}

/**
 * The dry run's review of what a start would do to the node (modprobes, sysctls, conntrack,
 * `ipvsadm --set`, kube-ipvs0), ahead of the sync plan in the text output.
 */
async function printNodePreparation(backend: Backend, options: CliOptions, io: CliIo) {
  if (!(backend instanceof DryRunBackend) || options.output !== "text") return;
  const steps = backend.preparation();
  if (steps.length > 0) await io.stdout(`${renderNodePreparationText(steps)}\n`);
}

function backendIo(io: CliIo): BackendIo {
  return {
    log: io.stderr,
    run: io.run,
    cpus: io.cpus,
    nodeFiles: io.nodeFiles,
    defaultBackend: io.defaultBackend,
  };
}

function nodeNameOf(config: ProxyConfig, io: CliIo): string {
  return config.hostnameOverride || io.hostname().toLowerCase();
}

async function runOnce(
  options: CliOptions,
  config: ProxyConfig,
  source: ClusterSource,
  backend: Backend,
  proxierKind: ProxierKind,
  io: CliIo,
): Promise<number> {
  const { snapshot } = await source.read();
  const context: SyncContext = {
    config,
    backend,
    nodeName: nodeNameOf(config, io),
    nodeIPFlags: options.nodeIPs,
    proxierKind,
  };
  const report = await syncOnce(context, snapshot);
  logSyncProblems(report, io.stderr);
  io.stderr(formatSyncLine(report.outcome));
  logSyncDetails(report, io);
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
  let closeBackend = (): unknown => undefined;
  try {
    // Nothing touches the node before the first complete snapshot: a bad --manifests path or
    // an API server that cannot be listed leaves the node as it was.
    const timeoutMs = options.once ? io.listTimeoutMs ?? ONCE_LIST_TIMEOUT_MS : undefined;
    await waitForSource(source, signal, timeoutMs);
    if (signal.aborted) return 0;
    const { backend, choice } = await openBackend(options, config, backendIo(io));
    for (const line of choice.logLines) io.stderr(line);
    io.stderr(`Backend: ${backend.name}`);
    closeBackend = () => (backend as Partial<Closable>).close?.();
    await printNodePreparation(backend, options, io);
    if (source instanceof ApiClusterSource) {
      const { client } = source;
      // A refused Event (RBAC without `create events`) is a detail, never a failure.
      const debug = (io as Partial<LoggedIo>).logger?.v(2).line ?? (() => {});
      await recordStartingEvent(client, nodeName, io.hostname(), debug);
    }
    if (options.once) return await runOnce(options, config, source, backend, choice.proxier, io);
    return await runLoop({
      config,
      backend,
      proxierKind: choice.proxier,
      nodeName,
      nodeIPFlags: options.nodeIPs,
      source,
      printPlans: backend instanceof DryRunBackend,
      stdout: io.stdout,
      log: io.stderr,
      signal,
    });
  } finally {
    await closeBackend();
    await source.close();
  }
}

/** A backend holding sockets (the netlink backend) that are released at the end of a run. */
interface Closable {
  close(): Promise<void> | void;
}

/**
 * `ipvs.excludeCIDRs` for `--cleanup`, from the config file or flag when given: the virtual
 * servers inside them are not ours. The mode is not checked: cleaning up works whatever it says.
 */
async function cleanupExcludes(
  options: CliOptions,
  io: CliIo,
  logger: Logger,
): Promise<{ excludeCIDRs: readonly string[]; logger: Logger }> {
  if (options.configFile === "" && options.proxyFlags.ipvsExcludeCidrs === undefined) {
    return { excludeCIDRs: [], logger };
  }
  const loaded = await loadConfig(options, io, false);
  return { excludeCIDRs: loaded.config.ipvs.excludeCIDRs, logger: loaded.logger };
}

/** `--cleanup`: remove everything of ours and nothing else; harmless to run twice. */
async function runCleanup(options: CliOptions, rawIo: CliIo, logger: Logger): Promise<number> {
  const excludes = await cleanupExcludes(options, rawIo, logger);
  const { excludeCIDRs } = excludes;
  const io = withLogger(rawIo, excludes.logger);
  const backend = await openCleanupBackend(options, backendIo(io));
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
  let logger = makeLogger(io, { format: "text", verbosity: 0, vmodule: [] });
  try {
    const options = parseFlags(args);
    logger = makeLogger(io, options.logging);
    if (options.help) {
      io.stdout(USAGE);
      return 0;
    }
    if (options.version) return printVersion(options, io);
    logFlags(options, logger);
    // Cleaning up needs no config (like kube-proxy); it only takes excludeCIDRs from one.
    if (options.cleanup) return await runCleanup(options, io, logger);
    const loaded = await loadConfig(options, io);
    logger = loaded.logger;
    if (options.writeConfigTo !== "") return await writeConfig(options, loaded.config, logger);
    const logIo = withLogger(io, logger);
    if (options.initOnly) return await initOnly(options, loaded.config, logIo, logger);
    return await run(options, loaded.config, logIo);
  } catch (error) {
    return reportError(error, logger);
  }
}

/** Logs an error that ended the run and returns the exit code: 2 for bad input, else 1. */
function reportError(error: unknown, logger: Logger): number {
  if (isInputError(error)) {
    logger.line(`error: ${(error as Error).message}`);
    return 2;
  }
  if (
    error instanceof NodePreparationError || error instanceof ListTimeoutError
  ) {
    logger.line(`error: ${error.message}`);
    return 1;
  }
  logger.line(`error: ${oneLine(describe(error))}`);
  return 1;
}
