/**
 * How the namespace tests start a child `deno` inside `unshare -n`, where there is no network:
 * with deno.json's import map and its lockfile (so npm versions come from `deno.lock`, never
 * from a packument the cache may lack), after {@linkcode cacheForChild} has fetched every module
 * the child will load, on the host, with the same flags. The child then runs `--cached-only`,
 * so a module missing from the cache fails naming it instead of a DNS error.
 *
 * @module
 */

import assert from "node:assert/strict";
import { runCommand } from "../../backends/exec/command.ts";

const REPO = new URL("../../", import.meta.url);

/** A path in the repository, for a child's command line. */
export function repoPath(relative: string): string {
  return decodeURIComponent(new URL(relative, REPO).pathname);
}

/**
 * The resolution flags of a child run without deno.json as its config (whose `test.exclude`
 * would hide the files it runs): the config's import map and its lockfile, which must match.
 */
export const NO_CONFIG_FLAGS: readonly string[] = [
  "--no-config",
  "--import-map",
  repoPath("deno.json"),
  "--lock",
  repoPath("deno.lock"),
  "--frozen-lockfile",
];

/** The resolution flags of a child run with deno.json as its config (and so its lockfile). */
export const CONFIG_FLAGS: readonly string[] = [
  "--config",
  repoPath("deno.json"),
  "--frozen-lockfile",
];

// A first download of the npm packages can take a while on a slow mirror.
const CACHE_TIMEOUT_MS = 300_000;

/**
 * Fetches into the Deno cache (`DENO_DIR`) every module `paths` load, resolved with `flags`, so
 * a child started with the same flags and `--cached-only` in a namespace without network finds
 * them. Runs on the host, where the registry is reachable; fails the test with deno's stderr.
 */
export async function cacheForChild(
  flags: readonly string[],
  paths: readonly string[],
): Promise<void> {
  const result = await runCommand(
    [Deno.execPath(), "cache", "--quiet", ...flags, ...paths.map(repoPath)],
    { timeoutMs: CACHE_TIMEOUT_MS },
  );
  assert.equal(
    result.code,
    0,
    `deno cache of the child's modules failed (exit code ${result.code}):\n${result.stderr}`,
  );
}

/** The test files of a directory (relative to the repository), sorted. */
export async function testFiles(directory: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(repoPath(directory))) {
    if (entry.isFile && entry.name.endsWith("_test.ts")) files.push(`${directory}${entry.name}`);
  }
  return files.sort();
}
