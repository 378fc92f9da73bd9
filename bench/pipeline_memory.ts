/**
 * Where the dry run's memory goes, phase by phase, in one process: the same steps as
 * `mod.ts --manifests DUMP --dry-run --once --output json` (read the dump, compute, read the
 * simulated kernel, diff, apply through the shared driver, print the JSON), each followed by a
 * mark with the live heap after a full GC, the RSS, and the kernel's high-water mark `VmHWM`
 * (which only grows, so the phase whose mark raises it is the one that set the peak).
 *
 * Run: `deno run -A --v8-flags=--expose-gc bench/pipeline_memory.ts [SERVICES] [--no-gc]`
 * (default 10,000 services; the dump is written by a child process, so its generation is not in
 * the figures; `--no-gc` leaves collection to V8, as in the CLI, so the marks show the garbage).
 *
 * @module
 */

import { DryRunBackend } from "../backends/dry_run/dry_run_backend.ts";
import { ManifestSnapshots } from "../src/cli/manifest_snapshots.ts";
import { diffStates } from "../src/plan/diff.ts";
import { computeDesiredState } from "../src/proxier/desired_state.ts";
import { testConfig } from "../src/proxier/testing.ts";
import { stateJsonChunks } from "../src/render/plan_text.ts";
import { clusterObjects, nodeObject } from "./api_objects.ts";
import { generateCluster, LARGE_CLUSTER } from "./generate_cluster.ts";
import { mib } from "./measure_process.ts";

const gc = (globalThis as { gc?: () => void }).gc;

function highWaterMark(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0) * 1024;
}

/** Without a GC at each mark, as the CLI runs: the heap then includes garbage. */
const collect = !Deno.args.includes("--no-gc");

/** Prints one mark: what is live after a full GC (unless `--no-gc`), and the peak so far. */
function mark(phase: string): void {
  const hwm = highWaterMark();
  if (collect) gc!();
  const { heapUsed, rss } = Deno.memoryUsage();
  console.log(
    `${phase.padEnd(34)} heap ${mib(heapUsed).padStart(8)}  rss ${mib(rss).padStart(8)}  ` +
      `peak ${mib(hwm).padStart(8)}`,
  );
}

/** Writes the `kubectl get -o json`-style dump of `services` to `file`. */
async function writeDump(services: number, file: string): Promise<void> {
  const cluster = generateCluster({ ...LARGE_CLUSTER, services });
  const items = [...clusterObjects(cluster), nodeObject("node-0", "192.168.0.10")];
  await Deno.writeTextFile(file, JSON.stringify({ apiVersion: "v1", kind: "List", items }));
}

if (Deno.args[0] === "--write") {
  await writeDump(Number(Deno.args[1]), Deno.args[2]);
  Deno.exit(0);
}

if (gc === undefined && collect) throw new Error("run with --v8-flags=--expose-gc, or --no-gc");
const services = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 10_000);
const dir = await Deno.makeTempDir({ prefix: "pipeline-memory-" });
const file = `${dir}/cluster.json`;
try {
  const writer = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "--write", String(services), file],
  });
  if (!(await writer.output()).success) throw new Error("writing the dump failed");
  mark("start");
  const source = new ManifestSnapshots([file], () => {});
  const { snapshot } = await source.read();
  mark(`dump read (${snapshot.services.length} services)`);
  const { state } = computeDesiredState({
    config: testConfig({ clusterCIDRs: ["10.244.0.0/16"] }),
    snapshot,
    nodeName: "node-0",
    nodeIPs: ["192.168.0.10"],
  });
  mark("desired state computed");
  const backend = new DryRunBackend();
  const current = await backend.read();
  const plan = diffStates(current, state, { excludeCIDRs: [] });
  mark(`diffed (${plan.length} operations)`);
  const result = await backend.apply(plan);
  mark(`applied (${result.writes} writes)`);
  let printed = 0;
  for (const chunk of stateJsonChunks(state, plan)) printed += chunk.length;
  mark(`JSON printed (${mib(printed)})`);
} finally {
  await Deno.remove(dir, { recursive: true });
}
