/**
 * Runs a command in a throwaway Linux VM (qemu, TCG) whose kernel has IPVS, with the host's root
 * visible read-only (under a tmpfs overlay) and the project directory read-write at its own path,
 * so the guest runs the host's own deno, ipvsadm, ipset, iptables and ip.
 *
 * The command's stdout and stderr come back over virtio-serial ports, live; the kernel console
 * goes to a log that is shown when the VM itself fails.
 *
 * CLI: `deno run -A tests/vm/vm.ts [--timeout SECONDS] [--memory MB] [--cpus N] -- command...`
 * exits with the command's exit code, or {@linkcode VM_FAILURE_CODE} when the VM failed.
 *
 * @example
 * ```ts
 * import { runInVm } from "./vm.ts";
 * const result = await runInVm({ command: ["ipvsadm", "-Ln"] });
 * console.log(result.code, result.stdout);
 * ```
 *
 * @module
 */

import { onPath, VmSetupError } from "./host_command.ts";
import { type InitConf, renderInitConf, renderRequest } from "./guest_files.ts";
import { type PortName, PORTS, qemuArgs } from "./qemu_args.ts";
import { prepareVm, type VmImage } from "./prepare.ts";

export { VmSetupError };

/** Options of {@linkcode runInVm}. */
export interface RunInVmOptions {
  /** Program and arguments, run in the guest; `deno` is the host's deno binary. */
  command: string[];
  /** Working directory in the guest. @default the host's current directory */
  cwd?: string;
  /** Extra environment for the command, over the defaults (see {@linkcode guestEnv}). */
  env?: Record<string, string>;
  /** Kill the VM after this long. @default 600000 (10 minutes) */
  timeoutMs?: number;
  /** Guest memory. @default 2048 */
  memoryMb?: number;
  /** Guest CPUs. @default 2 */
  cpus?: number;
  /** Directory shared read-write. @default the repository root (two levels above this file) */
  projectDir?: string;
  /** Modules loaded before the command runs. @default {@linkcode DEFAULT_PRELOAD} */
  preload?: readonly string[];
  /** Use this kernel and initramfs instead of {@linkcode prepareVm}'s. */
  image?: VmImage;
  /** Called with each piece of the command's stdout as it arrives. */
  onStdout?(chunk: string): void;
  /** Called with each piece of the command's stderr as it arrives. */
  onStderr?(chunk: string): void;
}

/** How a command that ran to completion in the VM ended. */
export interface RunInVmResult {
  /** The command's exit code. */
  code: number;
  /** Everything the command wrote to stdout. */
  stdout: string;
  /** Everything the command wrote to stderr. */
  stderr: string;
  /** The kernel console (warnings and errors only). */
  console: string;
  /** From starting qemu to qemu's exit. */
  wallMs: number;
  /** From starting qemu to the guest being ready to run the command (modules loaded). */
  bootMs: number;
}

/** Exit code of the CLI when the VM, not the command, failed (like `git bisect run`'s skip). */
export const VM_FAILURE_CODE = 125;

/** The VM failed to boot, to run the command, or to finish in time. */
export class VmError extends Error {
  /** The kernel console. */
  readonly console: string;
  /** What the command printed before the VM failed. */
  readonly stdout: string;
  /** What the command printed on stderr before the VM failed. */
  readonly stderr: string;

  /** Creates the error; the message ends with the tail of the console. */
  constructor(reason: string, output: { console: string; stdout: string; stderr: string }) {
    super(
      `${reason}\n--- last lines of the guest's kernel console ---\n${tail(output.console, 40)}`,
    );
    this.name = "VmError";
    this.console = output.console;
    this.stdout = output.stdout;
    this.stderr = output.stderr;
  }
}

/**
 * Modules loaded before the command: IPVS with every scheduler, conntrack, the link types and
 * set types kube-proxy uses, and the iptables modules for set matches. Anything else loads on
 * demand through the guest's modprobe.
 */
export const DEFAULT_PRELOAD: readonly string[] = [
  "ip_vs",
  ...["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"]
    .map((s) => `ip_vs_${s}`),
  "nf_conntrack",
  "dummy",
  "veth",
  "ip_set",
  ...["hash_ip", "hash_ipport", "hash_ipportip", "hash_ipportnet", "hash_net", "bitmap_port"]
    .map((t) => `ip_set_${t}`),
  "xt_set",
];

/** Host variables passed through to the guest when set (deno's cache, colours, test switches). */
const PASS_THROUGH = ["HOME", "DENO_DIR", "XDG_CACHE_HOME", "NO_COLOR", "REQUIRE_KERNEL_TESTS"];

/**
 * The guest command's environment: PATH starting with the host deno's directory (so `deno` is
 * the same binary), `IPVS_PROXY_VM=1` (tests/kernel checks it), the {@linkcode PASS_THROUGH}
 * variables, then `extra`.
 */
