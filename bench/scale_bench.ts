/**
 * The CLI at cluster scale, measured as a user runs it: `kubectl get services,endpointslices,nodes
 * -A -o json`-style dumps of 1,000, 10,000 and 40,000 Services x 10 endpoints (20% NodePort, 5%
 * LoadBalancer), each run as `mod.ts --manifests DUMP --dry-run --once --output json` in a child
 * process (wall time from spawn to exit, peak RSS from `/proc`), next to the floor (a process
 * that only reads the file and `JSON.parse`s it) and the pure compute alone; the same 10,000
 * services as multi-document YAML; and the sync loop's CPU share over the unchanged 10,000 dump
 * (syncPeriod 2s) once its first sync is done. Draws `scale.svg` beside the README.
 *
 * Run: `deno task bench:scale` (`deno run -A bench/scale_bench.ts [--quick]`; `--quick` stops at
 * 10,000 services).
 *
 * @module
 */

import { stringify } from "yaml";
import { computeDesiredState } from "../src/proxier/desired_state.ts";
import { IncrementalProxier } from "../src/proxier/incremental.ts";
import { diffStates, SettledPairs } from "../src/plan/diff.ts";
import { DryRunBackend } from "../backends/dry_run/dry_run_backend.ts";
import { testConfig } from "../src/proxier/testing.ts";
import { clusterObjects, nodeObject } from "./api_objects.ts";
import { generateCluster, LARGE_CLUSTER, withOneEndpointChanged } from "./generate_cluster.ts";
import { type MeasuredRun, mib, runMeasured } from "./measure_process.ts";
import { renderScaleChart, type ScalePoint } from "./scale_chart.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const SIZES = Deno.args.includes("--quick") ? [1_000, 10_000] : [1_000, 10_000, 40_000];

/**
 * The benchmark's cluster shape at `services`: 20% NodePort, 5% LoadBalancer, but never more
 * NodePort services than the default node port range (30000-32767) holds, as the API server
 * would refuse them: above 13,840 services the shares shrink.
 */
function shapeOf(services: number) {
  const nodePortShare = Math.min(LARGE_CLUSTER.nodePortShare, 2768 / services);
  const loadBalancerShare = nodePortShare *
    (LARGE_CLUSTER.loadBalancerShare / LARGE_CLUSTER.nodePortShare);
  return { ...LARGE_CLUSTER, services, nodePortShare, loadBalancerShare };
}

function dumpObjects(services: number) {
  const cluster = generateCluster(shapeOf(services));
  return { cluster, items: [...clusterObjects(cluster), nodeObject("node-0", "192.168.0.10")] };
}

/** The CLI's dry run of `file`, as a user runs it. */
function runCli(file: string): Promise<MeasuredRun> {
  return runMeasured(Deno.execPath(), [
    "run",
    "-A",
    `${ROOT}mod.ts`,
    "--config",
    `${ROOT}examples/kubeadm.yaml`,
    "--manifests",
    file,
    "--hostname-override",
    "node-0",
    "--dry-run",
    "--once",
    "--output",
    "json",
  ]);
}

function mustSucceed(run: MeasuredRun, what: string): MeasuredRun {
  if (run.code !== 0) throw new Error(`${what} failed (exit ${run.code}):\n${run.stderr}`);
  return run;
}

/** The least this run can cost: read the file and decode it, nothing else. */
function runFloor(file: string): Promise<MeasuredRun> {
  return runMeasured(Deno.execPath(), [
    "eval",
    `JSON.parse(Deno.readTextFileSync(${JSON.stringify(file)}))`,
  ]);
}

function computeMs(cluster: ReturnType<typeof generateCluster>): number {
  const input = {
    config: testConfig({ clusterCIDRs: ["10.244.0.0/16"] }),
    snapshot: cluster,
    nodeName: "node-0",
    nodeIPs: ["192.168.0.10"],
  };
  computeDesiredState(input); // warm up
  const started = performance.now();
  computeDesiredState(input);
  return performance.now() - started;
}

