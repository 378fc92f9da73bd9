/**
 * {@linkcode spawnTool}: a tool run as one child process, without a shell, for the reads on
 * the path of every sync (`iptables-save`), where `runCommand`'s guard costs more than the
 * tool itself.
 *
 * @module
 */

import {
  type CommandResult,
  type CommandRunner,
  DEFAULT_TOOL_TIMEOUT_MS,
  type RunOptions,
  TIMED_OUT,
} from "../exec/command.ts";

/** How long a timed-out tool has between SIGTERM and SIGKILL (as `timeout -k 5`). */
const KILL_AFTER_MS = 5000;

/**
 * Runs `argv` as one child process, without a shell: the `CommandRunner` contract of
 * `runCommand` (stdin text or none, stdout and stderr captured, never a throw for an exit
 * code: 127 for a program not found, 126 for one that cannot be run, 128+N for a death by
 * signal N, 124 with a note for one killed after `timeoutMs`: SIGTERM, then SIGKILL 5 s
 * later, as `timeout -k 5` does) at the cost of the tool's own process only. Deno reports a
 * death by signal itself, which `runCommand`'s `sh` wrapper exists to get from dax.
 */
export const spawnTool: CommandRunner = async (
  argv: readonly string[],
  options: RunOptions = {},
): Promise<CommandResult> => {
  if (argv.length === 0) throw new TypeError("spawnTool() needs at least a program name");
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return {
        code: 127,
        stdout: "",
        stderr: `${argv[0]}: command not found (is it installed and on PATH?)\n`,
      };
    }
    return {
      code: 126,
      stdout: "",
      stderr: `${argv[0]}: cannot run: ${(error as Error).message}\n`,
    };
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
  return await outputWithin(child, argv[0], timeoutMs, options.stdin);
};

async function outputWithin(
  child: Deno.ChildProcess,
  program: string,
  timeoutMs: number,
  stdin: string | undefined,
): Promise<CommandResult> {
  let timedOut = false;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const kill = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch { /* it has exited meanwhile */ }
  };
  const termTimer = setTimeout(() => {
    timedOut = true;
    kill("SIGTERM");
    killTimer = setTimeout(() => kill("SIGKILL"), KILL_AFTER_MS);
  }, timeoutMs);
  try {
    // Written while the output is read: a tool may fill its stdout before it reads stdin.
    const [output] = await Promise.all([
      child.output(),
      stdin === undefined ? undefined : writeAndClose(child.stdin, stdin),
    ]);
    const decoder = new TextDecoder();
    const stdout = decoder.decode(output.stdout);
    const stderr = decoder.decode(output.stderr);
    if (!timedOut) return { code: output.code, stdout, stderr };
    const note = `${program}: killed after ${timeoutMs / 1000} s (timed out)\n`;
    return { code: TIMED_OUT, stdout, stderr: stderr + note };
  } finally {
    clearTimeout(termTimer);
    clearTimeout(killTimer);
  }
}

async function writeAndClose(stream: WritableStream<Uint8Array>, text: string): Promise<void> {
  const writer = stream.getWriter();
  try {
    await writer.write(new TextEncoder().encode(text));
    await writer.close();
  } catch {
    // A tool that exits without reading all of its input: its exit code says what happened.
  }
}