export function guestEnv(extra: Record<string, string> = {}): Record<string, string> {
  const denoDir = Deno.execPath().slice(0, Deno.execPath().lastIndexOf("/"));
  const env: Record<string, string> = {
    PATH: `${denoDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    HOME: "/root",
    LANG: "C.UTF-8",
    IPVS_PROXY_VM: "1",
    DENO_NO_UPDATE_CHECK: "1",
  };
  for (const name of PASS_THROUGH) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

const REPO_ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname).replace(
  /\/$/,
  "",
);

/**
 * Boots a VM, runs `options.command` in it and returns its exit code and output. Throws
 * {@linkcode VmSetupError} when qemu or the kernel is not available, {@linkcode VmError} when the
 * VM fails (qemu error, boot failure, kernel panic, timeout).
 */
export async function runInVm(options: RunInVmOptions): Promise<RunInVmResult> {
  const image = options.image ?? await prepareVm();
  const qemu = onPath("qemu-system-x86_64");
  if (!qemu) {
    throw new VmSetupError("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)");
  }
  const runDir = await Deno.makeTempDir({ prefix: "ipvs-vm-" });
  try {
    // Real paths: the guest's init resolves paths before the host's root is its root, where an
    // absolute symlink would point nowhere.
    const projectDir = await realPath("project directory", options.projectDir ?? REPO_ROOT);
    const conf: InitConf = {
      projectDir,
      modulesDir: await realPath("kernel modules", image.kernel.modulesDir),
      preload: options.preload ?? DEFAULT_PRELOAD,
      // Later than the host's own timeout, which normally ends the VM first.
      deadlineSeconds: timeoutMs(options) / 1000 + 30,
      ...await denoDirConf(),
    };
    await Deno.writeTextFile(`${runDir}/init.conf`, renderInitConf(conf));
    await Deno.writeTextFile(
      `${runDir}/request.sh`,
      renderRequest({
        command: options.command,
        cwd: options.cwd ?? Deno.cwd(),
        env: guestEnv(options.env),
      }),
    );
    return await boot(qemu, runDir, image, projectDir, options);
  } finally {
    await Deno.remove(runDir, { recursive: true }).catch(() => {});
  }
}

/** The host's DENO_DIR, when set and present, for the guest to see (see `InitConf.denoDir`). */
async function denoDirConf(): Promise<{ denoDir?: string }> {
  const denoDir = Deno.env.get("DENO_DIR");
  if (denoDir === undefined || denoDir === "") return {};
  return { denoDir: await realPath("deno cache (DENO_DIR)", denoDir) };
}

function timeoutMs(options: RunInVmOptions): number {
  return options.timeoutMs ?? 600_000;
}

async function realPath(what: string, path: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch (error) {
    throw new VmSetupError(`Cannot share the ${what} '${path}' with the VM: ${error}`, {
      cause: error,
    });
  }
}

/** Starts qemu, collects the ports until it exits, and decides how the run ended. */
async function boot(
  qemu: string,
  runDir: string,
  image: VmImage,
  projectDir: string,
  options: RunInVmOptions,
): Promise<RunInVmResult> {
  const listeners = PORTS.map((name) =>
    Deno.listen({ transport: "unix", path: `${runDir}/${name}.sock` })
  );
  const args = qemuArgs({
    vmlinux: image.kernel.vmlinux,
    initramfs: image.initramfs,
    memoryMb: options.memoryMb ?? 2048,
    cpus: options.cpus ?? 2,
    runDir,
    projectDir,
  });
  const started = performance.now();
  const child = new Deno.Command(qemu, { args, stdin: "null", stdout: "piped", stderr: "piped" })
    .spawn();
  const ports = readPorts(listeners, options, started);

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs(options));
  const qemuStatus = await child.output();
  clearTimeout(timer);
  const wallMs = performance.now() - started;
  // qemu has exited and closed its ends: read what is left; a port it never connected gives up.
  for (const listener of listeners) listener.close();
  await ports.done;

  const consoleText = await Deno.readTextFile(`${runDir}/console.log`).catch(() => "");
  const { stdout, stderr, exitCode, guestError, bootMs } = ports;
  const seen = { console: consoleText, stdout, stderr };
  if (timedOut) {
    const limit = timeoutMs(options) / 1000;
    throw new VmError(`The VM did not finish within ${limit} s and was killed`, seen);
  }
  if (guestError !== undefined) throw new VmError(`The guest's init failed: ${guestError}`, seen);
  if (exitCode === undefined) {
    const why = qemuStatus.success
      ? "the guest stopped without reporting the command's exit code (did the kernel panic?)"
      : `qemu exited with code ${qemuStatus.code}: ` +
        new TextDecoder().decode(qemuStatus.stderr).trim();
    throw new VmError(`The VM failed: ${why}`, seen);
  }
  return { code: exitCode, stdout, stderr, console: consoleText, wallMs, bootMs };
}

/** What came over the ports so far; `done` settles when every port has closed. */
interface PortState {
  stdout: string;
  stderr: string;
  bootMs: number;
  exitCode?: number;
  guestError?: string;
  done: Promise<void>;
}

/** Reads the stdout, stderr and status ports (see init.sh for the status lines). */
function readPorts(
  listeners: Deno.Listener[],
  options: RunInVmOptions,
  started: number,
): PortState {
  const state: PortState = { stdout: "", stderr: "", bootMs: -1, done: Promise.resolve() };
  const onStatus = (line: string): void => {
    const [event, ...rest] = line.split(" ");
    if (event === "ready") state.bootMs = performance.now() - started;
    else if (event === "exit") state.exitCode = Number(rest[0]);
    else if (event === "error") state.guestError = rest.join(" ");
  };
  const handlers: Record<PortName, (chunk: string) => void> = {
    stdout: (chunk) => {
      state.stdout += chunk;
      options.onStdout?.(chunk);
    },
    stderr: (chunk) => {
      state.stderr += chunk;
      options.onStderr?.(chunk);
    },
    status: lineSplitter(onStatus),
  };
  state.done = Promise.all(listeners.map((listener, i) => pump(listener, handlers[PORTS[i]])))
    .then(() => {});
  return state;
}

/** Reads one connection of a listener to its end, decoding UTF-8 across chunk boundaries. */
async function pump(listener: Deno.Listener, onChunk: (chunk: string) => void): Promise<void> {
  let conn: Deno.Conn;
  try {
    conn = await listener.accept();
  } catch {
    return; // closed before qemu connected
  }
  const decoder = new TextDecoder();
  for await (const bytes of conn.readable) {
    const text = decoder.decode(bytes, { stream: true });
    if (text !== "") onChunk(text);
  }
  const rest = decoder.decode();
  if (rest !== "") onChunk(rest);
}

/** A chunk callback that writes everything it gets to `file` (e.g. Deno.stdout), unbuffered. */
export function writeTo(file: { writeSync(bytes: Uint8Array): number }): (chunk: string) => void {
  const encoder = new TextEncoder();
  return (chunk) => {
    let bytes = encoder.encode(chunk);
    while (bytes.length > 0) bytes = bytes.subarray(file.writeSync(bytes));
  };
}

function lineSplitter(onLine: (line: string) => void): (chunk: string) => void {
  let pending = "";
  return (chunk) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) onLine(line);
  };
}

