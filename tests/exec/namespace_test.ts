/**
 * Runs the exec backend's real tests (`tests/exec/in_namespace/`) in a child `deno test` inside
 * a fresh network namespace (`unshare -n`), so the ipsets, iptables rules and links they
 * create never touch the host's own network. The inner directory is excluded from the normal
 * run (deno.json `test.exclude`), so the child is started without the config's excludes and
 * with its import map.
 */
import assert from "node:assert/strict";
import { runCommand } from "../../backends/exec/command.ts";
import { canRunKernelTests } from "./requirements.ts";

const REPO = new URL("../../", import.meta.url);
const TOOLS = [
  ["unshare", "--version"],
  ["ipset", "--version"],
  ["iptables-restore", "--version"],
  ["ip6tables-restore", "--version"],
  ["ip", "-V"],
];

Deno.test("the exec backend's real tests pass in a private network namespace", async () => {
  if (!await canRunKernelTests(TOOLS)) return;
  const path = (p: string) => new URL(p, REPO).pathname;
  // NO_COLOR: the inner output is matched below and shown as plain text on failure.
  const result = await runCommand([
    "env",
    "NO_COLOR=1",
    "unshare",
    "-n",
    Deno.execPath(),
    "test",
    "--no-config",
    "--import-map",
    path("deno.json"),
    "--allow-all",
    path("tests/exec/in_namespace/"),
  ]);
  const output = `--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
  assert.equal(result.code, 0, `the namespace tests failed (exit code ${result.code}):\n${output}`);
  assert.match(result.stdout, /\bok \| \d+ passed \| 0 failed/, output);
});
