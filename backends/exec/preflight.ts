/**
 * kube-proxy's startup checks for IPVS mode: the kernel modules, `ipvsadm`, `ipset` >= 6.0, IPVS
 * reachable, and the scheduler usable (a probe virtual server created and deleted). Each failed
 * requirement names the command that fixes it, from the "Why kube-proxy can't start IPVS mode"
 * check list.
 *
 * @module
 */

import type { CommandRunner } from "./command.ts";
import {
  ensureModules,
  isSchedulerName,
  kernelRelease,
  type ModuleStatus,
  parseKernelRelease,
  type ReadTextFile,
  requiredModules,
} from "./kernel_modules.ts";

/** One requirement and whether this node meets it. */
export interface PreflightCheck {
  /** What was checked, e.g. `kernel module ip_vs` or `ipset version`. */
  name: string;
  /** Whether the requirement is met. */
  ok: boolean;
  /** What was found. */
  detail: string;
  /** The command or step that fixes a failure; `""` when `ok`. */
  fix: string;
}

/** Every check that ran; `ok` when all passed. */
export interface PreflightReport {
  /** Whether every check passed. */
  ok: boolean;
  /** Each check, modules first, in the order they ran. */
  checks: PreflightCheck[];
}

/** What {@link preflight} needs. */
export interface PreflightOptions {
  /** The configured IPVS scheduler (`ipvs.scheduler`); `""` means `rr`. */
  scheduler: string;
  /** Runs modprobe, ipset and ipvsadm. */
  run: CommandRunner;
  /** Reads /proc and /lib/modules files. */
  readTextFile: ReadTextFile;
  /**
   * The modules to find or load: the `modprobe` steps of the node preparation
   * (`modulesOf(computeNodePreparation(...))`).
   * @default requiredModules(this kernel's version, scheduler)
   */
  modules?: readonly string[];
  /**
   * The checks of IPVS itself ("IPVS reachable", then "scheduler X"), for a backend that does
   * not use the tools: the netlink backend passes its own (`ipvsPreflightChecks`), and then
   * neither `ipset` nor `ipvsadm` is checked.
   * @default the tools' checks: `ipset` >= 6.0, `ipvsadm`, and IPVS through `ipvsadm`
   */
  ipvsChecks?: (scheduler: string) => Promise<PreflightCheck[]>;
}

/** kube-proxy's `MinIPSetCheckVersion`. */
export const MIN_IPSET_VERSION = { major: 6, minor: 0 } as const;

/** The dummy virtual server kube-proxy creates to prove the scheduler works (TEST-NET-2). */
export const PROBE_SERVICE = "198.51.100.0:20000";

const DEFAULT_SCHEDULER = "rr";

/**
 * Runs every check and reports them all. Only the scheduler probe changes the kernel (a virtual
 * server that is deleted again), and `modprobe` loads missing modules.
 *
 * @example
 * ```ts
 * import { runCommand } from "./command.ts";
 * import { readTextFileIfExists } from "./kernel_modules.ts";
 * import { formatPreflightFailure, preflight } from "./preflight.ts";
 * const report = await preflight({ scheduler: "rr", run: runCommand, readTextFile: readTextFileIfExists });
 * if (!report.ok) console.error(formatPreflightFailure(report));
 * ```
 */
export async function preflight(options: PreflightOptions): Promise<PreflightReport> {
  const { run, readTextFile } = options;
  const scheduler = options.scheduler === "" ? DEFAULT_SCHEDULER : options.scheduler;
  const release = await kernelRelease(run, readTextFile);
  const modules = await ensureModules({
    modules: options.modules ?? requiredModules(parseKernelRelease(release ?? ""), scheduler),
    release,
    run,
    readTextFile,
  });
  const checks = options.ipvsChecks
    ? await options.ipvsChecks(scheduler)
    : await toolChecks(run, scheduler);
  const schedulerUsable = checks.some((c) => c.name === schedulerCheckName(scheduler) && c.ok);
  const moduleChecks = modules.map((status) =>
    moduleCheck(status, schedulerUsable && status.name === `ip_vs_${scheduler}`)
  );
  const all = [...moduleChecks, ...checks];
  return { ok: all.every((c) => c.ok), checks: all };
}

