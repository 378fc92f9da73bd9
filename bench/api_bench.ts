/**
 * The API source at scale, measured as a user runs it.
 *
 * 1. Start to first sync: the fake API server (its own process) serves 10,000 Services x 10
 *    endpoints; `mod.ts --master URL --dry-run --once --output json` runs as a child, timed from
 *    spawn to exit, peak RSS from `/proc`. Next to it, the floor: a process that only GETs the
 *    same two lists and `JSON.parse`s them.
 * 2. A storm: 10,000 EndpointSlice updates within 10 s through the API while the loop runs
 *    (minSyncPeriod 1 s, dry-run backend): the number of syncs, the final state against one
 *    computed from scratch, and RSS after the first sync against RSS after 1,000 updates.
 *
 * Run: `deno task bench:api` (`deno run -A --v8-flags=--expose-gc bench/api_bench.ts`).
 *
 * @module
 */

import { DryRunBackend } from "../backends/dry_run/dry_run_backend.ts";
import { plainClient } from "../tests/api/objects.ts";
import { ApiClusterSource } from "../src/cluster/api/api_source.ts";
import { runLoop } from "../src/cli/run_loop.ts";
import { computeDesiredState } from "../src/proxier/desired_state.ts";
import { diffStates } from "../src/plan/diff.ts";
import { testConfig } from "../src/proxier/testing.ts";
import { parseObjects } from "../src/cluster/parse.ts";
import { buildSnapshot } from "../src/cluster/snapshot.ts";
import { LARGE_CLUSTER } from "./generate_cluster.ts";
import { mib, runMeasured } from "./measure_process.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

/**
 * Starts `serve_fake_cluster.ts` for `services`; resolves with its URL, a way to send it a
 * command and wait for its answer line, and a stop function.
 */
