/**
 * The one way this project runs a tool: an argument array (never a shell string), optional stdin
 * text, and a result that carries the exit code instead of throwing. Also the error a caller throws
 * when a tool rejected its input ({@link ToolError}, naming the rejected line), a runner that
 * counts kernel-changing calls ({@link countingRunner}) and a scripted fake ({@link scriptedRunner}).
 *
 * @module
 */

/** What a finished tool process left behind. */
export interface CommandResult {
  /** Exit code; 127 when the program was not found, 126 when it could not be started. */
  code: number;
  /** Everything written to standard output. */
  stdout: string;
  /** Everything written to standard error. */
  stderr: string;
}

/** Runs one tool; resolves with its result whatever the exit code. */
export type CommandRunner = (
  argv: readonly string[],
  options?: RunOptions,
) => Promise<CommandResult>;

/** How to run one tool. */
export interface RunOptions {
  /** Text for the tool's stdin; none (`/dev/null`) when absent. */
  readonly stdin?: string;
  /**
   * How long the tool may run before it is killed and reported with exit code 124, so a tool
   * stuck on a lock (an `iptables-restore` waiting for the xtables lock) cannot hang the sync.
   * @default {120000}
   */
  readonly timeoutMs?: number;
}

/** The exit code of a tool killed for running too long (as coreutils' `timeout` uses). */
export const TIMED_OUT = 124;

/** A tool that runs longer than this is stuck; a real sync's batches take seconds at most. */
export const DEFAULT_TOOL_TIMEOUT_MS = 120_000;

/** Runs its arguments and exits with their status, 128+N when a signal N killed them. */
const SIGNAL_SAFE_WRAPPER = '"$@"; exit $?';

/**
 * Runs `argv` with dax: each element is passed as one argument, stdin is `options.stdin` or
 * nothing (`/dev/null`), stdout and stderr are captured. Never throws for a non-zero exit; a
 * program that is not on PATH gives code 127 and a `command not found` stderr.
 *
 * The tool runs as `sh -c '"$@"; exit $?' sh timeout -k 5 SECONDS TOOL ARGS...`: coreutils'
 * `timeout` kills a tool stuck past `timeoutMs` (exit code 124), and the constant `sh` wrapper
 * turns a death by signal into the usual 128+N status, because dax-sh 0.44.1 reports a child
 * killed by a signal (the OOM killer, `kill -9`) as exit code 0, which would make a killed
 * `iptables-restore` look like a success. The arguments travel as an array (`"$@"`), never as
 * shell text.
 *
 * @example
 * ```ts
 * import { runCommand } from "./command.ts";
 * const result = await runCommand(["ipset", "--version"]);
 * if (result.code !== 0) console.error(result.stderr);
 * ```
 */
export const runCommand: CommandRunner = async (
  argv: readonly string[],
  options: RunOptions = {},
): Promise<CommandResult> => {
  if (argv.length === 0) throw new TypeError("runCommand() needs at least a program name");
  const $ = await loadDax();
  // A resolved path, because dax runs its own built-ins for bare names like `cat` or `echo`.
  const program = argv[0].includes("/") ? argv[0] : await $.which(argv[0]);
  if (program === undefined) return notFound(argv[0]);
  const seconds = String((options.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS) / 1000);
  const guarded = ["timeout", "-k", "5", seconds, program, ...argv.slice(1)];
  const base = $`${["sh", "-c", SIGNAL_SAFE_WRAPPER, "sh", ...guarded]}`
    .noThrow().stdout("piped").stderr("piped");
  const command = options.stdin === undefined ? base.stdin("null") : base.stdinText(options.stdin);
  try {
    const result = await command;
    // `timeout: failed to run command '/sbin/ipvsadm': No such file or directory`
    if (result.code === 127 && /^timeout: failed to run command/.test(result.stderr)) {
      return notFound(argv[0]);
    }
    if (result.code === TIMED_OUT) {
      const seconds = (options.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS) / 1000;
      const note = `${argv[0]}: killed after ${seconds} s (timed out)\n`;
      return { code: TIMED_OUT, stdout: result.stdout, stderr: result.stderr + note };
    }
    return { code: result.code, stdout: result.stdout, stderr: result.stderr };
  } catch (error) {
    // dax throws (instead of returning a code) when the file exists but cannot be executed.
    return { code: 126, stdout: "", stderr: `${argv[0]}: cannot run: ${errorText(error)}\n` };
  }
};

function notFound(program: string): CommandResult {
  return {
    code: 127,
    stdout: "",
    stderr: `${program}: command not found (is it installed and on PATH?)\n`,
  };
}