/** The checks through the tools: `ipset`, `ipvsadm`, then IPVS and the scheduler through it. */
async function toolChecks(run: CommandRunner, scheduler: string): Promise<PreflightCheck[]> {
  const checks = [await checkIpset(run)];
  const ipvsadm = await checkIpvsadm(run);
  checks.push(ipvsadm);
  const validScheduler = isSchedulerName(scheduler);
  if (ipvsadm.ok) checks.push(...await checkIpvs(run, validScheduler ? scheduler : undefined));
  if (!validScheduler) checks.push(invalidScheduler(scheduler));
  return checks;
}

/** A working scheduler probe proves its module is in the kernel even when no list names it. */
function moduleCheck(status: ModuleStatus, provenByProbe: boolean): PreflightCheck {
  const name = `kernel module ${status.name}`;
  if (status.state !== "missing") return { name, ok: true, detail: status.detail, fix: "" };
  if (provenByProbe) {
    return { name, ok: true, detail: "in the kernel (its scheduler works)", fix: "" };
  }
  return { name, ok: false, detail: status.detail, fix: `modprobe -- ${status.name}` };
}

/**
 * `ipset --version` prints `ipset v7.17, protocol version: 7`; returns the major and minor
 * version, or `undefined` when the text has none.
 */
export function parseIpsetVersion(text: string): { major: number; minor: number } | undefined {
  const match = /\bv(\d+)\.(\d+)/.exec(text);
  return match === null ? undefined : { major: Number(match[1]), minor: Number(match[2]) };
}

async function checkIpset(run: CommandRunner): Promise<PreflightCheck> {
  const name = "ipset version";
  const result = await run(["ipset", "--version"]);
  if (result.code === 127) {
    return {
      name,
      ok: false,
      detail: "ipset is not installed",
      fix: "install the ipset package: apt-get install ipset",
    };
  }
  const text = result.stdout.trim() || result.stderr.trim();
  const version = parseIpsetVersion(text);
  if (version === undefined) {
    return {
      name,
      ok: false,
      detail: `cannot read the version from 'ipset --version' (exit code ${result.code}): ` +
        JSON.stringify(text),
      fix: "install the ipset package: apt-get install ipset",
    };
  }
  const { major, minor } = MIN_IPSET_VERSION;
  if (version.major < major || (version.major === major && version.minor < minor)) {
    return {
      name,
      ok: false,
      detail:
        `ipset v${version.major}.${version.minor} is older than the required v${major}.${minor}`,
      fix: `upgrade the ipset package to v${major}.${minor} or later: apt-get install ipset`,
    };
  }
  return { name, ok: true, detail: text.split("\n")[0], fix: "" };
}

/**
 * `ipvsadm --version` exits 2 on a kernel without IPVS (`Can't initialize ipvs: Protocol not
 * available`), so only "command not found" means ipvsadm itself is missing.
 */
async function checkIpvsadm(run: CommandRunner): Promise<PreflightCheck> {
  const name = "ipvsadm installed";
  const result = await run(["ipvsadm", "--version"]);
  if (result.code === 127) {
    return {
      name,
      ok: false,
      detail: "ipvsadm is not installed",
      fix: "install the ipvsadm package: apt-get install ipvsadm",
    };
  }
  const said = result.stdout.trim().split("\n")[0] || "found";
  return { name, ok: true, detail: said, fix: "" };
}

function schedulerCheckName(scheduler: string): string {
  return `scheduler ${scheduler}`;
}

/** IPVS reachable through ipvsadm, then the scheduler (if it is a valid name) usable. */
async function checkIpvs(
  run: CommandRunner,
  scheduler: string | undefined,
): Promise<PreflightCheck[]> {
  const save = await run(["ipvsadm", "-Sn"]);
  if (save.code !== 0) {
    // ipvsadm's words on a kernel without IPVS:
    // Can't initialize ipvs: Protocol not available
    // Are you sure that IP Virtual Server is built in the kernel or as module?
    return [{
      name: "IPVS reachable",
      ok: false,
      detail: `'ipvsadm -Sn' failed: ${oneLine(save.stderr) || `exit code ${save.code}`}`,
      fix: "modprobe -- ip_vs",
    }];
  }
  const reachable = { name: "IPVS reachable", ok: true, detail: "'ipvsadm -Sn' works", fix: "" };
  if (scheduler === undefined) return [reachable];
  return [reachable, await checkScheduler(run, scheduler, save.stdout)];
}

