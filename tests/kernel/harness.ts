/**
 * What every real-kernel test needs: {@linkcode kernelTest}, which runs a test only inside the VM
 * of tests/vm (or fails when REQUIRE_KERNEL_TESTS=1 asks for it), and {@linkcode sh}, which runs a
 * tool and fails with its stderr.
 *
 * @module
 */

/** Set to "1" by tests/vm for the command it runs in the guest. */
export const IN_VM: boolean = Deno.env.get("IPVS_PROXY_VM") === "1";

/** Set to "1" (CI) so a kernel test fails instead of skipping when it cannot run. */
export const REQUIRE_KERNEL_TESTS: boolean = Deno.env.get("REQUIRE_KERNEL_TESTS") === "1";

/** What a kernel test prints when it skips. */
export const SKIP_MESSAGE = "skipped: needs the IPVS kernel (run via tests/vm)";

/**
 * Registers a test that touches the kernel. Outside the VM it prints {@linkcode SKIP_MESSAGE}
 * and passes, or fails when {@linkcode REQUIRE_KERNEL_TESTS} is set.
 */
export function kernelTest(name: string, fn: (t: Deno.TestContext) => Promise<void>): void {
  Deno.test(name, async (t) => {
    if (!IN_VM) {
      if (REQUIRE_KERNEL_TESTS) {
        throw new Error(
          `REQUIRE_KERNEL_TESTS=1 but this is not the VM: run it with ` +
            `'deno run -A tests/vm/vm.ts -- deno task test:kernel'`,
        );
      }
      console.log(SKIP_MESSAGE);
      return;
    }
    await fn(t);
  });
}

/** A tool's exit code and output. */
export interface ShResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Runs `cmd` (an argument array, never a shell string) with optional stdin text. */
export async function run(cmd: readonly string[], stdin?: string): Promise<ShResult> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Collect output while writing stdin, so a tool that answers before reading everything cannot
  // block on a full pipe.
  const collected = child.output();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const output = await collected;
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Runs `cmd` and returns its stdout; throws with the command, exit code and stderr on failure. */
export async function sh(cmd: readonly string[], stdin?: string): Promise<string> {
  const result = await run(cmd, stdin);
  if (result.code !== 0) {
    throw new Error(
      `'${cmd.join(" ")}' failed with exit code ${result.code}: ${result.stderr.trim()}`,
    );
  }
  return result.stdout;
}
