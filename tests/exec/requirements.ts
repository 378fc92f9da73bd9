/**
 * The one gate for tests that need root and the real tools: it skips visibly where they are
 * missing, and fails instead when REQUIRE_KERNEL_TESTS=1 (CI), so a skip is never silent there.
 *
 * @module
 */

import assert from "node:assert/strict";
import { runCommand } from "../../backends/exec/command.ts";

/** The line a skipped test prints. */
export const SKIP_TEXT = "skipped: needs root with ipset and iptables";

/**
 * Whether this machine is root and has every tool (each probed with the given argv; exit
 * code 127 means missing). Prints {@link SKIP_TEXT} and returns false when not, unless
 * REQUIRE_KERNEL_TESTS=1, in which case the test fails naming what is missing.
 */
export async function canRunKernelTests(tools: readonly string[][]): Promise<boolean> {
  const missing: string[] = [];
  if (Deno.uid() !== 0) missing.push("root");
  for (const argv of tools) {
    if ((await runCommand(argv)).code === 127) missing.push(argv[0]);
  }
  if (missing.length === 0) return true;
  if (Deno.env.get("REQUIRE_KERNEL_TESTS") === "1") {
    assert.fail(`REQUIRE_KERNEL_TESTS=1 but this machine lacks: ${missing.join(", ")}`);
  }
  console.log(SKIP_TEXT);
  return false;
}
