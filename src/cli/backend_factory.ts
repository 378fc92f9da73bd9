/**
 * Chooses and opens the backend for a run: the dry-run recorder (optionally from a state
 * file), or a kernel backend (netlink by default, exec with `--backend exec` or where netlink
 * cannot run) after kube-proxy's preflight checks and node preparation; and
 * with it the proxier, since whether IPVS mode can run is what the preflight finds out.
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
import {
  formatPreflightFailure,
  preflight,
  type PreflightCheck,
} from "../../backends/exec/preflight.ts";
import { ipvsPreflightChecks, NetlinkIpvs } from "../../backends/netlink/ipvs.ts";
import { rtnetlinkDummyLink } from "../../backends/netlink/dummy_link.ts";
import { NetlinkBackend } from "../../backends/netlink/netlink_backend.ts";
import { netlinkUnavailable } from "../../backends/netlink/support.ts";
import { ipsetSubsystemAvailable } from "../../backends/netlink/ipset.ts";
import {
  applyNodePreparation,
  type NodeFiles,
  onlineCpus,
} from "../../backends/exec/node_preparation.ts";
import { kernelRelease } from "../../backends/exec/kernel_modules.ts";
import {
  computeIptablesNodePreparation,
  computeNodePreparation,
  modulesOf,
  type NodePreparationConfig,
  type NodePreparationStep,
} from "../node_prep/node_preparation.ts";
import { chooseProxier, type ProxierChoice } from "../proxier/mode.ts";
import type { ProxyConfig } from "../config/types.ts";
import type { CliOptions } from "./flags.ts";

/** Bad input that must stop the run before anything is applied (exit code 2). */
export class InputError extends Error {}

/** A backend that reaches a real kernel. */
export type KernelBackendKind = "exec" | "netlink";

/**
 * Which backend a run uses: `--backend`, else dry-run with `--dry-run`, else the default:
 * netlink where this process can open a netlink socket (`unavailable` says why not), else exec
 * with a warning saying why. A `preferred` exec skips the probe.
 */
