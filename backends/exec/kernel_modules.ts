/**
 * The kernel modules IPVS mode needs, and whether this kernel has them: built in
 * (`modules.builtin`), loaded (`/proc/modules`), or loadable with `modprobe`. Everything goes
 * through an injected file reader and {@link CommandRunner}, so each case is unit-testable.
 *
 * @module
 */

import type { CommandRunner } from "./command.ts";

export {
  conntrackModule,
  isSchedulerName,
  type KernelVersion,
  parseKernelRelease,
  requiredModules,
} from "../../src/node_prep/modules.ts";

/** Reads a text file; `undefined` when it does not exist or cannot be read. */
export type ReadTextFile = (path: string) => Promise<string | undefined>;

/**
 * The real {@link ReadTextFile}: `Deno.readTextFile`, with any error meaning "not there".
 *
 * @example
 * ```ts
 * import { readTextFileIfExists } from "./kernel_modules.ts";
 * const release = await readTextFileIfExists("/proc/sys/kernel/osrelease");
 * ```
 */
export async function readTextFileIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

/** The kernel treats `-` and `_` in module names alike; `/proc/modules` shows `_`. */
function normalise(name: string): string {
  return name.replaceAll("-", "_");
}

/**
 * Module names from `/lib/modules/$(uname -r)/modules.builtin`, whose lines look like
 * `kernel/net/netfilter/ipvs/ip_vs.ko`.
 */
export function parseModulesBuiltin(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const file = line.trim().split("/").pop() ?? "";
    const match = /^(.+?)\.ko(?:\.\w+)?$/.exec(file);
    if (match !== null) names.add(normalise(match[1]));
  }
  return names;
}

/**
 * Module names from `/proc/modules` (the first column), whose lines look like
 * `ip_vs 188416 6 ip_vs_rr,ip_vs_wrr,ip_vs_sh, Live 0x0000000000000000`.
 */
export function parseProcModules(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const name = line.trim().split(/\s+/)[0];
    if (name) names.add(normalise(name));
  }
  return names;
}

/**
 * Files that exist only when a module's code is in the kernel, whether built in or loaded: they
 * tell a kernel without `modules.builtin` (no `/lib/modules` in a container, say) apart from
 * one that lacks the feature.
 */
const EVIDENCE_FILES: Readonly<Record<string, string>> = {
  ip_vs: "/proc/net/ip_vs",
  nf_conntrack: "/proc/sys/net/netfilter/nf_conntrack_max",
};

/** The running kernel's release (`6.1.0-18-amd64`), from `/proc` or else `uname -r`. */
export async function kernelRelease(
  run: CommandRunner,
  readTextFile: ReadTextFile,
): Promise<string | undefined> {
  const fromProc = (await readTextFile("/proc/sys/kernel/osrelease"))?.trim();
  if (fromProc) return fromProc;
  const uname = await run(["uname", "-r"]);
  const fromUname = uname.code === 0 ? uname.stdout.trim() : "";
  return fromUname === "" ? undefined : fromUname;
}

/** How a required module was found, or that it was not. */
export type ModuleState = "builtin" | "loaded" | "present" | "modprobed" | "missing";

/** One required module and how this kernel provides it. */
export interface ModuleStatus {
  /** Module name, e.g. `ip_vs_rr`. */
  readonly name: string;
  /**
   * `builtin` (listed in modules.builtin), `loaded` (in /proc/modules), `present` (its /proc
   * file exists), `modprobed` (loaded just now), `missing`.
   */
  readonly state: ModuleState;
  /** A sentence saying where it was found or why it is missing. */
  readonly detail: string;
}

/** What {@link ensureModules} looks at. */
export interface EnsureModulesOptions {
  /** Modules to find or load. */
  readonly modules: readonly string[];
  /** The running kernel's release, to find `/lib/modules/<release>/modules.builtin`. */
  readonly release: string | undefined;
  /** Runs `modprobe`. */
  readonly run: CommandRunner;
  /** Reads modules.builtin, /proc/modules and the evidence files. */
  readonly readTextFile: ReadTextFile;
}