/**
 * dax is loaded on first use: importing it reads the environment, and the fakes and parsers in
 * this module must stay importable by tests that run without permissions.
 */
async function loadDax(): Promise<typeof import("dax-sh").default> {
  return (await import("dax-sh")).default;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Thrown by callers when a tool exited non-zero; names the input line it rejected. */
export class ToolError extends Error {
  /** The tool, e.g. `ipset restore` or `iptables-restore`. */
  readonly tool: string;
  /** The full argument array that was run. */
  readonly argv: readonly string[];
  /** The stdin line the tool rejected, or `""` when its stderr does not say. */
  readonly line: string;
  /** The tool's standard error. */
  readonly stderr: string;
  /** The tool's exit code. */
  readonly code: number;

  /** Builds the error from what was run and what came back. */
  constructor(
    init: {
      tool?: string;
      argv: readonly string[];
      stdin?: string;
      result: CommandResult;
      cause?: unknown;
    },
  ) {
    const tool = init.tool ?? toolName(init.argv);
    const line = rejectedLine(tool, init.stdin ?? "", init.result.stderr);
    const where = line === "" ? "" : ` at input line ${JSON.stringify(line)}`;
    const said = init.result.stderr.trim() || init.result.stdout.trim() || "(no output)";
    super(`'${tool}' failed with exit code ${init.result.code}${where}: ${said}`, {
      cause: init.cause,
    });
    this.name = "ToolError";
    this.tool = tool;
    this.argv = [...init.argv];
    this.line = line;
    this.stderr = init.result.stderr;
    this.code = init.result.code;
  }
}

/** Runs `argv` and throws a {@link ToolError} unless it exits 0; resolves with its stdout. */
export async function runOrThrow(
  run: CommandRunner,
  argv: readonly string[],
  options: { stdin?: string; tool?: string } = {},
): Promise<string> {
  const result = await run(argv, options.stdin === undefined ? {} : { stdin: options.stdin });
  if (result.code !== 0) {
    throw new ToolError({ tool: options.tool, argv, stdin: options.stdin, result });
  }
  return result.stdout;
}

/** The program's base name: `/usr/sbin/ipset` -> `ipset`. */
export function programName(argv: readonly string[]): string {
  return (argv[0] ?? "").split("/").pop() ?? "";
}

/** A short label for logs and errors: `ipset restore`, `ipvsadm --restore`, `iptables-restore`. */
export function toolName(argv: readonly string[]): string {
  const program = programName(argv);
  if (program === "ipset") {
    const command = firstOperand(argv.slice(1), IPSET_OPTIONS_WITH_VALUE);
    return command === undefined ? program : `${program} ${command}`;
  }
  if (program === "ipvsadm" || program === "ip") {
    return argv.length > 1 ? `${program} ${argv[1]}` : program;
  }
  return program;
}

/**
 * How each tool names the failing input line in its stderr (1-based). Real output:
 * - `ipset v7.17: Error in line 3: Syntax error: cannot parse bogus: resolving to IPv4 address failed`
 * - `iptables-restore v1.8.9 (nf_tables): Chain 'NOPE' does not exist` + `Error occurred at line: 4`
 * - `ip6tables-restore: line 6 failed: No chain/target/match by that name.` (and legacy `line 5 failed`)
 * - `iptables-restore: COMMIT expected at line 4`
 * - `ip -batch -`: `Error: Unknown device type.` + `Command failed -:2`
 * Stock `ipvsadm --restore` prints no line number (`Service not defined`), so for it only the
 * one-line-input rule below applies.
 */
const LINE_PATTERNS: Record<string, readonly RegExp[]> = {
  ipset: [/\bError in line (\d+)/],
  iptables: [/\bError occurred at line: (\d+)/, /\bline (\d+) failed\b/, /\bat line:? (\d+)/],
  ip: [/\bCommand failed [^\s:]*:(\d+)/],
  ipvsadm: [/\bline:? (\d+)/],
};

/**
 * The stdin line a restore tool rejected, found from the line number in its stderr, or `""`
 * when the stderr names none (or names one past the input). When the input has a single
 * non-blank line, that line is the one rejected.
 *
 * @example
 * ```ts
 * import { rejectedLine } from "./command.ts";
 * const stdin = "create foo hash:ip\nadd foo 1.2.3.4\nadd foo bogus\n";
 * rejectedLine("ipset restore", stdin, "ipset v7.17: Error in line 3: Syntax error: ...");
 * // -> "add foo bogus"
 * ```
 */
export function rejectedLine(tool: string, stdin: string, stderr: string): string {
  const lines = stdin.split("\n").map((line) => line.replace(/\r$/, ""));
  for (const pattern of linePatterns(tool)) {
    const match = pattern.exec(stderr);
    if (match === null) continue;
    const line = lines[Number(match[1]) - 1];
    if (line !== undefined && line.trim() !== "") return line;
  }
  const nonBlank = lines.filter((line) => line.trim() !== "");
  return nonBlank.length === 1 ? nonBlank[0] : "";
}

/** The patterns for `tool` (`ip6tables-restore` counts as iptables); all of them if unknown. */
function linePatterns(tool: string): readonly RegExp[] {
  const program = (tool.trim().split(/\s+/)[0] ?? "").split("/").pop() ?? "";
  const family = /^ip6?tables/.test(program) ? "iptables" : program;
  return LINE_PATTERNS[family] ?? Object.values(LINE_PATTERNS).flat();
}

/** A runner that records every call and counts those that change the kernel. */
export type CountingRunner = CommandRunner & {
  /** Every argument array run so far, in order. */
  readonly calls: string[][];
  /** How many of {@link calls} were kernel writes (see {@link isWriteCommand}). */
  writes(): number;
};

/**
 * Wraps `inner`, recording each call, so tests can assert "a no-op sync ran no write command".
 *
 * @example
 * ```ts
 * import { countingRunner, runCommand } from "./command.ts";
 * const run = countingRunner(runCommand);
 * await run(["ipset", "--version"]);
 * run.writes(); // 0
 * ```
 */
export function countingRunner(inner: CommandRunner): CountingRunner {
  const calls: string[][] = [];
  const runner: CommandRunner = (argv, options) => {
    calls.push([...argv]);
    return inner(argv, options);
  };
  return Object.assign(runner, {
    calls,
    writes: () => calls.filter(isWriteCommand).length,
  });
}

const IPSET_OPTIONS_WITH_VALUE = new Set(["-o", "-output", "-f", "-file"]);
const IPSET_WRITES = new Set([
  "restore",
  "create",
  "n",
  "add",
  "a",
  "del",
  "d",
  "destroy",
  "x",
  "flush",
  "f",
  "rename",
  "e",
  "swap",
  "w",
]);
const IPTABLES_WRITES = new Set([
  "-A",
  "--append",
  "-I",
  "--insert",
  "-D",
  "--delete",
  "-R",
  "--replace",
  "-N",
  "--new-chain",
  "-X",
  "--delete-chain",
  "-F",
  "--flush",
  "-Z",
  "--zero",
  "-P",
  "--policy",
  "-E",
  "--rename-chain",
]);
/** ipvsadm's commands that change the table; short ones may be bundled (`-Sn` is a read). */
const IPVSADM_WRITE_LETTERS = new Set(["A", "E", "D", "C", "R", "a", "e", "d", "Z"]);
const IPVSADM_WRITE_LONG = new Set([
  "--add-service",
  "--edit-service",
  "--delete-service",
  "--clear",
  "--restore",
  "--add-server",
  "--edit-server",
  "--delete-server",
  "--zero",
  "--set",
  "--start-daemon",
  "--stop-daemon",
]);
const IP_OPTIONS_WITH_VALUE = new Set(["-f", "-family", "-n", "-netns", "-l", "-loops", "-rc"]);
const IP_READ_VERBS = new Set(["show", "list", "lst", "ls", "get", "help", "save", "monitor"]);
// `-R` (`--load-file`) runs the commands of a file (deletes, here) as if given one by one.
const CONNTRACK_WRITES = new Set([
  "-D",
  "--delete",
  "-F",
  "--flush",
  "-I",
  "--create",
  "-U",
  "-R",
  "--load-file",
]);
/** Tools known to only read; any other unknown tool counts as a write, to be safe. */
const READ_ONLY_TOOLS = new Set([
  "uname",
  "cat",
  "lsmod",
  "iptables-save",
  "ip6tables-save",
  "iptables-legacy-save",
  "ip6tables-legacy-save",
  "iptables-nft-save",
  "ip6tables-nft-save",
]);

/**
 * Whether running `argv` changes the kernel: restore/apply commands (`ipset restore`,
 * `iptables-restore`, `ipvsadm --restore`/`-R`/`--set`, `ip -batch`, `ip link add`, `sysctl -w`,
 * `modprobe`, ...) are writes; reads (`ipset save`/`list`, `iptables-save`, `ipvsadm -Sn`/`-Ln`,
 * `ip -j addr`, `--version`) are not. Unknown tools count as writes.
 */
export function isWriteCommand(argv: readonly string[]): boolean {
  const program = programName(argv);
  const args = argv.slice(1);
  if (READ_ONLY_TOOLS.has(program)) return false;
  if (program === "ipset") {
    return IPSET_WRITES.has(firstOperand(args, IPSET_OPTIONS_WITH_VALUE) ?? "");
  }
  if (/^ip6?tables(-legacy|-nft)?-restore$/.test(program)) {
    return !args.some((a) => a === "--test" || a === "-t");
  }
  if (/^ip6?tables(-legacy|-nft)?$/.test(program)) return args.some((a) => IPTABLES_WRITES.has(a));
  if (program === "ipvsadm") return args.some(isIpvsadmWrite);
  if (program === "ip") return isIpWrite(args);
  if (program === "sysctl") {
    return args.some((a) => ["-w", "--write", "-p", "--load", "--system"].includes(a)) ||
      args.some((a) => !a.startsWith("-") && a.includes("="));
  }
  if (program === "modprobe") {
    return !args.some((a) =>
      ["-n", "--dry-run", "--show-depends", "-c", "--showconfig"].includes(a)
    );
  }
  if (program === "conntrack") return args.some((a) => CONNTRACK_WRITES.has(a));
  return !args.every((a) => a === "--version" || a === "-v" || a === "-V");
}

function isIpvsadmWrite(arg: string): boolean {
  if (arg.startsWith("--")) return IPVSADM_WRITE_LONG.has(arg);
  return arg.startsWith("-") && [...arg.slice(1)].some((c) => IPVSADM_WRITE_LETTERS.has(c));
}

/** `ip -batch -` writes; `ip link add ...` writes; `ip -j addr` (no verb = show) reads. */
function isIpWrite(args: readonly string[]): boolean {
  if (args.some((a) => a === "-batch" || a === "-b" || a === "--batch")) return true;
  const objectIndex = operandIndex(args, IP_OPTIONS_WITH_VALUE);
  if (objectIndex < 0) return false;
  const verb = args[objectIndex + 1];
  return verb !== undefined && !IP_READ_VERBS.has(verb);
}

/** Index of the first argument that is not an option (or an option's value); -1 if none. */
function operandIndex(args: readonly string[], optionsWithValue: ReadonlySet<string>): number {
  for (let i = 0; i < args.length; i++) {
    if (optionsWithValue.has(args[i])) i++;
    else if (!args[i].startsWith("-")) return i;
  }
  return -1;
}

function firstOperand(
  args: readonly string[],
  optionsWithValue: ReadonlySet<string>,
): string | undefined {
  const index = operandIndex(args, optionsWithValue);
  return index < 0 ? undefined : args[index];
}

/** One scripted answer: missing fields default to exit 0 and empty output. */
export type ScriptedAnswer = Partial<CommandResult>;

/**
 * A fake runner for tests: answers each call from `script`, keyed by the arguments joined with
 * single spaces, or from a function (which may return `undefined` to fall through). Unscripted
 * calls get code 127, like a missing program. Counts calls like {@link countingRunner}.
 *
 * @example
 * ```ts
 * import { scriptedRunner } from "./command.ts";
 * const run = scriptedRunner({ "ipset --version": { stdout: "ipset v7.17, protocol version: 7\n" } });
 * await run(["ipset", "--version"]); // { code: 0, stdout: "ipset v7.17, ...", stderr: "" }
 * ```
 */
export function scriptedRunner(
  script:
    | Record<string, ScriptedAnswer>
    | ((argv: readonly string[], stdin: string | undefined) => ScriptedAnswer | undefined),
): CountingRunner & { readonly stdins: (string | undefined)[] } {
  const stdins: (string | undefined)[] = [];
  const answer = typeof script === "function" ? script : (argv: readonly string[]) => {
    const key = argv.join(" ");
    return Object.hasOwn(script, key) ? script[key] : undefined;
  };
  const counted = countingRunner((argv, options) => {
    stdins.push(options?.stdin);
    const found = answer(argv, options?.stdin);
    if (found === undefined) {
      return Promise.resolve({
        code: 127,
        stdout: "",
        stderr: `${argv[0]}: not scripted: ${argv.join(" ")}\n`,
      });
    }
    return Promise.resolve({ code: 0, stdout: "", stderr: "", ...found });
  });
  return Object.assign(counted, { stdins });
}
