/**
 * Carries out the node-preparation steps (`src/node_prep/`) on this node: each sysctl only when
 * it differs, `nf_conntrack_max` and the conntrack hash size only ever raised, `ipvsadm --set`,
 * and `kube-ipvs0` when missing. Every step is tried; the ones that failed are reported together
 * in a {@link NodePreparationError}. The `modprobe` steps are the preflight's
 * (`preflight({ modules })`): it loads the modules before it checks IPVS.
 *
 * @module
 */

import { type CommandRunner, runOrThrow } from "./command.ts";
import { readTextFileIfExists } from "./kernel_modules.ts";
import type {
  DummyLinkStep,
  IpvsTimeoutsStep,
  NodePreparationStep,
} from "../../src/node_prep/node_preparation.ts";
import { HASHSIZE_PATH, parseCpuList } from "../../src/node_prep/conntrack.ts";
import type { ConntrackHashsizeStep, ConntrackMaxStep } from "../../src/node_prep/conntrack.ts";

/** Thrown after trying every step, when some failed. */
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

/** How the steps reach the node; every field defaults to the real thing. */
export interface ApplyNodePreparationOptions {
  /** Runs `ipvsadm` and `ip`. */
  readonly run: CommandRunner;
  /**
   * Reads one sysctl (slash form, `net/ipv4/ip_forward`); `undefined` when it does not exist.
   * @default reads `/proc/sys/<key>`
   */
  readonly readSysctl?: (key: string) => Promise<string | undefined>;
  /**
   * Writes one sysctl.
   * @default writes `/proc/sys/<key>`
   */
  readonly writeSysctl?: (key: string, value: string) => Promise<void>;
  /**
   * Reads a file (`/proc/mounts`, the conntrack hash size); `undefined` when it cannot.
   * @default {readTextFileIfExists}
   */
  readonly readFile?: (path: string) => Promise<string | undefined>;
  /**
   * Writes a file (the conntrack hash size).
   * @default Deno.writeTextFile
   */
  readonly writeFile?: (path: string, text: string) => Promise<void>;
  /**
   * Sets the IPVS timeouts (tcp, tcpfin, udp seconds); the netlink backend's startup passes
   * its IPVS client's.
   * @default runs `ipvsadm --set TCP TCPFIN UDP`
   */
  readonly setIpvsTimeouts?: (seconds: readonly [number, number, number]) => Promise<void>;
  /**
   * Creates the dummy link `name` when it is missing (left down): `true` when it created it,
   * `false` when it was there; throws when it can do neither. The netlink backend's startup
   * passes its rtnetlink client's.
   * @default {ipToolDummyLink} through `run`
   */
  readonly ensureDummyLink?: (name: string) => Promise<boolean>;
}

/** How node preparation reaches sysctls and files (each defaults to the real ones). */
export type NodeFiles = Omit<
  ApplyNodePreparationOptions,
  "run" | "setIpvsTimeouts" | "ensureDummyLink"
>;

type Io = Required<ApplyNodePreparationOptions>;

/** Collects what was done and what failed. */
interface Progress {
  readonly log: string[];
  readonly problems: string[];
  cause?: unknown;
  /** False once an IPVS sysctl turned out missing: the kernel has no IPVS. */
  ipvsPresent: boolean;
}

/**
 * Carries out `steps` in order (skipping `modprobe`, see the module documentation). Resolves
 * with one log line per change; throws a {@link NodePreparationError} naming every step that
 * failed, after trying them all.
 *
 * @example
 * ```ts
 * import { runCommand } from "./command.ts";
 * import { applyNodePreparation } from "./node_preparation.ts";
 * import { computeNodePreparation } from "../../src/node_prep/node_preparation.ts";
 * const steps = computeNodePreparation(
 *   { scheduler: "rr", strictARP: false, tcpTimeoutMs: 0, tcpFinTimeoutMs: 0, udpTimeoutMs: 0 },
 *   { cpus: navigator.hardwareConcurrency },
 * );
 * for (const line of await applyNodePreparation(steps, { run: runCommand })) console.log(line);
 * ```
 */
