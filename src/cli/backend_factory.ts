/**
 * Chooses and opens the backend for a run: the dry-run recorder (optionally from a state
 * file), or the exec backend after kube-proxy's preflight checks and node preparation.
 * The kernel work itself stays in `backends/`; this only decides and reports.
 *
 * @module
 */

import type { Backend } from "../../backends/backend.ts";
import { DryRunBackend } from "../../backends/dry_run/dry_run_backend.ts";
import { loadStateFile } from "../../backends/dry_run/state_file.ts";
import { type CommandRunner, runCommand } from "../../backends/exec/command.ts";
import { ExecBackend } from "../../backends/exec/exec_backend.ts";
import {
  ipv6Available,
  ipvsAvailable,
  readTextFileIfExists,
} from "../../backends/exec/kernel_modules.ts";
import type { IptablesFamily } from "../state/types.ts";
import { formatPreflightFailure, preflight } from "../../backends/exec/preflight.ts";
import { applyNodePreparation, onlineCpus } from "../../backends/exec/node_preparation.ts";
import { kernelRelease } from "../../backends/exec/kernel_modules.ts";
import {
  computeNodePreparation,
  modulesOf,
  type NodePreparationConfig,
} from "../node_prep/node_preparation.ts";
import type { ProxyConfig } from "../config/types.ts";
import type { CliOptions } from "./flags.ts";

/** Bad input that must stop the run before anything is applied (exit code 2). */
export class InputError extends Error {}

/** The node cannot run IPVS mode (exit code 1); the message lists what to fix. */
export class PreflightError extends Error {}

/** Which backend the flags ask for: `--backend`, else dry-run with `--dry-run`, else exec. */
export function backendKind(options: CliOptions): "dry-run" | "exec" | "netlink" {
  return options.backend || (options.dryRun ? "dry-run" : "exec");
}

async function openDryRun(options: CliOptions): Promise<DryRunBackend> {
  if (!options.stateFile) return new DryRunBackend();
  try {
    return new DryRunBackend({ initial: await loadStateFile(options.stateFile) });
  } catch (error) {
    // The state file is the user's input, like the config: a bad one is exit code 2.
    throw new InputError((error as Error).message, { cause: error });
  }
}

/** The families the kernel runs: a node booted without IPv6 has no ip6tables to read. */
async function kernelFamilies(): Promise<IptablesFamily[]> {
  return await ipv6Available() ? ["ipv4", "ipv6"] : ["ipv4"];
}

/**
 * The config fields node preparation reads. (`ProxyConfig.conntrack`, once it exists, is
 * passed here as `conntrack`: until then no conntrack setting is touched.)
 */
function nodePreparationConfig(config: ProxyConfig): NodePreparationConfig {
  const c = config.conntrack;
  return {
    ...config.ipvs,
    conntrack: {
      maxPerCore: c.maxPerCore,
      min: c.min,
      tcpEstablishedTimeoutMs: c.tcpEstablishedTimeout,
      tcpCloseWaitTimeoutMs: c.tcpCloseWaitTimeout,
      tcpBeLiberal: c.tcpBeLiberal,
      udpTimeoutMs: c.udpTimeout,
      udpStreamTimeoutMs: c.udpStreamTimeout,
    },
  };
}

/** Checks the node like kube-proxy does, prepares it, and opens the exec backend. */
async function openExec(
  config: ProxyConfig,
  log: (line: string) => void,
  run: CommandRunner,
): Promise<Backend> {
  const steps = computeNodePreparation(nodePreparationConfig(config), {
    cpus: await onlineCpus(),
    kernelRelease: await kernelRelease(run, readTextFileIfExists),
  });
  const report = await preflight({
    scheduler: config.ipvs.scheduler,
    run,
    readTextFile: readTextFileIfExists,
    modules: modulesOf(steps),
  });
  if (!report.ok) throw new PreflightError(formatPreflightFailure(report));
  for (const line of await applyNodePreparation(steps, { run })) log(line);
  return new ExecBackend({ run, families: await kernelFamilies() });
}

/** The backend the flags ask for, refusing one that does not exist yet. */
function availableKind(options: CliOptions): "dry-run" | "exec" {
  const kind = backendKind(options);
  if (kind === "netlink") {
    throw new InputError("the netlink backend is not available yet; use --backend exec");
  }
  return kind;
}

/** Opens the backend a sync run uses; `run` runs the exec backend's tools. */
export async function openBackend(
  options: CliOptions,
  config: ProxyConfig,
  log: (line: string) => void,
  run: CommandRunner = runCommand,
  cpus: number = navigator.hardwareConcurrency,
): Promise<Backend> {
  if (availableKind(options) === "dry-run") {
    const backend = await openDryRun(options);
    // What a start would do to this node, for the dry run to print ahead of the sync plan.
    // Simulated too: kube-ipvs0 then exists, as on a node after its start, and the sync plan
    // does not create it a second time.
    backend.prepareNode(
      computeNodePreparation(nodePreparationConfig(config), { cpus }),
      { simulate: true },
    );
    return backend;
  }
  return await openExec(config, log, run);
}

/**
 * The backend `--cleanup` uses: no preflight (cleaning up must work on a node that cannot run
 * IPVS mode any more), IPVS only where the kernel has it.
 */
export async function openCleanupBackend(
  options: CliOptions,
  run: CommandRunner = runCommand,
): Promise<Backend> {
  if (availableKind(options) === "dry-run") return await openDryRun(options);
  return new ExecBackend({ run, ipvs: await ipvsAvailable(), families: await kernelFamilies() });
}