/**
 * One changed EndpointSlice at 10,000 services, synced as the loop syncs it: the incremental
 * proxier's update (compute), the dry-run backend's read, the diff with the loop's settled
 * pairs, and the apply, each timed; against a full recompute + diff (what kube-proxy does each
 * sync). The change is flipped back and forth; the best of `runs` for each part.
 */
async function oneChange(runs = 15) {
  const config = testConfig({ clusterCIDRs: ["10.244.0.0/16"] });
  const nodeIPs = ["192.168.0.10"];
  const snapshots = [generateCluster(LARGE_CLUSTER)];
  snapshots.push(withOneEndpointChanged(snapshots[0]));
  const proxier = new IncrementalProxier(config, "node-0");
  const backend = new DryRunBackend();
  const settled = new SettledPairs();
  const options = { excludeCIDRs: [], settled };
  const timed = <T>(f: () => T): [T, number] => {
    const started = performance.now();
    return [f(), performance.now() - started];
  };
  await backend.apply(
    diffStates(await backend.read(), proxier.update(snapshots[0], nodeIPs).state, options),
  );
  const best = { computeMs: Infinity, diffMs: Infinity, readMs: Infinity, applyMs: Infinity };
  let bestSync = Infinity;
  for (let r = 0; r < runs; r++) {
    const i = (r + 1) % 2;
    const [desired, computeMs] = timed(() => proxier.update(snapshots[i], nodeIPs));
    const readStarted = performance.now();
    const current = await backend.read();
    const readMs = performance.now() - readStarted;
    const [plan, diffMs] = timed(() => diffStates(current, desired.state, options));
    if (plan.length === 0) throw new Error("one changed endpoint gave an empty plan");
    const applyStarted = performance.now();
    await backend.apply(plan);
    const applyMs = performance.now() - applyStarted;
    bestSync = Math.min(bestSync, computeMs + diffMs);
    best.computeMs = Math.min(best.computeMs, computeMs);
    best.diffMs = Math.min(best.diffMs, diffMs);
    best.readMs = Math.min(best.readMs, readMs);
    best.applyMs = Math.min(best.applyMs, applyMs);
  }
  const recomputed = proxier.lastUpdate.recomputedServices;
  const full = (i: number) =>
    computeDesiredState({ config, snapshot: snapshots[i], nodeName: "node-0", nodeIPs }).state;
  const kernel = [full(0), full(1)];
  let fullMs = Infinity;
  for (let r = 0; r < runs; r++) {
    const i = (r + 1) % 2;
    const [, ms] = timed(() => diffStates(kernel[1 - i], full(i), { excludeCIDRs: [] }));
    fullMs = Math.min(fullMs, ms);
  }
  return { incrementalMs: bestSync, ...best, fullMs, recomputed };
}

/** CPU seconds (user + system) of a process so far, from `/proc/PID/stat`. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
}

/** The loop over an unchanged dump: its share of one core after the first sync. */
async function idleLoopShare(file: string, dir: string, windowMs = 10_000): Promise<number> {
  const config = `${dir}/loop.yaml`;
  await Deno.writeTextFile(
    config,
    `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: ipvs
ipvs: {syncPeriod: 2s}
healthzBindAddress: 127.0.0.1:10456
metricsBindAddress: 127.0.0.1:10449
`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}mod.ts`, "--config", config, "--manifests", file, "--dry-run"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  while (!/(^|\] )sync: /m.test(log)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the loop ended before its first sync:\n${log}`);
    log += value;
  }
  const draining = (async () => {
    while (!(await reader.read()).done) { /* keep the pipe drained */ }
  })();
  const before = await cpuSeconds(child.pid);
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  const after = await cpuSeconds(child.pid);
  child.kill("SIGTERM");
  await child.status;
  await draining;
  return (after - before) / (windowMs / 1000);
}