/**
 * Virtual servers' addresses and schedulers from `ipvsadm -Sn`, whose service lines look like
 * `-A -t 10.96.0.1:443 -s rr -p 10800` (`-u` UDP, `--sctp-service`, `-f` fwmark).
 */
export function parseVirtualServers(save: string): { service: string; scheduler: string }[] {
  const servers: { service: string; scheduler: string }[] = [];
  for (const line of save.split("\n")) {
    const words = line.trim().split(/\s+/);
    if (words[0] !== "-A") continue;
    const service = words.length > 2 ? `${words[1]} ${words[2]}` : "";
    const s = words.indexOf("-s");
    servers.push({ service, scheduler: s < 0 ? "" : words[s + 1] ?? "" });
  }
  return servers;
}

function invalidScheduler(scheduler: string): PreflightCheck {
  return {
    name: schedulerCheckName(scheduler),
    ok: false,
    detail: `${JSON.stringify(scheduler)} is not an IPVS scheduler name`,
    fix: "set ipvs.scheduler to an IPVS scheduler such as rr, wrr, lc, wlc, sh, dh, sed, nq or mh",
  };
}

/** kube-proxy's check: skip if a virtual server already uses it, else create and delete one. */
async function checkScheduler(
  run: CommandRunner,
  scheduler: string,
  save: string,
): Promise<PreflightCheck> {
  const name = schedulerCheckName(scheduler);
  const servers = parseVirtualServers(save);
  if (servers.some((s) => s.scheduler === scheduler)) {
    return { name, ok: true, detail: "a virtual server already uses it", fix: "" };
  }
  const probe = ["-t", PROBE_SERVICE];
  // Like kube-proxy, remove a probe left behind by an earlier run before creating it.
  if (servers.some((s) => s.service === `-t ${PROBE_SERVICE}`)) {
    await run(["ipvsadm", "-D", ...probe]);
  }
  const add = await run(["ipvsadm", "-A", ...probe, "-s", scheduler]);
  if (add.code !== 0) {
    return {
      name,
      ok: false,
      detail: `cannot create the probe virtual server ${PROBE_SERVICE}/TCP with scheduler ` +
        `${scheduler}: ${oneLine(add.stderr) || `exit code ${add.code}`}`,
      fix: `modprobe -- ip_vs_${scheduler}`,
    };
  }
  const del = await run(["ipvsadm", "-D", ...probe]);
  if (del.code !== 0) {
    return {
      name,
      ok: false,
      detail: `the probe virtual server ${PROBE_SERVICE}/TCP could not be deleted: ` +
        (oneLine(del.stderr) || `exit code ${del.code}`),
      fix: `ipvsadm -D -t ${PROBE_SERVICE}`,
    };
  }
  return { name, ok: true, detail: `a probe virtual server ${PROBE_SERVICE}/TCP worked`, fix: "" };
}

function oneLine(text: string): string {
  return text.trim().split("\n").map((line) => line.trim()).filter(Boolean).join(" ");
}

/**
 * Text naming every failed requirement and its fix, for the log line that ends startup.
 *
 * @example
 * ```ts
 * import { formatPreflightFailure } from "./preflight.ts";
 * formatPreflightFailure({ ok: false, checks: [{
 *   name: "kernel module ip_vs", ok: false, detail: "not loaded", fix: "modprobe -- ip_vs",
 * }] });
 * // Can't use the IPVS proxier: 1 requirement is not met.
 * //   - kernel module ip_vs: not loaded
 * //     fix: modprobe -- ip_vs
 * // ...
 * ```
 */
export function formatPreflightFailure(report: PreflightReport): string {
  const failed = report.checks.filter((c) => !c.ok);
  if (failed.length === 0) return "All IPVS requirements are met.";
  const count = failed.length === 1
    ? "1 requirement is not met"
    : `${failed.length} requirements are not met`;
  const lines = [`Can't use the IPVS proxier: ${count}.`];
  for (const check of failed) {
    lines.push(`  - ${check.name}: ${check.detail}`);
    if (check.fix !== "") lines.push(`    fix: ${check.fix}`);
  }
  lines.push(
    "IPVS mode needs the ip_vs, ip_vs_rr, ip_vs_wrr, ip_vs_sh and nf_conntrack kernel modules " +
      "(built in, or loaded with modprobe) and the ipset and ipvsadm packages.",
  );
  return lines.join("\n");
}
