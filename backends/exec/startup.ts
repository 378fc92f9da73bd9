/**
 * What kube-proxy's IPVS mode sets on the node once at startup: the sysctls IPVS needs, the
 * connection timeouts (`ipvsadm --set`), and the dummy link `kube-ipvs0` that holds service
 * addresses. Every step is tried; the ones that failed are reported together in a
 * {@link NodePreparationError}.
 *
 * @module
 */

import { type CommandRunner, runOrThrow } from "./command.ts";
import { readTextFileIfExists } from "./kernel_modules.ts";

/** The resolved configuration fields node preparation uses. */
export interface NodeSetupConfig {
  /** `ipvs.strictARP`: answer ARP only for addresses on the receiving interface. */
  readonly strictARP: boolean;
  /** `ipvs.tcpTimeout` in milliseconds; 0 keeps the kernel's value. */
  readonly tcpTimeoutMs: number;
  /** `ipvs.tcpFinTimeout` in milliseconds; 0 keeps the kernel's value. */
  readonly tcpFinTimeoutMs: number;
  /** `ipvs.udpTimeout` in milliseconds; 0 keeps the kernel's value. */
  readonly udpTimeoutMs: number;
}

/** What {@link prepareNode} needs. */
export interface PrepareNodeOptions {
  /** The resolved IPVS settings. */
  readonly config: NodeSetupConfig;
  /** Runs `ipvsadm` and `ip`. */
  readonly run: CommandRunner;
  /**
   * Writes one sysctl, key in slash form (`net/ipv4/ip_forward`).
   * @default writes `/proc/sys/<key>`
   */
  readonly writeSysctl?: (key: string, value: string) => Promise<void>;
  /**
   * Reads one sysctl; `undefined` when it does not exist.
   * @default reads `/proc/sys/<key>` when `writeSysctl` is the default too; otherwise reads
   * nothing, so that every sysctl goes through the injected writer
   */
  readonly readSysctl?: (key: string) => Promise<string | undefined>;
}

/** The dummy link kube-proxy binds service addresses to. */
export const DUMMY_LINK = "kube-ipvs0";

/** Thrown by {@link prepareNode} after trying every step, when some failed. */
export class NodePreparationError extends Error {
  /** One sentence per failed step, each with what to do. */
  readonly problems: readonly string[];
  /** What was set before and after the failures (the same lines a success returns). */
  readonly log: readonly string[];

  /** Builds the error; `cause` is the first underlying error. */
  constructor(problems: readonly string[], log: readonly string[], cause?: unknown) {
    const count = problems.length === 1 ? "1 step failed" : `${problems.length} steps failed`;
    super(
      `Cannot prepare this node for IPVS (${count}):\n` +
        problems.map((problem) => `  - ${problem}`).join("\n"),
      { cause },
    );
    this.name = "NodePreparationError";
    this.problems = [...problems];
    this.log = [...log];
  }
}

/**
 * The sysctls kube-proxy's IPVS mode sets, in order: forwarding and (with `strictARP`) ARP
 * first, then the IPVS ones, whose files exist only when the kernel has IPVS.
 */
export function requiredSysctls(strictARP: boolean): [key: string, value: string][] {
  return [
    ["net/ipv4/ip_forward", "1"],
    ...(strictARP
      ? [["net/ipv4/conf/all/arp_ignore", "1"], ["net/ipv4/conf/all/arp_announce", "2"]] as [
        string,
        string,
      ][]
      : []),
    ["net/ipv4/vs/conntrack", "1"],
    ["net/ipv4/vs/expire_nodest_conn", "1"],
    ["net/ipv4/vs/expire_quiescent_template", "1"],
  ];
}

/** `ipvsadm --set` takes whole seconds; kube-proxy truncates the durations the same way. */
export function timeoutSeconds(
  config: NodeSetupConfig,
): [tcp: number, tcpFin: number, udp: number] {
  const seconds = (ms: number) => Math.max(0, Math.trunc(ms / 1000));
  return [
    seconds(config.tcpTimeoutMs),
    seconds(config.tcpFinTimeoutMs),
    seconds(config.udpTimeoutMs),
  ];
}

/** Collects what was done and what failed. */
interface Progress {
  readonly log: string[];
  readonly problems: string[];
  cause?: unknown;
}

/**
 * Sets the sysctls (only those whose value differs), applies `ipvsadm --set` when a timeout is
 * configured, and creates `kube-ipvs0` when it is missing (left down, as kube-proxy does).
 * Resolves with one log line per change; throws a {@link NodePreparationError} naming every
 * step that failed, after trying them all.
 *
 * @example
 * ```ts
 * import { runCommand } from "./command.ts";
 * import { prepareNode } from "./startup.ts";
 * const config = { strictARP: false, tcpTimeoutMs: 0, tcpFinTimeoutMs: 0, udpTimeoutMs: 0 };
 * for (const line of await prepareNode({ config, run: runCommand })) console.log(line);
 * ```
 */