export async function applyNodePreparation(
  steps: readonly NodePreparationStep[],
  options: ApplyNodePreparationOptions,
): Promise<string[]> {
  const io: Io = {
    run: options.run,
    readSysctl: options.readSysctl ?? ((key) => readTextFileIfExists(`/proc/sys/${key}`)),
    writeSysctl: options.writeSysctl ??
      ((key, value) => Deno.writeTextFile(`/proc/sys/${key}`, `${value}\n`)),
    readFile: options.readFile ?? readTextFileIfExists,
    writeFile: options.writeFile ?? ((path, text) => Deno.writeTextFile(path, text)),
    setIpvsTimeouts: options.setIpvsTimeouts ??
      (async (seconds) =>
        void await runOrThrow(options.run, ["ipvsadm", "--set", ...seconds.map(String)])),
    ensureDummyLink: options.ensureDummyLink ?? ipToolDummyLink(options.run),
  };
  const progress: Progress = { log: [], problems: [], ipvsPresent: true };
  for (const step of steps) await applyStep(step, io, progress);
  if (progress.problems.length > 0) {
    throw new NodePreparationError(progress.problems, progress.log, progress.cause);
  }
  return progress.log;
}

async function applyStep(step: NodePreparationStep, io: Io, progress: Progress): Promise<void> {
  switch (step.kind) {
    case "modprobe":
      return;
    case "sysctl":
      // The first missing IPVS sysctl says it all; the others are missing for the same reason.
      if (step.ipvs && !progress.ipvsPresent) return;
      if (!await ensureSysctl(step.key, step.value, io, progress) && step.ipvs) {
        progress.ipvsPresent = false;
      }
      return;
    case "conntrack-sysctl":
      await ensureSysctl(step.key, step.value, io, progress);
      return;
    case "conntrack-max":
      return await raiseConntrackMax(step, io, progress);
    case "conntrack-hashsize":
      return await growHashsize(step, io, progress);
    case "ipvs-timeouts":
      if (progress.ipvsPresent) await setTimeouts(step, io, progress);
      return;
    case "dummy-link":
      return await ensureDummyLink(step, io, progress);
  }
}