// First, while this process's heap holds nothing else: the runs below leave large leftovers
// (dumps, outputs) whose collection would land in these few-millisecond timings.
const change = await oneChange();
const dir = await Deno.makeTempDir({ prefix: "scale-bench-" });
const points: ScalePoint[] = [];
/** What is kept of a run: its figures (its output, up to 260 MB at 40,000, is not). */
type RunFigures = Pick<MeasuredRun, "wallMs" | "peakRssBytes">;
const figures = (run: MeasuredRun): RunFigures => ({
  wallMs: run.wallMs,
  peakRssBytes: run.peakRssBytes,
});
let yamlRun: RunFigures | undefined;
let jsonRun10k: RunFigures | undefined;
let idleShare = 0;
try {
  for (const services of SIZES) {
    const { cluster, items } = dumpObjects(services);
    const file = `${dir}/cluster-${services}.json`;
    // `kubectl get -o json` prints a List with four-space indentation.
    await Deno.writeTextFile(
      file,
      JSON.stringify({ apiVersion: "v1", kind: "List", items }, null, 4),
    );
    const cli = mustSucceed(await runCli(file), `the dry run of ${services} services`);
    const floor = mustSucceed(await runFloor(file), "the floor");
    points.push({
      services,
      cliMs: cli.wallMs,
      cliRssBytes: cli.peakRssBytes,
      floorMs: floor.wallMs,
      floorRssBytes: floor.peakRssBytes,
      computeMs: computeMs(cluster),
      fileBytes: (await Deno.stat(file)).size,
    });
    if (services === 10_000) {
      jsonRun10k = figures(cli);
      const yamlFile = `${dir}/cluster-10000.yaml`;
      await Deno.writeTextFile(yamlFile, items.map((o) => stringify(o)).join("---\n"));
      yamlRun = figures(mustSucceed(await runCli(yamlFile), "the YAML dry run"));
      idleShare = await idleLoopShare(file, dir);
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
console.log(
  `## The CLI at scale (dry-run --once --output json; load average ${Deno.loadavg()[0]})\n`,
);
console.log(
  "| services | dump | wall time | peak RSS | floor: read + JSON.parse | ratio | compute alone |",
);
console.log("|---|---|---|---|---|---|---|");
for (const p of points) {
  console.log(
    `| ${p.services.toLocaleString("en")} | ${mib(p.fileBytes)} | ${s(p.cliMs)} | ${
      mib(p.cliRssBytes)
    } | ` +
      `${s(p.floorMs)}, ${mib(p.floorRssBytes)} | ${(p.cliMs / p.floorMs).toFixed(1)}x | ` +
      `${p.computeMs.toFixed(0)} ms |`,
  );
}
if (yamlRun && jsonRun10k) {
  console.log(
    `\nThe same 10,000 services as multi-document YAML: ${s(yamlRun.wallMs)}, ` +
      `${mib(yamlRun.peakRssBytes)} (${
        (yamlRun.wallMs / jsonRun10k.wallMs).toFixed(2)
      }x the JSON run).`,
  );
}
console.log(
  `The loop over the unchanged 10,000 dump (syncPeriod 2s): ${
    (idleShare * 100).toFixed(1)
  }% of one core.`,
);
console.log(
  `\nOne EndpointSlice changed at 10,000 services, the sync's compute + diff (best of 15): ` +
    `${change.incrementalMs.toFixed(1)} ms incremental (${change.recomputed} service ` +
    `recomputed; compute ${change.computeMs.toFixed(1)} ms, diff ${change.diffMs.toFixed(1)} ms, ` +
    `best of each) against ${change.fullMs.toFixed(0)} ms for a full recompute: ` +
    `${(change.fullMs / change.incrementalMs).toFixed(0)}x. The same sync's dry-run read ` +
    `${change.readMs.toFixed(1)} ms, apply ${change.applyMs.toFixed(1)} ms.`,
);
await Deno.writeTextFile(`${ROOT}scale.svg`, renderScaleChart(points));
console.log("Chart written to scale.svg.");
