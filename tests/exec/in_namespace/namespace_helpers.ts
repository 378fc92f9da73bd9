/**
 * Helpers for the tests that run inside a private network namespace (started by
 * `tests/exec/namespace_test.ts` with `unshare -n`): running a tool and asserting it worked,
 * a fresh exec backend, and leaving the namespace with nothing of ours after each test.
 *
 * @module
 */

import assert from "node:assert/strict";
import { runCommand } from "../../../backends/exec/command.ts";
import { ExecBackend, type ExecBackendOptions } from "../../../backends/exec/exec_backend.ts";
import { cleanupPlan } from "../../../src/plan/diff.ts";
import { notPrivateNamespace } from "../private_namespace.ts";

/** Fails unless this process runs in a network namespace of its own (never the host's). */
export async function assertPrivateNamespace(): Promise<void> {
  const why = await notPrivateNamespace();
  assert.equal(why, undefined, `refusing to run: ${why}`);
}

// Every test of this directory writes the kernel's network state, and each imports these
// helpers: so none can even load in the host's namespace (a `deno test` whose `--ignore`
// replaced the config's exclude once ran two of them there, before their own checks).
await assertPrivateNamespace();

/** Runs `argv` (with optional stdin) and returns its stdout; fails the test on a non-zero exit. */
export async function tool(argv: string[], stdin?: string): Promise<string> {
  const result = await runCommand(argv, stdin === undefined ? {} : { stdin });
  assert.equal(result.code, 0, `${argv.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

/** `iptables-save` (or `ip6tables-save`) output without its `#` comment lines. */
export async function saved(program: "iptables-save" | "ip6tables-save"): Promise<string> {
  const text = await tool([program]);
  return text.split("\n").filter((line) => !line.startsWith("#")).join("\n");
}

/** What the exec backend is made with in these tests: no IPVS, a veth for kube-ipvs0. */
export function namespaceBackend(options: ExecBackendOptions = {}): ExecBackend {
  return new ExecBackend({ ipvs: false, linkType: "veth", families: ["ipv4", "ipv6"], ...options });
}

/** Removes everything of ours with the backend's own cleanup, and asserts it worked. */
export async function cleanUp(backend = namespaceBackend()): Promise<void> {
  const result = await backend.apply(cleanupPlan(await backend.read()));
  assert.deepEqual(result.failures, [], "cleanup failed");
  assert.deepEqual(cleanupPlan(await backend.read()), [], "cleanup left something of ours");
}

let loopbackUp = false;

/** Brings `lo` up once (a new namespace starts with it down) and checks the namespace. */
export async function prepareNamespace(): Promise<void> {
  await assertPrivateNamespace();
  if (loopbackUp) return;
  await tool(["ip", "link", "set", "lo", "up"]);
  loopbackUp = true;
}
