/**
 * Runs the exec backend's real tests (`tests/exec/in_namespace/`) in a child `deno test` inside
 * a fresh network namespace (`unshare -n`), so the ipsets, iptables rules and links they
 * create never touch the host's own network. The inner directory is excluded from the normal
 * run (deno.json `test.exclude`), so the child is started without the config, with its import
 * map and lockfile, from modules cached beforehand (the namespace has no network).
 */
import assert from "node:assert/strict";
import { runCommand } from "../../backends/exec/command.ts";
import { cacheForChild, NO_CONFIG_FLAGS, repoPath, testFiles } from "./child_deno.ts";
import { canRunKernelTests } from "./requirements.ts";

const INNER = "tests/exec/in_namespace/";
const TOOLS = [
  ["unshare", "--version"],
  ["ipset", "--version"],
  ["iptables-restore", "--version"],
  ["ip6tables-restore", "--version"],
  ["ip", "-V"],
];

/**
 * The inner suite takes about a minute on an idle 2-core machine and several under load: the
 * tools' default 120 s limit would kill it half way.
 */
const INNER_TIMEOUT_MS = 15 * 60_000;

Deno.test("the exec backend's real tests pass in a private network namespace", async () => {
  if (!await canRunKernelTests(TOOLS)) return;
  await cacheForChild(NO_CONFIG_FLAGS, await testFiles(INNER));
  // NO_COLOR: the inner output is matched below and shown as plain text on failure.
  const result = await runCommand([
    "env",
    "NO_COLOR=1",
    "unshare",
    "-n",
    Deno.execPath(),
    "test",
    ...NO_CONFIG_FLAGS,
    "--cached-only",
    "--allow-all",
    repoPath(INNER),
  ], { timeoutMs: INNER_TIMEOUT_MS });
  const output = `--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
  assert.equal(result.code, 0, `the namespace tests failed (exit code ${result.code}):\n${output}`);
  assert.match(result.stdout, /\bok \| \d+ passed \| 0 failed/, output);
});
