/**
 * Golden tests: for each service type and each scenario of the seed, the dry-run's review text
 * and JSON output on a fresh kernel, compared byte for byte with files under tests/golden/.
 * Run with UPDATE_GOLDEN=1 to rewrite them after an intended change, then review the diff.
 */

import assert from "node:assert/strict";
import { main } from "../src/cli/main.ts";

const GOLDEN = new URL("./golden/", import.meta.url);

/** Scenario directory -> the flags that make the scenario (besides the common ones). */
const SCENARIOS: Record<string, string[]> = {
  seed_debug: [],
  masquerade_all: ["--masquerade-all"],
  cluster_cidr: ["--cluster-cidr", "10.244.16.0/24"],
  nodeport: [],
  nodeport_local: [],
  loadbalancer: [],
  external_ips: [],
  udp_sctp: [],
  dual_stack: ["--node-ip", "fd00:192:168::10", "--cluster-cidr", "10.244.0.0/16,fd00:10:244::/56"],
};

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string[] }> {
  let stdout = "";
  const stderr: string[] = [];
  const code = await main(args, {
    stdout: (text) => stdout += text,
    stderr: (line) => stderr.push(line),
    env: {},
    hostname: () => "node-a",
    // The conntrack review scales with the CPUs: fixed, so the goldens are the same anywhere.
    cpus: 2,
  });
  return { code, stdout, stderr };
}

async function compareWithGolden(file: URL, actual: string): Promise<void> {
  if (Deno.env.get("UPDATE_GOLDEN") === "1") {
    await Deno.writeTextFile(file, actual);
    return;
  }
  const expected = await Deno.readTextFile(file);
  assert.equal(actual, expected, `${file.pathname} differs; UPDATE_GOLDEN=1 rewrites it`);
}

for (const [scenario, flags] of Object.entries(SCENARIOS)) {
  for (const output of ["text", "json"]) {
    Deno.test(`the ${scenario} scenario renders its golden ${output} plan`, async () => {
      const dir = new URL(`${scenario}/`, GOLDEN);
      const result = await run([
        "--proxy-mode=ipvs",
        "--manifests",
        new URL("cluster.yaml", dir).pathname,
        "--dry-run",
        "--once",
        "--hostname-override",
        "node-a",
        "--node-ip",
        "192.168.0.10",
        "--output",
        output,
        ...flags,
      ]);
      assert.equal(result.code, 0, result.stderr.join("\n"));
      await compareWithGolden(
        new URL(`plan.${output === "json" ? "json" : "txt"}`, dir),
        result.stdout,
      );
    });
  }
}
