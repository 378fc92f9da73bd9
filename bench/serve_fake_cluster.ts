/**
 * Serves a generated cluster from the fake API server in its own process, so a benchmark can
 * measure the proxy alone. Prints the server's URL on the first line of stdout, then serves
 * until its stdin closes.
 *
 * Run: `deno run -A bench/serve_fake_cluster.ts 10000` (services, 10 endpoints each).
 *
 * @module
 */

import { startFakeApiServer } from "../tests/fake_apiserver/fake_apiserver.ts";
import { clusterObjects, nodeObject } from "./api_objects.ts";
import { generateCluster, LARGE_CLUSTER } from "./generate_cluster.ts";

const services = Number(Deno.args[0] ?? LARGE_CLUSTER.services);
const server = await startFakeApiServer({ historyLimit: 1000 });
server.bulkLoad([
  ...clusterObjects(generateCluster({ ...LARGE_CLUSTER, services })),
  nodeObject("node-0", "192.168.0.10"),
]);
console.log(server.url);
// Serve until the benchmark closes our stdin.
for await (const _ of Deno.stdin.readable) { /* nothing to read */ }
await server.close();
