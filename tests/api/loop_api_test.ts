/**
 * The sync loop following the fake API server: a change through the API syncs, and losing the
 * server changes nothing on the node while the periodic syncs go on.
 */
import assert from "node:assert/strict";
import { DryRunBackend } from "../../backends/dry_run/dry_run_backend.ts";
import { ApiClusterSource } from "../../src/cluster/api/api_source.ts";
import { runLoop } from "../../src/cli/run_loop.ts";
import { testConfig } from "../../src/proxier/testing.ts";
import { startFakeApiServer } from "../fake_apiserver/fake_apiserver.ts";
import { endpointSlice, eventually, node, plainClient, service } from "./objects.ts";

Deno.test("the loop follows the API, and a lost server leaves the node as it was", async () => {
  const server = await startFakeApiServer({
    objects: [
      service("web", "10.0.0.80", 80),
      endpointSlice("web-1", "web", ["10.244.1.5"], 8080),
      node("node-a", "192.168.0.10"),
    ],
  });
  const log: string[] = [];
  const source = new ApiClusterSource({
    client: plainClient(server.url),
    nodeName: "node-a",
    log: (line) => log.push(line),
    tuning: { backoff: { initialMs: 50, maxMs: 200 }, random: () => 0 },
  });
  const backend = new DryRunBackend();
  const controller = new AbortController();
  const loop = runLoop({
    config: testConfig({
      healthzBindAddress: "",
      metricsBindAddress: "",
      ipvs: { syncPeriodMs: 200, minSyncPeriodMs: 0 },
    }),
    backend,
    nodeName: "node-a",
    nodeIPFlags: [],
    source,
    printPlans: false,
    stdout: () => {},
    log: (line) => log.push(line),
    signal: controller.signal,
  });
  const syncs = () => log.filter((l) => l.startsWith("sync:"));
  const realServers = async () =>
    (await backend.read()).virtualServers.flatMap((vs) =>
      vs.realServers.map((rs) => `${vs.address}:${vs.port}->${rs.address}`)
    ).sort();
  try {
    await eventually(() => syncs().length >= 1, "the first sync");
    assert.deepEqual(await realServers(), ["10.0.0.80:80->10.244.1.5"]);

    server.upsert(endpointSlice("web-1", "web", ["10.244.1.5", "10.244.2.6"], 8080));
    await eventually(
      () => syncs().slice(1).some((l) => /ipvs\.addRealServer 1/.test(l)),
      "the change",
    );
    assert.deepEqual(await realServers(), [
      "10.0.0.80:80->10.244.1.5",
      "10.0.0.80:80->10.244.2.6",
    ]);

    const before = JSON.stringify(await backend.read());
    await server.refuseConnections(true);
    const syncsBefore = syncs().length;
    await eventually(() => syncs().length >= syncsBefore + 3, "periodic syncs without a server");
    assert.equal(JSON.stringify(await backend.read()), before, "the node is unchanged");
    assert.ok(
      syncs().slice(syncsBefore).every((l) => /, no changes$/.test(l)),
      syncs().join("\n"),
    );
    assert.ok(log.some((l) => /^warning: cannot read .* from http:\/\/127\.0\.0\.1/.test(l)));

    await server.refuseConnections(false);
    server.remove("Service", "default", "web");
    await eventually(
      () => syncs().some((l) => /ipvs\.deleteVirtualServer 1/.test(l)),
      "the removal after recovery",
    );
    assert.deepEqual(await realServers(), []);
  } finally {
    controller.abort();
    await loop;
    await source.close();
    await server.close();
  }
});

Deno.test("the loop's metrics time network programming from the slice's trigger time and count services without local endpoints", async () => {
  const server = await startFakeApiServer({
    objects: [
      service("web", "10.0.0.80", 80),
      endpointSlice("web-1", "web", ["10.244.1.5"], 8080),
      node("node-a", "192.168.0.10"),
    ],
  });
  const source = new ApiClusterSource({
    client: plainClient(server.url),
    nodeName: "node-a",
    log: () => {},
  });
  const log: string[] = [];
  const controller = new AbortController();
  const metricsAddress = "127.0.0.1:18249";
  const loop = runLoop({
    config: testConfig({
      healthzBindAddress: "",
      metricsBindAddress: metricsAddress,
      ipvs: { syncPeriodMs: 30_000, minSyncPeriodMs: 0 },
    }),
    backend: new DryRunBackend(),
    nodeName: "node-a",
    nodeIPFlags: [],
    source,
    printPlans: false,
    stdout: () => {},
    log: (line) => log.push(line),
    signal: controller.signal,
  });
  const metrics = async () => await (await fetch(`http://${metricsAddress}/metrics`)).text();
  try {
    await eventually(() => log.some((l) => l.startsWith("sync:")), "the first sync");
    const trigger = new Date(Date.now() - 5000).toISOString();
    const changed = endpointSlice("web-1", "web", ["10.244.1.5", "10.244.1.6"], 8080);
    (changed.metadata as Record<string, unknown>).annotations = {
      "endpoints.kubernetes.io/last-change-trigger-time": trigger,
    };
    server.upsert(changed);
    server.upsert({
      ...service("local", "10.0.0.81", 81),
      spec: {
        clusterIP: "10.0.0.81",
        ports: [{ name: "p", port: 81, protocol: "TCP" }],
        internalTrafficPolicy: "Local",
      },
    });
    await eventually(() => log.filter((l) => l.startsWith("sync:")).length >= 2, "a second sync");
    let text = await metrics();
    for (
      let i = 0;
      i < 50 && !/network_programming_duration_seconds_count\S* 1\b/.test(text);
      i++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      text = await metrics();
    }
    const count = /kubeproxy_network_programming_duration_seconds_count(\{[^}]*\})? (\d+)/.exec(
      text,
    );
    assert.equal(count?.[2], "1", text);
    const sum = Number(
      /kubeproxy_network_programming_duration_seconds_sum(\{[^}]*\})? (\S+)/.exec(text)?.[2],
    );
    assert.ok(sum >= 5 && sum < 60, `latency ${sum} s from a trigger 5 s ago`);
    assert.match(
      text,
      /kubeproxy_sync_proxy_rules_no_local_endpoints_total\{[^}]*traffic_policy="internal"[^}]*\} 1/,
    );
  } finally {
    controller.abort();
    await loop;
    await source.close();
    await server.close();
  }
});
