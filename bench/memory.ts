/**
 * Peak memory of the pure pipeline at benchmark scale: heap and RSS after generating the
 * cluster, after computing the desired state, and after diffing and rendering a cold sync.
 * Run: `deno run -A --v8-flags=--expose-gc bench/memory.ts`.
 */

import { computeDesiredState } from "../src/proxier/desired_state.ts";
import { testConfig } from "../src/proxier/testing.ts";
import { diffStates } from "../src/plan/diff.ts";
import { renderPlanText } from "../src/render/plan_text.ts";
import { emptyKernelState } from "../src/state/keys.ts";
import { generateCluster, LARGE_CLUSTER } from "./generate_cluster.ts";

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
let peakRss = 0;

function report(step: string): void {
  gc();
  const { heapUsed, rss } = Deno.memoryUsage();
  peakRss = Math.max(peakRss, rss);
  console.log(`${step.padEnd(36)} heap ${mib(heapUsed).padStart(8)}   rss ${mib(rss).padStart(8)}`);
}

report("start");
const cluster = generateCluster(LARGE_CLUSTER);
report("10,000 services x 10 endpoints");
const { state } = computeDesiredState({
  config: testConfig(),
  snapshot: cluster,
  nodeName: "node-0",
  nodeIPs: ["192.168.0.10"],
});
report("desired state computed");
const plan = diffStates(emptyKernelState(), state, { excludeCIDRs: [] });
const text = renderPlanText(plan);
report(`cold plan (${plan.length} ops) rendered`);
console.log(`restore text: ${mib(text.length)}; peak rss: ${mib(peakRss)}`);