async function serveCluster(services: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}bench/serve_fake_cluster.ts`, String(services)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const writer = child.stdin.getWriter();
  let buffered = "";
  const nextLine = async (): Promise<string> => {
    while (!buffered.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the fake API server exited");
      buffered += value;
    }
    const line = buffered.slice(0, buffered.indexOf("\n"));
    buffered = buffered.slice(line.length + 1);
    return line;
  };
  const url = await nextLine();
  return {
    url,
    /** Sends one command line and waits for the server's answer line. */
    command: async (line: string) => {
      await writer.write(new TextEncoder().encode(`${line}\n`));
      return await nextLine();
    },
    stop: async () => {
      await writer.close();
      await reader.cancel();
      await child.status;
    },
  };
}

async function startToFirstSync(services: number) {
  const server = await serveCluster(services);
  try {
    const proxy = await runMeasured(Deno.execPath(), [
      "run",
      "-A",
      `${ROOT}mod.ts`,
      "--config",
      `${ROOT}examples/kubeadm.yaml`,
      "--master",
      server.url,
      "--hostname-override",
      "node-0",
      "--dry-run",
      "--once",
      "--output",
      "json",
    ], { mark: /(^|\] )sync: /m });
    if (proxy.code !== 0) throw new Error(`the proxy failed:\n${proxy.stderr}`);
    const floor = await runMeasured(Deno.execPath(), [
      "eval",
      `for (const p of ["/api/v1/services", "/apis/discovery.k8s.io/v1/endpointslices"]) ` +
      `JSON.parse(await (await fetch("${server.url}" + p)).text());`,
    ]);
    const virtualServers = JSON.parse(proxy.stdout).virtualServers.length;
    return { services, proxy, floor, virtualServers };
  } finally {
    await server.stop();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function rss(): number {
  gc();
  return Deno.memoryUsage().rss;
}

/** Waits until the source has nothing pending and one more sync has finished after that. */
async function settled(source: ApiClusterSource, syncs: () => number): Promise<void> {
  for (;;) {
    const pending = source.pendingChanges();
    if (pending.services + pending.endpoints === 0) break;
    await sleep(50);
  }
  const before = syncs();
  while (syncs() === before) await sleep(50);
}

/**
 * The storm: the fake API server in its own process churns EndpointSlices; the proxy's loop
 * (dry-run backend, minSyncPeriod 1 s, the incremental proxier) runs in this one, so RSS is the
 * proxy's alone.
 */
async function storm(updates: number, withinMs: number) {
  const server = await serveCluster(LARGE_CLUSTER.services);
  const log: string[] = [];
  const source = new ApiClusterSource({
    client: plainClient(server.url),
    nodeName: "node-0",
    log: (line) => log.push(line),
  });
  const config = testConfig({
    healthzBindAddress: "",
    metricsBindAddress: "",
    ipvs: { syncPeriodMs: 30_000, minSyncPeriodMs: 1000 },
  });
  const backend = new DryRunBackend();
  const controller = new AbortController();
  const loop = runLoop({
    config,
    backend,
    nodeName: "node-0",
    nodeIPFlags: ["192.168.0.10"],
    source,
    printPlans: false,
    stdout: () => {},
    log: (line) => log.push(line),
    signal: controller.signal,
  });
  const syncs = () => log.filter((l) => l.startsWith("sync:")).length;
  try {
    while (syncs() === 0) await sleep(50);
    const rssAfterFirstSync = rss();
    const first = 1000;
    await server.command(`churn ${first} ${(withinMs * first) / updates} 0`);
    await settled(source, syncs);
    const rssAfter1000 = rss();
    const syncsBefore = syncs();
    const started = performance.now();
    await server.command(
      `churn ${updates - first} ${(withinMs * (updates - first)) / updates} ${first}`,
    );
    const stormMs = performance.now() - started + (withinMs * first) / updates;
    const syncsDuringStorm = syncs() - syncsBefore;
    await settled(source, syncs);
    // The truth: the server's objects, listed afresh, computed from scratch. The last watch
    // events may still be on their way: the loop has up to 30 s to get there.
    const truth = await fetchCluster(server.url);
    const expected = computeDesiredState({
      config,
      snapshot: truth,
      nodeName: "node-0",
      nodeIPs: ["192.168.0.10"],
    }).state;
    // Equal as the diff sees it (what a kernel read adds, such as connection counts, aside).
    const same = async () => {
      const plan = diffStates(await backend.read(), expected, { excludeCIDRs: [] });
      return {
        virtualServers: !plan.some((op) => op.op.startsWith("ipvs.")),
        sets: !plan.some((op) => op.op.startsWith("ipset.")),
        operations: plan.length,
      };
    };
    const endedAt = performance.now();
    let result = await same();
    while (result.operations > 0 && performance.now() - endedAt < 30_000) {
      await sleep(200);
      result = await same();
    }
    return {
      updates,
      stormMs,
      syncsDuringStorm,
      sameVirtualServers: result.virtualServers,
      sameSets: result.sets,
      remainingOperations: result.operations,
      convergedMs: performance.now() - endedAt,
      rssAfterFirstSync,
      rssAfter1000,
    };
  } finally {
    controller.abort();
    await loop;
    await source.close();
    await server.stop();
  }
}

/** Every Service and EndpointSlice the server holds, parsed as the proxy parses them. */
async function fetchCluster(url: string) {
  const items = async (path: string) =>
    (await (await fetch(`${url}${path}`)).json()).items as Record<string, unknown>[];
  const services = (await items("/api/v1/services")).map((o) => ({
    ...o,
    kind: "Service",
    apiVersion: "v1",
  }));
  const slices = (await items("/apis/discovery.k8s.io/v1/endpointslices")).map((o) => ({
    ...o,
    kind: "EndpointSlice",
    apiVersion: "discovery.k8s.io/v1",
  }));
  const parsed = parseObjects(
    [...services, ...slices].map((value, i) => ({ value, source: "truth", index: i + 1 })),
  );
  return buildSnapshot(parsed);
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const first = await startToFirstSync(LARGE_CLUSTER.services);
console.log(
  "## Start to first sync (dry-run --once, 10,000 services x 10 endpoints, from the API)\n",
);
console.log(
  `Start to the first complete sync (its log line): ${s(first.proxy.markMs ?? NaN)}; then the ` +
    "JSON of 12,500 virtual servers and 176,020 operations is printed.\n",
);
console.log("| run | wall time | peak RSS |\n|---|---|---|");
console.log(
  `| ipvs-proxy --master URL --dry-run --once --output json | ${s(first.proxy.wallMs)} | ${
    mib(first.proxy.peakRssBytes)
  } |`,
);
console.log(
  `| floor: GET both lists and JSON.parse | ${s(first.floor.wallMs)} | ${
    mib(first.floor.peakRssBytes)
  } |`,
);
console.log(
  `| ratio | ${(first.proxy.wallMs / first.floor.wallMs).toFixed(1)}x | ${
    (first.proxy.peakRssBytes / first.floor.peakRssBytes).toFixed(1)
  }x |`,
);
console.log(`\n${first.virtualServers} virtual servers in the plan.\n`);

const result = await storm(10_000, 10_000);
const bound = Math.ceil(result.stormMs / 1000) + 1;
console.log(
  "## Storm: 10,000 EndpointSlice updates through the API within 10 s (minSyncPeriod 1 s)\n",
);
console.log(
  `- updates sent in ${
    s(result.stormMs)
  }; syncs during the storm: ${result.syncsDuringStorm} (bound: one per second, ${bound})`,
);
console.log(
  `- final state equals the one computed from scratch from the server's objects: virtual servers ${result.sameVirtualServers}, sets ${result.sameSets} (${
    s(result.convergedMs)
  } after the storm ended)`,
);
console.log(
  `- RSS after the first sync ${mib(result.rssAfterFirstSync)}, after 1,000 updates ${
    mib(result.rssAfter1000)
  } (${((result.rssAfter1000 / result.rssAfterFirstSync - 1) * 100).toFixed(1)}%)`,
);
if (result.remainingOperations > 0 || result.syncsDuringStorm > bound) {
  console.error("FAILED: the storm's result is wrong or the syncs were not bounded");
  Deno.exit(1);
}