export function backendKind(
  options: CliOptions,
  preferred: KernelBackendKind = "netlink",
  unavailable: () => string | undefined = netlinkUnavailable,
): { kind: "dry-run" | KernelBackendKind; warning?: string } {
  const named = options.backend || (options.dryRun ? "dry-run" : "");
  if (named !== "") return { kind: named };
  if (preferred === "exec") return { kind: "exec" };
  const why = unavailable();
  if (why === undefined) return { kind: "netlink" };
  return {
    kind: "exec",
    warning: `The netlink backend cannot run in this process (${why}); ` +
      "using the exec backend (ipvsadm, ipset, iptables-restore, ip)",
  };
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

/** The config fields node preparation reads: `ipvs.*` and `conntrack.*`, in its units. */
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

/** What opening a backend may touch besides the flags and the config. */
export interface BackendIo {
  /** Where startup's lines go (node preparation, preflight warnings). */
  readonly log: (line: string) => void;
  /**
   * Runs the exec backend's tools.
   * @default {runCommand}
   */
  readonly run?: CommandRunner;
  /**
   * The CPUs the dry run's conntrack figures assume.
   * @default {navigator.hardwareConcurrency}
   */
  readonly cpus?: number;
  /**
   * How node preparation reads and writes sysctls and files.
   * @default the node's own `/proc/sys` and files
   */
  readonly nodeFiles?: NodeFiles;
  /**
   * The backend used without `--backend` and `--dry-run`. Tests that fake `run` say `exec`, so
   * that nothing reaches the host's kernel past their fake.
   * @default netlink, or exec where this process cannot open a netlink socket
   */
  readonly defaultBackend?: KernelBackendKind;
}

/** What a start opened: the backend, and the proxier chosen for the node (with its log lines). */
export interface OpenedBackend {
  /** The backend every sync reads and writes through. */
  readonly backend: Backend;
  /** IPVS or iptables mode, as the seed decides it, and the lines to log for it. */
  readonly choice: ProxierChoice;
}

/** Whether `argv` runs and exits 0 (a missing program gives code 127). */
async function succeeds(run: CommandRunner, argv: readonly string[]): Promise<boolean> {
  try {
    return (await run(argv)).code === 0;
  } catch {
    return false;
  }
}

/**
 * The IPVS-mode preflight: whether IPVS can run here. When it cannot, the reasons are logged as
 * a warning ahead of the seed's fallback lines, so an operator knows what to fix.
 */
async function ipvsUsable(
  config: ProxyConfig,
  ipvsSteps: readonly NodePreparationStep[],
  io: BackendIo,
  ipvsChecks?: (scheduler: string) => Promise<PreflightCheck[]>,
): Promise<boolean> {
  const report = await preflight({
    scheduler: config.ipvs.scheduler,
    run: io.run ?? runCommand,
    readTextFile: readTextFileIfExists,
    modules: modulesOf(ipvsSteps),
    ...(ipvsChecks ? { ipvsChecks } : {}),
  });
  if (!report.ok) io.log(`warning: ${formatPreflightFailure(report)}`);
  return report.ok;
}

/**
 * What both kernel backends start with: the preflight decides the mode as the seed says
 * (`ipvsChecks`: how IPVS itself is checked, by default through the tools), and the node
 * preparation of that mode.
 */
async function chooseMode(
  config: ProxyConfig,
  io: BackendIo,
  ipvsChecks?: (scheduler: string) => Promise<PreflightCheck[]>,
): Promise<{ choice: ProxierChoice; steps: NodePreparationStep[] }> {
  const run = io.run ?? runCommand;
  const prepConfig = nodePreparationConfig(config);
  const facts = {
    cpus: await onlineCpus(),
    kernelRelease: await kernelRelease(run, readTextFileIfExists),
  };
  const ipvsSteps = computeNodePreparation(prepConfig, facts);
  const usable = config.mode === "ipvs" && await ipvsUsable(config, ipvsSteps, io, ipvsChecks);
  const choice = chooseProxier(config.mode, usable);
  const steps = choice.proxier === "ipvs"
    ? ipvsSteps
    : computeIptablesNodePreparation(prepConfig, facts);
  return { choice, steps };
}

/**
 * The exec backend for iptables mode: IPVS and the sets are read only where the kernel and the
 * tools have them, so the other mode's leftovers are cleaned up where they can exist and a
 * node without IPVS or `ipset` syncs all the same.
 */
async function openIptablesExec(run: CommandRunner): Promise<ExecBackend> {
  const [ipvs, ipsets, families] = await Promise.all([
    (async () => await ipvsAvailable() && await succeeds(run, ["ipvsadm", "-Sn"]))(),
    succeeds(run, ["ipset", "--version"]),
    kernelFamilies(),
  ]);
  return new ExecBackend({ run, ipvs, ipsets, families });
}

/**
 * Chooses the proxier as kube-proxy does (`mode: ipvs` needs its preflight to pass, else it
 * falls back to iptables mode), prepares the node for it, and opens the exec backend.
 */
async function openExec(config: ProxyConfig, io: BackendIo): Promise<OpenedBackend> {
  const { log, run = runCommand } = io;
  const { choice, steps } = await chooseMode(config, io);
  for (const line of await applyNodePreparation(steps, { ...io.nodeFiles, run })) log(line);
  const backend = choice.proxier === "ipvs"
    ? new ExecBackend({ run, families: await kernelFamilies() })
    : await openIptablesExec(run);
  return { backend, choice };
}

/** The IPVS client over generic netlink, or none where the kernel has no IPVS. */
async function openNetlinkIpvs(): Promise<NetlinkIpvs | undefined> {
  const opened = await NetlinkIpvs.open();
  return opened.ok ? opened.client : undefined;
}

/**
 * The same start through netlink: the preflight checks IPVS and the scheduler over generic
 * netlink (no `ipset` or `ipvsadm` needed), the IPVS timeouts are set through it,
 * `kube-ipvs0` is created through rtnetlink (no `ip` needed), and the backend reads and
 * writes IPVS, sets and addresses over netlink (iptables stays `iptables-restore`). In
 * iptables mode IPVS and the sets are read only where the kernel has them.
 */
async function openNetlink(config: ProxyConfig, io: BackendIo): Promise<OpenedBackend> {
  const { log, run = runCommand } = io;
  const { choice, steps } = await chooseMode(config, io, ipvsPreflightChecks);
  const ipvs = await openNetlinkIpvs();
  if (choice.proxier === "ipvs" && ipvs === undefined) {
    throw new Error("the IPVS generic netlink family went away after the preflight");
  }
  const setIpvsTimeouts = ipvs === undefined
    ? undefined
    : (s: readonly [number, number, number]) =>
      ipvs.setTimeouts({ tcp: s[0], tcpFin: s[1], udp: s[2] });
  const prepared = await applyNodePreparation(steps, {
    ...io.nodeFiles,
    run,
    ...(setIpvsTimeouts ? { setIpvsTimeouts } : {}),
    ensureDummyLink: rtnetlinkDummyLink(),
  });
  for (const line of prepared) log(line);
  const backend = new NetlinkBackend({
    ...(ipvs ? { ipvsClient: ipvs } : {}),
    ipvs: ipvs !== undefined,
    // iptables mode on a kernel without ip_set still syncs (as the exec backend without ipset).
    ipsets: choice.proxier === "ipvs" || await ipsetSubsystemAvailable(),
    run,
    families: await kernelFamilies(),
  });
  return { backend, choice };
}

/**
 * Opens the backend a sync run uses and chooses its proxier; `run` runs the exec backend's
 * tools. The dry run simulates a node whose kernel has IPVS, so `mode: ipvs` runs IPVS there.
 */
export async function openBackend(
  options: CliOptions,
  config: ProxyConfig,
  io: BackendIo,
): Promise<OpenedBackend> {
  const { kind, warning } = backendKind(options, io.defaultBackend);
  if (warning !== undefined) io.log(`warning: ${warning}`);
  if (kind === "dry-run") {
    const backend = await openDryRun(options);
    const choice = chooseProxier(config.mode, true);
    const prepare = choice.proxier === "ipvs"
      ? computeNodePreparation
      : computeIptablesNodePreparation;
    // What a start would do to this node, for the dry run to print ahead of the sync plan.
    // Simulated too: kube-ipvs0 then exists, as on a node after its start, and the sync plan
    // does not create it a second time.
    const cpus = io.cpus ?? navigator.hardwareConcurrency;
    backend.prepareNode(prepare(nodePreparationConfig(config), { cpus }), { simulate: true });
    return { backend, choice };
  }
  return kind === "netlink" ? await openNetlink(config, io) : await openExec(config, io);
}

/**
 * The backend `--cleanup` uses: no preflight (cleaning up must work on a node that cannot run
 * IPVS mode any more), IPVS only where the kernel has it.
 */
export async function openCleanupBackend(
  options: CliOptions,
  io: Omit<BackendIo, "cpus" | "nodeFiles">,
): Promise<Backend> {
  const { run = runCommand } = io;
  const { kind, warning } = backendKind(options, io.defaultBackend);
  if (warning !== undefined) io.log(`warning: ${warning}`);
  if (kind === "dry-run") return await openDryRun(options);
  if (kind === "netlink") {
    const ipvs = await openNetlinkIpvs();
    const families = await kernelFamilies();
    return new NetlinkBackend({
      ...(ipvs ? { ipvsClient: ipvs } : {}),
      ipvs: !!ipvs,
      ipsets: await ipsetSubsystemAvailable(),
      run,
      families,
    });
  }
  return new ExecBackend({ run, ipvs: await ipvsAvailable(), families: await kernelFamilies() });
}
