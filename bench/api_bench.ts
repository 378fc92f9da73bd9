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
import { ApiClient } from "../src/cluster/api/api_client.ts";
import { ApiClusterSource } from "../src/cluster/api/api_source.ts";
import { runLoop } from "../src/cli/run_loop.ts";
import { computeDesiredState } from "../src/proxier/desired_state.ts";
import { testConfig } from "../src/proxier/testing.ts";
import { startFakeApiServer } from "../tests/fake_apiserver/fake_apiserver.ts";
import { clusterObjects, endpointSliceObject, nodeObject } from "./api_objects.ts";
import { generateCluster, LARGE_CLUSTER } from "./generate_cluster.ts";
import { mib, runMeasured } from "./measure_process.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

/** Starts `serve_fake_cluster.ts` for `services`; resolves with its URL and a stop function. */
async function serveCluster(services: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}bench/serve_fake_cluster.ts`, String(services)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  // The first line of its stdout is the URL; the rest of the stream is left unread.
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the fake API server exited before printing its URL");
    text += value;
  }
  const url = text.slice(0, text.indexOf("\n"));
  return {
    url,
    stop: async () => {
      await child.stdin.close();
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
    ]);
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

/** The storm, in this process (the fake server keeps only 1,000 changes of history). */
async function storm(updates: number, withinMs: number) {
  const cluster = generateCluster(LARGE_CLUSTER);
  const server = await startFakeApiServer({ historyLimit: 1000 });
  server.bulkLoad([...clusterObjects(cluster), nodeObject("node-0", "192.168.0.10")]);
  const log: string[] = [];
  const source = new ApiClusterSource({
    client: new ApiClient({
      server: new URL(server.url),
      tls: { caCerts: [], insecureSkipTlsVerify: false },
      credentials: { kind: "none" },
      origin: "bench",
    }, { qps: -1 }),
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
  while (syncs() === 0) await sleep(50);
  const rssAfterFirstSync = rss();
  const slices = cluster.endpointSlices;
  const started = performance.now();
  let rssAfter1000 = 0;
  for (let i = 0; i < updates; i++) {
    const slice = slices[i % slices.length];
    const endpoints = slice.endpoints.map((e, j) =>
      j === 0 ? { ...e, addresses: [`10.200.${(i >> 8) & 255}.${i & 255}`] } : e
    );
    server.upsert(endpointSliceObject({ ...slice, endpoints }));
    if (i % 100 === 99) {
      await sleep(Math.max(0, started + (withinMs * (i + 1)) / updates - performance.now()));
    }
    if (i === 999) {
      await sleep(1500); // let the churn so far be synced
      rssAfter1000 = rss();
    }
  }
  const stormMs = performance.now() - started;
  const syncsBeforeQuiet = syncs();
  await sleep(2500); // minSyncPeriod, then one last sync of the final state
  controller.abort();
  await loop;
  await source.close();
  const finalObjects = (await source.read()).snapshot;
  const expected = computeDesiredState({
    config,
    snapshot: finalObjects,
    nodeName: "node-0",
    nodeIPs: ["192.168.0.10"],
  }).state;
  const actual = await backend.read();
  const sameVirtualServers = JSON.stringify(actual.virtualServers) ===
    JSON.stringify(expected.virtualServers);
  const serverSlices = server.list("EndpointSlice").length;
  await server.close();
  return {
    updates,
    stormMs,
    syncsDuringStorm: syncsBeforeQuiet - 1,
    syncsTotal: syncs(),
    sameVirtualServers,
    slicesOnServer: serverSlices,
    slicesInSnapshot: finalObjects.endpointSlices.length,
    rssAfterFirstSync,
    rssAfter1000,
  };
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const first = await startToFirstSync(LARGE_CLUSTER.services);
console.log(
  "## Start to first sync (dry-run --once, 10,000 services x 10 endpoints, from the API)\n",
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
console.log("## Storm: 10,000 EndpointSlice updates through the API (minSyncPeriod 1 s)\n");
console.log(
  `- updates sent in ${
    s(result.stormMs)
  }; syncs during the storm: ${result.syncsDuringStorm} (bound: one per second, about ${
    Math.ceil(result.stormMs / 1000) + 1
  })`,
);
console.log(
  `- final state equals the one computed from scratch: ${result.sameVirtualServers} (${result.slicesInSnapshot} of ${result.slicesOnServer} slices)`,
);
console.log(
  `- RSS after the first sync ${mib(result.rssAfterFirstSync)}, after 1,000 updates ${
    mib(result.rssAfter1000)
  } (${((result.rssAfter1000 / result.rssAfterFirstSync - 1) * 100).toFixed(1)}%)`,
);
if (!result.sameVirtualServers || result.syncsDuringStorm > Math.ceil(result.stormMs / 1000) + 2) {
  console.error("FAILED: the storm's result is wrong or the syncs were not bounded");
  Deno.exit(1);
}
