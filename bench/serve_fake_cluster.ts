/**
 * Serves a generated cluster from the fake API server in its own process, so a benchmark can
 * measure the proxy alone. Prints the server's URL on the first line of stdout, then reads
 * commands on stdin until it closes:
 *
 * - `churn N MS FROM`: N EndpointSlice updates spread over MS milliseconds (the first endpoint
 *   of slice i moved to another address, update numbers FROM onwards), then prints `churned`.
 *
 * Run: `deno run -A bench/serve_fake_cluster.ts 10000` (services, 10 endpoints each).
 *
 * @module
 */

import { startFakeApiServer } from "../tests/fake_apiserver/fake_apiserver.ts";
import { clusterObjects, endpointSliceObject, nodeObject } from "./api_objects.ts";
import { generateCluster, LARGE_CLUSTER } from "./generate_cluster.ts";
import type { EndpointSlice } from "../src/cluster/types.ts";

const services = Number(Deno.args[0] ?? LARGE_CLUSTER.services);
const cluster = generateCluster({ ...LARGE_CLUSTER, services });
const server = await startFakeApiServer({ historyLimit: 1000 });
server.bulkLoad([...clusterObjects(cluster), nodeObject("node-0", "192.168.0.10")]);
console.log(server.url);

/** Update number `n`: slice `n % slices`, its first endpoint at an address of its own. */
function updated(slice: EndpointSlice, n: number): EndpointSlice {
  const endpoints = slice.endpoints.map((e, j) =>
    j === 0 ? { ...e, addresses: [`10.200.${(n >> 8) & 255}.${n & 255}`] } : e
  );
  return { ...slice, endpoints };
}

async function churn(count: number, withinMs: number, from: number): Promise<void> {
  const started = performance.now();
  const slices = cluster.endpointSlices;
  for (let i = 0; i < count; i++) {
    const n = from + i;
    server.upsert(endpointSliceObject(updated(slices[n % slices.length], n)));
    // Spread the updates evenly; yield every 50 so the watch streams are written out.
    if (i % 50 === 49) {
      const due = started + (withinMs * (i + 1)) / count;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
    }
  }
  console.log("churned");
}

const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let pending = "";
for await (const chunk of lines) {
  pending += chunk;
  let newline: number;
  while ((newline = pending.indexOf("\n")) >= 0) {
    const [command, ...args] = pending.slice(0, newline).trim().split(" ");
    pending = pending.slice(newline + 1);
    if (command === "churn") await churn(Number(args[0]), Number(args[1]), Number(args[2] ?? 0));
  }
}
await server.close();