/**
 * Finds each module built in or loaded, tries `modprobe -- <name>` for the others, and checks
 * again; resolves with one status per module, in order.
 */
export async function ensureModules(options: EnsureModulesOptions): Promise<ModuleStatus[]> {
  const { modules, release, run, readTextFile } = options;
  const builtinPath = release === undefined ? undefined : `/lib/modules/${release}/modules.builtin`;
  const builtinText = builtinPath === undefined ? undefined : await readTextFile(builtinPath);
  const builtin = parseModulesBuiltin(builtinText ?? "");
  const before = await findPresent(modules, builtin, readTextFile);

  const modprobeErrors = new Map<string, string>();
  for (const name of modules) {
    if (before.has(name)) continue;
    const result = await run(["modprobe", "--", name]);
    if (result.code !== 0) {
      modprobeErrors.set(name, result.stderr.trim() || `exit code ${result.code}`);
    }
  }
  const after = modprobeErrors.size === modules.length - before.size
    ? before
    : await findPresent(modules, builtin, readTextFile);

  const where = describeSources(builtinPath, builtinText !== undefined);
  return modules.map((name): ModuleStatus => {
    const found = before.get(name);
    if (found !== undefined) return { name, ...found };
    if (after.has(name)) {
      return { name, state: "modprobed", detail: `loaded just now with 'modprobe -- ${name}'` };
    }
    const error = modprobeErrors.get(name);
    const tried = error === undefined
      ? `'modprobe -- ${name}' succeeded but it is still not listed`
      : `'modprobe -- ${name}' failed: ${error}`;
    return { name, state: "missing", detail: `not ${where}; ${tried}` };
  });
}

type Found = { state: ModuleState; detail: string };

/** Where each present module was found; absent names are missing. */
async function findPresent(
  modules: readonly string[],
  builtin: ReadonlySet<string>,
  readTextFile: ReadTextFile,
): Promise<Map<string, Found>> {
  const loaded = parseProcModules(await readTextFile("/proc/modules") ?? "");
  const found = new Map<string, Found>();
  for (const name of modules) {
    if (builtin.has(name)) {
      found.set(name, { state: "builtin", detail: "built into the kernel (modules.builtin)" });
    } else if (loaded.has(name)) {
      found.set(name, { state: "loaded", detail: "loaded (/proc/modules)" });
    } else if (EVIDENCE_FILES[name] && await readTextFile(EVIDENCE_FILES[name]) !== undefined) {
      found.set(name, { state: "present", detail: `in the kernel (${EVIDENCE_FILES[name]})` });
    }
  }
  return found;
}

function describeSources(builtinPath: string | undefined, builtinRead: boolean): string {
  const builtin = builtinPath === undefined
    ? "built in (kernel release unknown)"
    : builtinRead
    ? `built in (${builtinPath})`
    : `built in (${builtinPath} is not readable)`;
  return `${builtin} nor loaded (/proc/modules)`;
}

/**
 * Whether the running kernel has IPVS loaded: `/proc/net/ip_vs` exists exactly then. Used where
 * a missing IPVS is not an error (cleanup must still remove our sets and rules).
 */
export async function ipvsAvailable(readTextFile: ReadTextFile = readTextFileIfExists): Promise<
  boolean
> {
  return (await readTextFile("/proc/net/ip_vs")) !== undefined;
}

/**
 * Whether the kernel runs IPv6 (`/proc/net/if_inet6` exists unless it was booted with
 * `ipv6.disable=1`); without it `ip6tables-save` fails, so the IPv6 half is not read at all.
 */
export async function ipv6Available(readTextFile: ReadTextFile = readTextFileIfExists): Promise<
  boolean
> {
  return (await readTextFile("/proc/net/if_inet6")) !== undefined;
}
