/**
 * Runs a host tool for the VM harness, turning a failure into an error that names the command and
 * shows what it printed.
 *
 * @module
 */

/** A prerequisite of the VM is missing or broken; the message says what to install or fix. */
export class VmSetupError extends Error {
  /** Creates the error; `cause` keeps the underlying failure. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "VmSetupError";
  }
}

/** Options of {@linkcode hostCommand}. */
export interface HostCommandOptions {
  /** Working directory. @default the current directory */
  cwd?: string;
  /** What to tell the user when the program is not installed, e.g. "apt-get install kmod". */
  installHint?: string;
}

/** Runs `program args...` and returns its stdout; throws {@linkcode VmSetupError} on failure. */
export async function hostCommand(
  program: string,
  args: readonly string[],
  options: HostCommandOptions = {},
): Promise<Uint8Array> {
  const command = new Deno.Command(program, {
    args: [...args],
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  let child: Deno.ChildProcess;
  try {
    child = command.spawn();
  } catch (error) {
    const hint = options.installHint ? ` (${options.installHint})` : "";
    throw new VmSetupError(`Cannot run '${program}'${hint}: ${error}`, { cause: error });
  }
  const output = await child.output();
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim();
    throw new VmSetupError(
      `'${[program, ...args].join(" ")}' failed with exit code ${output.code}: ${stderr}`,
    );
  }
  return output.stdout;
}

/** Like {@linkcode hostCommand}, decoded as text. */
export async function hostCommandText(
  program: string,
  args: readonly string[],
  options: HostCommandOptions = {},
): Promise<string> {
  return new TextDecoder().decode(await hostCommand(program, args, options));
}

/** Whether `program` is found on PATH (or is an existing absolute path). */
export function onPath(program: string): string | undefined {
  const dirs = program.includes("/") ? [""] : (Deno.env.get("PATH") ?? "").split(":");
  for (const dir of dirs) {
    const path = dir === "" ? program : `${dir}/${program}`;
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not here; try the next directory
    }
  }
  return undefined;
}
