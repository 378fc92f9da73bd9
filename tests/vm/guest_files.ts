/**
 * Renders the two files the guest's /init reads from the run directory: `init.conf` (where the
 * project and the kernel modules are) and `request.sh` (the command to run). Every value is
 * single-quoted, so no argument, path or environment value can break out into shell syntax.
 *
 * @module
 */

/** What the guest's init needs to know (see tests/vm/init.sh). */
export interface InitConf {
  /** Host directory mounted read-write at the same path in the guest. */
  projectDir: string;
  /** Host path of `lib/modules/<release>` for the guest kernel. */
  modulesDir: string;
  /** Modules to load with modprobe before running the command. */
  preload: readonly string[];
  /**
   * The guest powers itself off after this many seconds, so a VM whose host process was killed
   * (and so cannot enforce its timeout) does not run forever.
   */
  deadlineSeconds: number;
  /**
   * The host's `DENO_DIR`, when set: shown at the same path in the guest under an overlay
   * (writes vanish with the VM), because a cache under /tmp or /run would otherwise be hidden
   * by the guest's fresh tmpfs mounts, and the guest has no network to fill another.
   */
  denoDir?: string;
}

/** The command the guest runs. */
export interface GuestRequest {
  /** Program and arguments; the program is looked up on the guest's PATH. */
  command: readonly string[];
  /** Working directory in the guest (the host's paths are the guest's paths). */
  cwd: string;
  /** The complete environment of the command. */
  env: Readonly<Record<string, string>>;
}

/** Quotes one word for a POSIX shell: `it's` -> `'it'\''s'`. */
export function shellQuote(word: string): string {
  if (word.includes("\0")) {
    throw new Error(`Cannot pass ${JSON.stringify(word)} to the guest: it contains a NUL byte`);
  }
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Renders `init.conf`, sourced by the guest's busybox sh. */
export function renderInitConf(conf: InitConf): string {
  for (const name of conf.preload) {
    if (!/^[A-Za-z0-9_-]+$/.test(name)) {
      throw new Error(
        `Cannot preload kernel module '${name}': expected a module name like ip_vs_rr`,
      );
    }
  }
  return [
    `PROJECT_DIR=${shellQuote(conf.projectDir)}`,
    `MODULES_DIR=${shellQuote(conf.modulesDir)}`,
    `PRELOAD=${shellQuote(conf.preload.join(" "))}`,
    `DEADLINE=${Math.ceil(conf.deadlineSeconds)}`,
    `DENO_CACHE_DIR=${shellQuote(conf.denoDir ?? "")}`,
    "",
  ].join("\n");
}

/** Exit code of request.sh when the working directory does not exist in the guest. */
export const CWD_FAILED_CODE = 126;

/**
 * Renders `request.sh`: cd, then exec the command through `env -i` with exactly the given
 * environment (nothing of the guest init's environment leaks in; env searches the new PATH).
 */
export function renderRequest(request: GuestRequest): string {
  if (request.command.length === 0) throw new Error("Cannot run an empty command in the VM");
  const assignments = Object.entries(request.env).map(([name, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new Error(`Cannot set environment variable '${name}' in the VM: not a valid name`);
    }
    return shellQuote(`${name}=${value}`);
  });
  if (request.command[0].includes("=")) {
    throw new Error(
      `Cannot run '${request.command[0]}' in the VM: env would take it for a variable`,
    );
  }
  return [
    "# Written by tests/vm/vm.ts for one run; executed by the guest's /bin/sh.",
    `cd ${shellQuote(request.cwd)} || exit ${CWD_FAILED_CODE}`,
    `exec env -i ${[...assignments, ...request.command.map(shellQuote)].join(" ")}`,
    "",
  ].join("\n");
}