export async function prepareNode(options: PrepareNodeOptions): Promise<string[]> {
  const writeSysctl = options.writeSysctl ?? writeProcSys;
  const readSysctl = options.readSysctl ??
    (options.writeSysctl === undefined ? readProcSys : () => Promise.resolve(undefined));
  const progress: Progress = { log: [], problems: [] };
  let ipvsPresent = true;
  for (const [key, value] of requiredSysctls(options.config.strictARP)) {
    const isIpvs = key.startsWith("net/ipv4/vs/");
    // The first missing IPVS sysctl says it all; the others are missing for the same reason.
    if (isIpvs && !ipvsPresent) continue;
    const ok = await ensureSysctl(key, value, readSysctl, writeSysctl, progress);
    if (!ok && isIpvs) ipvsPresent = false;
  }
  if (ipvsPresent) await setTimeouts(options.config, options.run, progress);
  await ensureDummyLink(options.run, progress);
  if (progress.problems.length > 0) {
    throw new NodePreparationError(progress.problems, progress.log, progress.cause);
  }
  return progress.log;
}

async function readProcSys(key: string): Promise<string | undefined> {
  return await readTextFileIfExists(`/proc/sys/${key}`);
}

async function writeProcSys(key: string, value: string): Promise<void> {
  await Deno.writeTextFile(`/proc/sys/${key}`, `${value}\n`);
}

/** Writes `key` unless it already holds `value`; false when it could not be set. */
async function ensureSysctl(
  key: string,
  value: string,
  read: (key: string) => Promise<string | undefined>,
  write: (key: string, value: string) => Promise<void>,
  progress: Progress,
): Promise<boolean> {
  const current = (await read(key))?.trim();
  if (current === value) return true;
  try {
    await write(key, value);
  } catch (error) {
    fail(progress, sysctlProblem(key, value, error), error);
    return false;
  }
  progress.log.push(
    `Set sysctl ${key}=${value}${current === undefined ? "" : ` (was ${current})`}`,
  );
  return true;
}

function sysctlProblem(key: string, value: string, error: unknown): string {
  const missing = error instanceof Deno.errors.NotFound;
  if (missing && key.startsWith("net/ipv4/vs/")) {
    return `/proc/sys/${key} does not exist: the kernel has no IPVS (the ip_vs module is not ` +
      `loaded); fix: modprobe -- ip_vs`;
  }
  const why = missing ? `/proc/sys/${key} does not exist` : errorText(error);
  return `cannot set sysctl ${key}=${value}: ${why}; fix: run as root, or ` +
    `sysctl -w ${key.replaceAll("/", ".")}=${value}`;
}

async function setTimeouts(config: NodeSetupConfig, run: CommandRunner, progress: Progress) {
  const seconds = timeoutSeconds(config);
  if (seconds.every((s) => s === 0)) return;
  const argv = ["ipvsadm", "--set", ...seconds.map(String)];
  try {
    await runOrThrow(run, argv);
    progress.log.push(`Set IPVS timeouts (tcp tcpfin udp): ${seconds.join(" ")} seconds`);
  } catch (error) {
    fail(progress, `cannot set the IPVS timeouts: ${errorText(error)}`, error);
  }
}

/**
 * `ip -j link show kube-ipvs0` prints `[{"ifindex":5,"ifname":"kube-ipvs0",...}]`, or exits 1
 * with `Device "kube-ipvs0" does not exist.`
 */
async function ensureDummyLink(run: CommandRunner, progress: Progress) {
  const show = await run(["ip", "-j", "link", "show", DUMMY_LINK]);
  if (show.code === 0) return;
  if (!/does not exist/.test(show.stderr)) {
    const said = show.stderr.trim() || `exit code ${show.code}`;
    fail(progress, `cannot look up the ${DUMMY_LINK} link: ${said}`);
    return;
  }
  try {
    await runOrThrow(run, ["ip", "link", "add", DUMMY_LINK, "type", "dummy"]);
    progress.log.push(`Created the dummy link ${DUMMY_LINK} (left down)`);
  } catch (error) {
    // On a kernel without the dummy driver: `Error: Unknown device type.`
    const hint = /Unknown device type/.test(errorText(error))
      ? " (the kernel has no dummy link type; fix: modprobe -- dummy)"
      : "";
    fail(progress, `cannot create the ${DUMMY_LINK} link${hint}: ${errorText(error)}`, error);
  }
}

function fail(progress: Progress, problem: string, cause?: unknown): void {
  progress.problems.push(problem);
  if (progress.cause === undefined) progress.cause = cause;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