function tail(text: string, lines: number): string {
  if (text.trim() === "") return "(empty: the kernel did not get far enough to print anything)";
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Parses the CLI's arguments: options, then `--`, then the command. */
export function parseCliArgs(args: readonly string[]): {
  timeoutMs: number;
  memoryMb?: number;
  cpus?: number;
  command: string[];
} {
  const dash = args.indexOf("--");
  const flags = dash < 0 ? [] : args.slice(0, dash);
  const command = dash < 0 ? [...args] : args.slice(dash + 1);
  const parsed: { timeoutMs: number; memoryMb?: number; cpus?: number } = { timeoutMs: 600_000 };
  for (let i = 0; i < flags.length; i += 2) {
    const value = Number(flags[i + 1]);
    if (!Number.isFinite(value) || value <= 0) {
      throw new Error(
        `Cannot parse '${flags[i]} ${flags[i + 1] ?? ""}': expected a positive number`,
      );
    }
    if (flags[i] === "--timeout") parsed.timeoutMs = value * 1000;
    else if (flags[i] === "--memory") parsed.memoryMb = value;
    else if (flags[i] === "--cpus") parsed.cpus = value;
    else throw new Error(`Unknown option '${flags[i]}': expected --timeout, --memory or --cpus`);
  }
  if (command.length === 0) {
    throw new Error("Usage: deno run -A tests/vm/vm.ts [--timeout SECONDS] -- command...");
  }
  return { ...parsed, command };
}

async function main(): Promise<number> {
  let cli;
  try {
    cli = parseCliArgs(Deno.args);
  } catch (error) {
    console.error(`tests/vm/vm.ts: ${(error as Error).message}`);
    return 2;
  }
  try {
    const result = await runInVm({
      ...cli,
      onStdout: writeTo(Deno.stdout),
      onStderr: writeTo(Deno.stderr),
    });
    console.error(
      `tests/vm/vm.ts: exit ${result.code}; booted in ${(result.bootMs / 1000).toFixed(1)} s, ` +
        `${(result.wallMs / 1000).toFixed(1)} s in all`,
    );
    return result.code;
  } catch (error) {
    if (!(error instanceof VmError || error instanceof VmSetupError)) throw error;
    console.error(`tests/vm/vm.ts: ${error.message}`);
    return VM_FAILURE_CODE;
  }
}

if (import.meta.main) Deno.exit(await main());