/** Writes `key` unless it already holds `value`; false when it could not be set. */
async function ensureSysctl(key: string, value: string, io: Io, progress: Progress) {
  const current = (await io.readSysctl(key))?.trim();
  if (current === value) return true;
  try {
    await io.writeSysctl(key, value);
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
  if (missing && key.startsWith("net/netfilter/")) {
    return `/proc/sys/${key} does not exist: conntrack is not loaded; fix: ` +
      `modprobe -- nf_conntrack`;
  }
  const why = missing ? `/proc/sys/${key} does not exist` : errorText(error);
  return `cannot set sysctl ${key}=${value}: ${why}; fix: run as root, or ` +
    `sysctl -w ${key.replaceAll("/", ".")}=${value}`;
}

/** kube-proxy only ever raises `nf_conntrack_max`: a higher value set by the admin stays. */
async function raiseConntrackMax(step: ConntrackMaxStep, io: Io, progress: Progress) {
  const key = "net/netfilter/nf_conntrack_max";
  const text = await io.readSysctl(key);
  const current = Number(text?.trim());
  if (Number.isInteger(current) && current >= step.value) return;
  try {
    await io.writeSysctl(key, String(step.value));
    progress.log.push(`Set sysctl ${key}=${step.value} (${step.reason}; was ${text?.trim()})`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      fail(progress, sysctlProblem(key, String(step.value), error), error);
      return;
    }
    fail(
      progress,
      `cannot raise ${key} to ${step.value} (${step.reason}): ${errorText(error)}; it is ` +
        `global, writable only from the host's network namespace; fix: run privileged with ` +
        `hostNetwork, or sysctl -w net.netfilter.nf_conntrack_max=${step.value} on the node, ` +
        `or set conntrack.maxPerCore: 0 to leave it alone`,
      error,
    );
  }
}

/**
 * Grows the hash table when it is below a quarter of the maximum. It is global and writable
 * only from the initial network namespace, so it is not written at all when already large
 * enough; on a read-only /sys (a container runtime's known bug) kube-proxy leaves it with a
 * warning, and so does this.
 */
async function growHashsize(step: ConntrackHashsizeStep, io: Io, progress: Progress) {
  const current = Number((await io.readFile(HASHSIZE_PATH))?.trim());
  if (Number.isInteger(current) && current >= step.value) return;
  if (!Number.isInteger(current)) {
    fail(
      progress,
      `cannot read ${HASHSIZE_PATH}: conntrack is not loaded; fix: modprobe -- nf_conntrack`,
    );
    return;
  }
  if (sysfsReadOnly(await io.readFile("/proc/mounts"))) {
    progress.log.push(
      `warning: /sys is read-only: cannot grow the conntrack hash table from ${current} to ` +
        `${step.value}, problems may arise later (kube-proxy's "CRI error: /sys is read-only")`,
    );
    return;
  }
  try {
    await io.writeFile(HASHSIZE_PATH, String(step.value));
    progress.log.push(`Set conntrack hashsize ${step.value} (was ${current})`);
  } catch (error) {
    fail(
      progress,
      `cannot write ${HASHSIZE_PATH} (${step.value}): ${errorText(error)}; it is writable only ` +
        `from the host's network namespace; fix: run privileged with hostNetwork, or ` +
        `echo ${step.value} > ${HASHSIZE_PATH} on the node`,
      error,
    );
  }
}

/**
 * Whether the sysfs mounted on /sys is read-only, from `/proc/mounts` lines like
 * `sysfs /sys sysfs ro,nosuid,nodev,noexec,relatime 0 0`. No sysfs on /sys counts as read-only.
 */
export function sysfsReadOnly(mounts: string | undefined): boolean {
  for (const line of (mounts ?? "").split("\n")) {
    const [, mountPoint, type, options] = line.trim().split(/\s+/);
    if (type === "sysfs" && mountPoint === "/sys") return options?.split(",")[0] !== "rw";
  }
  return true;
}

async function setTimeouts(step: IpvsTimeoutsStep, io: Io, progress: Progress) {
  try {
    await io.setIpvsTimeouts(step.seconds);
    progress.log.push(`Set IPVS timeouts (tcp tcpfin udp): ${step.seconds.join(" ")} seconds`);
  } catch (error) {
    fail(progress, `cannot set the IPVS timeouts: ${errorText(error)}`, error);
  }
}

/** Thrown by an `ensureDummyLink` that could not even tell whether the link exists. */
export class LinkLookupError extends Error {
  /** `what` is the whole sentence, e.g. `cannot look up the kube-ipvs0 link: ...`. */
  constructor(what: string, cause?: unknown) {
    super(what, { cause });
    this.name = "LinkLookupError";
  }
}

/**
 * The dummy link through the `ip` tool: `ip -j link show NAME` prints
 * `[{"ifindex":5,"ifname":"kube-ipvs0",...}]`, or exits 1 with `Device "kube-ipvs0" does not
 * exist.`; then `ip link add NAME type dummy` (whose `ToolError` is thrown as it is).
 *
 * @example
 * ```ts
 * import { runCommand } from "./command.ts";
 * const ensure = ipToolDummyLink(runCommand);
 * // await ensure("kube-ipvs0"): true when it created the link
 * ```
 */
export function ipToolDummyLink(run: CommandRunner): (name: string) => Promise<boolean> {
  return async (name) => {
    const show = await run(["ip", "-j", "link", "show", name]);
    if (show.code === 0) return false;
    if (!/does not exist/.test(show.stderr)) {
      const said = show.stderr.trim() || `exit code ${show.code}`;
      throw new LinkLookupError(`cannot look up the ${name} link: ${said}`);
    }
    await runOrThrow(run, ["ip", "link", "add", name, "type", "dummy"]);
    return true;
  };
}

async function ensureDummyLink(step: DummyLinkStep, io: Io, progress: Progress) {
  try {
    if (await io.ensureDummyLink(step.name)) {
      progress.log.push(`Created the dummy link ${step.name} (left down)`);
    }
  } catch (error) {
    if (error instanceof LinkLookupError) return fail(progress, error.message, error);
    // Without the dummy driver the ip tool says `Error: Unknown device type.`; rtnetlink
    // refuses with EOPNOTSUPP.
    const hint = /Unknown device type|EOPNOTSUPP/.test(errorText(error))
      ? " (the kernel has no dummy link type; fix: modprobe -- dummy)"
      : "";
    fail(progress, `cannot create the ${step.name} link${hint}: ${errorText(error)}`, error);
  }
}

function fail(progress: Progress, problem: string, cause?: unknown): void {
  progress.problems.push(problem);
  if (progress.cause === undefined) progress.cause = cause;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * This node's online CPU count (`/sys/devices/system/cpu/online`), else the CPUs Deno sees.
 *
 * @example
 * ```ts
 * import { onlineCpus } from "./node_preparation.ts";
 * console.log(await onlineCpus());
 * ```
 */
export async function onlineCpus(
  readFile: (path: string) => Promise<string | undefined> = readTextFileIfExists,
): Promise<number> {
  const text = await readFile("/sys/devices/system/cpu/online");
  return (text === undefined ? undefined : parseCpuList(text)) ?? navigator.hardwareConcurrency;
}
